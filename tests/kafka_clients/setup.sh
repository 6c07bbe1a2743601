#!/usr/bin/env bash
# Installs what the real-client Kafka suites need (tests/kafka_clients/run.py):
# the Debian packages kcat and librdkafka-dev, the npm packages of the kafkajs
# suite, the Maven artifacts of the java suite (so it builds with `mvn -o`), the
# Apache Kafka jars of scripts/peers/kafka, and the pinned Python packages.
# Idempotent, and quiet when nothing is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$repo/scripts/lib/setup.sh"
say() { echo "kafka_clients/setup: $*"; }

# Debian packages -----------------------------------------------------------
# nodejs/npm/maven may come from elsewhere than Debian: only the command matters for them
packages=(kcat librdkafka-dev g++)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
command -v mvn >/dev/null || packages+=(maven)
ensure_debian_packages kafka_clients/setup "${packages[@]}"

# npm (kafkajs suite) -------------------------------------------------------
# node_modules is (re)installed when missing or older than the lock file.
node_dir="$here/node"
stamp="$node_dir/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$node_dir/package-lock.json" -nt "$stamp" ]]; then
  say "installing npm packages (npm ci) in tests/kafka_clients/node"
  (cd "$node_dir" && run_quiet npm ci --no-audit --no-fund)
fi

# Python (kcat suite's topic creation, restart suite, txn suite) ------------
# Installed with pip --target into a cache directory keyed by requirements.txt
# (suitelib.py puts it on sys.path), so it works with whichever python3 runs the
# suites, including an externally managed system Python.
python=${PYTHON:-python3}
pylibs=$("$python" -c "import sys; sys.path.insert(0, '$here'); import suitelib; print(suitelib.pylibs_dir())")
if [[ ! -f "$pylibs/.complete" ]]; then
  say "installing Python packages from tests/kafka_clients/requirements.txt into $pylibs"
  staging="$pylibs.tmp$$"
  rm -rf "$staging"
  run_quiet "$python" -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target "$staging" -r "$here/requirements.txt"
  rm -rf "$pylibs"
  mv "$staging" "$pylibs"
  touch "$pylibs/.complete"
fi

# Maven (java suite, and the Kafka peer's jars) -------------------------------
# A marker records the pom that was last fetched, so this runs once per pom change.
m2_marker_dir="${XDG_CACHE_HOME:-$HOME/.cache}/millrace"
mkdir -p "$m2_marker_dir"
pom_sum=$(sha256sum "$here/java/pom.xml" | cut -c1-16)
marker="$m2_marker_dir/java-suite-deps-$pom_sum"
if [[ ! -f "$marker" ]]; then
  say "fetching Maven dependencies of the java suite"
  # go-offline resolves the declared plugins and dependencies; the compile and
  # build-classpath run fetches what those plugins load at run time.
  run_quiet mvn -q -B -f "$here/java/pom.xml" dependency:go-offline
  run_quiet mvn -q -B -f "$here/java/pom.xml" compile dependency:build-classpath \
    -Dmdep.outputFile="$here/java/target/classpath.txt"
  touch "$marker"
fi

"$repo/scripts/peers/kafka" --fetch-only
