# shellcheck shell=bash
# scripts/lib/setup.sh: the steps scripts/test and scripts/demo share, sourced by both.
# Finds the repository, installs the Debian packages that are missing (apt-get, as root),
# configures the CMake/Ninja build and builds it. Defines functions only; sourcing it runs
# nothing except setting CGOSAN_ROOT and CGOSAN_BUILD_DIR.
#
# Environment:
#   CGOSAN_BUILD_DIR  build directory (default: <repo>/build)
#   CGOSAN_JOBS       parallel build and test jobs (default: the number of cores)

CGOSAN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
CGOSAN_BUILD_DIR="${CGOSAN_BUILD_DIR:-$CGOSAN_ROOT/build}"
case "$CGOSAN_BUILD_DIR" in
  /*) ;;
  *) CGOSAN_BUILD_DIR="$PWD/$CGOSAN_BUILD_DIR" ;;
esac
export CGOSAN_BUILD_DIR
CGOSAN_JOBS="${CGOSAN_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# Debian packages the build and the tests need.
CGOSAN_PACKAGES=(
  cmake ninja-build g++ golang-go libunwind-dev libabsl-dev libgtest-dev googletest
  nlohmann-json3-dev python3 binutils file libc6-dev clang libclang-rt-14-dev
  python3-jsonschema python3-markdown
)

cgosan_log() { printf '==> %s\n' "$*" >&2; }
cgosan_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Prints the packages of CGOSAN_PACKAGES that are not installed.
cgosan_missing_packages() {
  local pkg
  for pkg in "${CGOSAN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      echo "$pkg"
    fi
  done
}

# Commands the build needs, checked where there is no dpkg (not Debian).
cgosan_missing_commands() {
  local cmd
  for cmd in cmake ninja g++ go python3 nm readelf file; do
    command -v "$cmd" >/dev/null 2>&1 || echo "$cmd"
  done
}

# Installs whatever is missing; does nothing (no apt-get at all) when nothing is.
cgosan_ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    local cmds
    cmds="$(cgosan_missing_commands | tr '\n' ' ')"
    [[ -z "$cmds" ]] || cgosan_die "not a Debian system and these commands are missing: $cmds"
    return 0
  fi
  local missing
  missing="$(cgosan_missing_packages | tr '\n' ' ')"
  missing="${missing% }"
  [[ -n "$missing" ]] || return 0
  if [[ "$(id -u)" -ne 0 ]]; then
    cgosan_die "missing Debian packages: $missing (run as root: apt-get install -y $missing)"
  fi
  cgosan_log "installing: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update </dev/null
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y --no-install-recommends $missing </dev/null
}

# Configures the build directory (CMake + Ninja) unless it already is.
cgosan_configure() {
  if [[ -f "$CGOSAN_BUILD_DIR/build.ninja" && -f "$CGOSAN_BUILD_DIR/CMakeCache.txt" ]]; then
    return 0
  fi
  cgosan_log "configuring $CGOSAN_BUILD_DIR"
  cmake -S "$CGOSAN_ROOT" -B "$CGOSAN_BUILD_DIR" -G Ninja
}

# Builds the given targets (all when none are given). Ninja re-runs CMake when needed.
cgosan_build() {
  local targets=()
  local t
  for t in "$@"; do targets+=(--target "$t"); done
  cgosan_log "building${*:+ $*} in $CGOSAN_BUILD_DIR"
  cmake --build "$CGOSAN_BUILD_DIR" -j "$CGOSAN_JOBS" "${targets[@]}"
}

# Environment for building Go programs: local toolchain only, nothing downloaded, the
# build cache inside the build directory.
cgosan_go_env() {
  export GOCACHE="${GOCACHE:-$CGOSAN_BUILD_DIR/.gocache}"
  export GOPATH="${GOPATH:-$CGOSAN_BUILD_DIR/.gopath}"
  export GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=1
}

# The whole preparation: packages, configure, build.
cgosan_setup() {
  cgosan_ensure_packages
  cgosan_configure
  cgosan_build "$@"
}
