#!/usr/bin/env bash
# Installs what the scheduler suites need (run by scripts/setup): the browser
# test's chromium and playwright-core (see browser/setup.sh).
set -euo pipefail
"$(cd "$(dirname "$0")" && pwd)/browser/setup.sh" >/dev/null
