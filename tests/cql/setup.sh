#!/usr/bin/env bash
# Installs what the CQL suites need: the Debian packages librocksdb-dev, libjemalloc-dev,
# liblz4-dev and libsnappy-dev (the server links them), the npm packages of
# the Node.js suite (node/package-lock.json, npm ci into node/node_modules),
# the Go modules of the gocql suite (go mod download), the Maven artifacts of
# the Java driver suite (java/pom.xml), and the pinned Python packages of tests/cql/requirements.txt
# (cassandra-driver, lz4, cqlsh) with
# pip --target into a cache directory keyed by the file's hash, so it works
# with whichever python3 runs the suite, including Debian's externally managed
# one. Idempotent, and quiet when nothing is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
say() { echo "cql/setup: $*"; }
source "$here/../../scripts/lib/setup.sh"

packages=(librocksdb-dev liblz4-dev libsnappy-dev libjemalloc-dev python3-pip)
# nodejs/npm may come from elsewhere than Debian: only the command matters
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
ensure_debian_packages cql/setup "${packages[@]}"

# node_modules is (re)installed when missing or older than the lock file.
node_dir="$here/node"
stamp="$node_dir/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$node_dir/package-lock.json" -nt "$stamp" ]]; then
  say "installing npm packages (npm ci) in tests/cql/node"
  (cd "$node_dir" && run_quiet npm ci --no-audit --no-fund)
fi

# The Go suite's modules (gocql, pinned in gocql/go.mod and go.sum) into the Go module cache.
go_bin=$(command -v go || echo /usr/local/go/bin/go)
if [[ ! -x "$go_bin" ]]; then
  ensure_debian_packages cql/setup golang-go  # Debian 12's Go 1.19 is what go.mod asks for
  go_bin=$(command -v go || echo /usr/lib/go/bin/go)
fi
if [[ -x "$go_bin" ]]; then
  (cd "$here/gocql" && GOTOOLCHAIN=local run_quiet "$go_bin" mod download)
else
  say "go is not installed: the gocql suite (cql_client_go) will fail until it is"
fi

# The Java driver suite's Maven artifacts (java/pom.xml), once per pom change, so run.py builds it offline.
command -v mvn >/dev/null || ensure_debian_packages cql/setup maven
marker_dir="${XDG_CACHE_HOME:-$HOME/.cache}/millrace"
mkdir -p "$marker_dir"
marker="$marker_dir/cql-java-suite-deps-$(sha256sum "$here/java/pom.xml" | cut -c1-16)"
if [[ ! -f "$marker" ]]; then
  say "fetching Maven dependencies of the java driver suite"
  run_quiet mvn -q -B -f "$here/java/pom.xml" dependency:go-offline
  run_quiet mvn -q -B -f "$here/java/pom.xml" compile dependency:build-classpath -Dmdep.outputFile="$here/java/target/classpath.txt"
  touch "$marker"
fi

python=${PYTHON:-python3}
pylibs=$("$python" "$here/run.py" --pylibs-dir)
if [[ ! -f "$pylibs/.complete" ]]; then
  say "installing Python packages from tests/cql/requirements.txt into $pylibs"
  staging="$pylibs.tmp$$"
  rm -rf "$staging"
  run_quiet "$python" -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target "$staging" -r "$here/requirements.txt"
  rm -rf "$pylibs"
  mv "$staging" "$pylibs"
  touch "$pylibs/.complete"
fi
