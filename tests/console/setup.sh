#!/usr/bin/env bash
# Installs what the console's API and browser suites need: Debian's chromium
# and kcat, and playwright-core (pinned in browser/package-lock.json, npm ci
# into tests/console/browser/node_modules). Idempotent and quiet when nothing
# is missing; offline-safe once installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$repo/scripts/lib/setup.sh"
packages=(chromium kcat)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
ensure_debian_packages console/setup "${packages[@]}"
stamp="$here/browser/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$here/browser/package-lock.json" -nt "$stamp" ]]; then
  echo "console/setup: installing playwright-core (npm ci in tests/console/browser)"
  (cd "$here/browser" && run_quiet npm ci --no-audit --no-fund)
fi
