#!/usr/bin/env bash
# Sets up a Debian machine for ossrt, builds it, and runs the main job or the tests.
#
#   bash cmake/bootstrap.sh run [MODEL_DIR] [-- extra ossrt generate flags]
#       greedy generation on MODEL_DIR (default: the bundled tiny model)
#   bash cmake/bootstrap.sh test
#       the whole suite: release build + ctest, then an ASan/UBSan build + ctest
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# libdnnl-dev's CMake config requires OpenCL (Debian builds oneDNN with its OpenCL GPU runtime).
packages=(g++ cmake ninja-build pkgconf libeigen3-dev libdnnl-dev ocl-icd-opencl-dev libsimdjson-dev doctest-dev)

install_missing_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

# build DIR [cmake args...]
build() {
  local dir="$1"
  shift
  cmake -S . -B "$dir" -G Ninja -DOSSRT_WARNINGS_AS_ERRORS=ON "$@" >/dev/null
  cmake --build "$dir" --parallel "$(nproc)"
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  run)
    install_missing_packages
    build build -DCMAKE_BUILD_TYPE=Release
    model="tests/data/tiny-a"
    if [ $# -gt 0 ] && [ "$1" != "--" ]; then model="$1"; shift; fi
    [ "${1:-}" = "--" ] && shift
    echo "bootstrap: ossrt generate --model $model"
    exec build/bin/ossrt generate --model "$model" --tokens 714,1108,958,985,112 --max-tokens 24 "$@"
    ;;
  test)
    install_missing_packages
    build build -DCMAKE_BUILD_TYPE=Release
    (cd build && ctest --output-on-failure)
    # Bad-input handling must also hold under AddressSanitizer + UndefinedBehaviorSanitizer.
    build build-sanitize -DCMAKE_BUILD_TYPE=Debug -DOSSRT_SANITIZE=address,undefined
    (cd build-sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --output-on-failure)
    ;;
  *)
    echo "usage: bash cmake/bootstrap.sh run [MODEL_DIR] | test" >&2
    exit 2
    ;;
esac
