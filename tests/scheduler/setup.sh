#!/usr/bin/env bash
# Installs what the scheduler suites need (run by scripts/setup): the browser
# test's chromium and playwright-core (see browser/setup.sh), and the Python
# packages Airflow DAG files use in airflow_test (jinja2 for templates; requests
# and kafka-python for the classic pipeline's DAG), pinned in requirements.txt
# and installed with pip --target into ~/.cache/millrace/scheduler-pylibs (the
# test puts it on PYTHONPATH), so any python3 works, also an externally managed one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$repo/scripts/lib/setup.sh"
"$here/browser/setup.sh" >/dev/null

python=${PYTHON:-python3}
pylibs="${XDG_CACHE_HOME:-$HOME/.cache}/millrace/scheduler-pylibs"
want=$(sha256sum "$here/requirements.txt" | cut -c1-16)
if [[ "$(cat "$pylibs/.complete" 2>/dev/null)" != "$want" ]]; then
  echo "scheduler/setup: installing Python packages from tests/scheduler/requirements.txt into $pylibs"
  staging="$pylibs.tmp$$"
  rm -rf "$staging"
  run_quiet "$python" -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target "$staging" -r "$here/requirements.txt"
  rm -rf "$pylibs"
  mv "$staging" "$pylibs"
  echo "$want" > "$pylibs/.complete"
fi
