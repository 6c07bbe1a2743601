#!/usr/bin/env bash
# Installs what the CQL suites need: the Debian packages librocksdb-dev,
# liblz4-dev and libsnappy-dev (the server links them), and the pinned Python
# packages of tests/cql/requirements.txt (cassandra-driver, lz4) with
# pip --target into a cache directory keyed by the file's hash, so it works
# with whichever python3 runs the suite, including Debian's externally managed
# one. Idempotent, and quiet when nothing is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
say() { echo "cql/setup: $*"; }
run_quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    echo "$out" >&2
    say "failed: $*" >&2
    return 1
  fi
}

missing=()
for pkg in librocksdb-dev liblz4-dev libsnappy-dev python3-pip; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { say "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
