#!/usr/bin/env bash
# Installs what the scheduler's browser test needs: Debian's chromium and the
# pinned playwright-core (npm ci into ~/.cache/millrace/scheduler-browser-<lock hash>).
# Idempotent, offline-safe once cached; prints the module directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
source "$repo/scripts/lib/setup.sh"
packages=(chromium)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
ensure_debian_packages scheduler-browser/setup "${packages[@]}" >&2
sum=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-12)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/millrace/scheduler-browser-$sum"
if [[ ! -f "$dir/.complete" ]]; then
  echo "scheduler-browser/setup: installing playwright-core into $dir" >&2
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  cp "$here/package.json" "$here/package-lock.json" "$dir.tmp/"
  (cd "$dir.tmp" && run_quiet npm ci --no-audit --no-fund >&2)
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  touch "$dir/.complete"
fi
echo "$dir"
