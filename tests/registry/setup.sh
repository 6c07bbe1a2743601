#!/usr/bin/env bash
# Installs the real clients of the registry suites into ~/.cache/millrace/registry:
# Python confluent-kafka (SchemaRegistryClient, AvroSerializer/AvroDeserializer) with
# fastavro, and the npm package @kafkajs/confluent-schema-registry. Keyed by the
# content of requirements.txt and node/package.json; offline-safe once cached.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$repo/scripts/lib/setup.sh"
say() { echo "registry/setup: $*"; }

packages=(librdkafka-dev)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
ensure_debian_packages registry/setup "${packages[@]}"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/millrace/registry"
mkdir -p "$cache"

python=${PYTHON:-python3}
py_key=$(sha256sum "$here/requirements.txt" | cut -c1-12)
pylibs="$cache/pylibs-$py_key"
if [[ ! -f "$pylibs/.complete" ]]; then
  say "installing Python packages from tests/registry/requirements.txt into $pylibs"
  staging="$pylibs.tmp$$"
  rm -rf "$staging"
  run_quiet "$python" -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target "$staging" -r "$here/requirements.txt"
  rm -rf "$pylibs"
  mv "$staging" "$pylibs"
  touch "$pylibs/.complete"
fi

node_key=$(sha256sum "$here/node/package.json" | cut -c1-12)
node_dir="$cache/node-$node_key"
if [[ ! -f "$node_dir/.complete" ]]; then
  say "installing npm packages of tests/registry/node into $node_dir"
  staging="$node_dir.tmp$$"
  rm -rf "$staging"
  mkdir -p "$staging"
  cp "$here/node/package.json" "$staging/"
  (cd "$staging" && run_quiet npm install --no-audit --no-fund --omit=dev)
  rm -rf "$node_dir"
  mv "$staging" "$node_dir"
  touch "$node_dir/.complete"
fi
