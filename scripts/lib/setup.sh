# Shell helpers shared by scripts/setup and the test suites' setup.sh files.
# Source it; it defines functions only.

# ensure_debian_packages TAG PKG...: installs the packages that are not
# installed yet (apt-get, as root or through sudo); silent when none is missing.
ensure_debian_packages() {
  local tag=$1
  shift
  local missing=() pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  echo "$tag: installing Debian packages: ${missing[*]}"
  local sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "$tag: need root or sudo to install: ${missing[*]}" >&2; return 1; }
    sudo_cmd=(sudo)
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# run_quiet CMD...: runs a command silently, showing its output only when it fails.
run_quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    echo "$out" >&2
    echo "failed: $*" >&2
    return 1
  fi
}
