#!/usr/bin/env bash
# Sets up a Debian machine for ossrt, builds it, and runs the main job or the tests.
#
#   bash cmake/bootstrap.sh run [MODEL_DIR] [-- extra ossrt chat flags]
#       an interactive harmony chat with MODEL_DIR, or a scripted two-turn chat
#       on a tiny random model (plus exact greedy generation on the bundled one)
#   bash cmake/bootstrap.sh test
#       the whole suite: release build + ctest, an ASan/UBSan build (clang)
#       + ctest with every libFuzzer target for 15 s from its seed corpus,
#       and the multi-threaded C ABI test under ThreadSanitizer
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# libdnnl-dev's CMake config requires OpenCL (Debian builds oneDNN with its OpenCL GPU runtime).
# python3-venv: the Python binding's packaging test pip-installs it into a fresh virtual environment.
# libcpp-httplib-dev: ossrt serve's HTTP server.
packages=(g++ cmake ninja-build pkgconf libeigen3-dev libdnnl-dev ocl-icd-opencl-dev libsimdjson-dev doctest-dev libsimde-dev
  python3-venv libcpp-httplib-dev)
# The fuzzers (test only): clang with libFuzzer and its OpenMP runtime.
fuzz_packages=(clang libclang-rt-dev libomp-dev)

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
# CI's stages report their end times, so the one that pushes CI past its
# 30 minutes can be found from any log.
stage_done() {
  echo "bootstrap: $1 done at ${SECONDS} s"
}

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
    if [ $# -gt 0 ] && [ "$1" != "--" ]; then
      model="$1"
      shift
      [ "${1:-}" = "--" ] && shift
      echo "bootstrap: ossrt chat --model $model $*"
      exec build/bin/ossrt chat --model "$model" "$@"
    fi
    [ "${1:-}" = "--" ] && shift
    # No model given: a tiny random model with the real vocabulary shows the whole
    # path (load, harmony render, prefix reuse, sampling, parsing). Its weights
    # are random, so its words are too: real answers need the real checkpoint.
    model="build/tiny-chat"
    [ -f "$model/model.safetensors" ] || build/bin/ossrt make-checkpoint --preset tiny-chat --seed 2026 --out "$model"
    echo "bootstrap: ossrt chat --model $model (random weights: the text is noise; pass a gpt-oss checkpoint for real answers)"
    printf '%s\n' "What is the capital of France?" "And of Italy?" |
      build/bin/ossrt chat --model "$model" --max-tokens 32 --show-reasoning --stats "$@"
    echo "bootstrap: greedy tokens of the bundled reference model tiny-a (the official reference gives 35,515,341,570,...):"
    exec build/bin/ossrt generate --model tests/data/tiny-a --tokens 714,1108,958,985,112 --max-tokens 8
    ;;
  test)
    packages+=("${fuzz_packages[@]}")
    install_missing_packages
    # ctest runs tests side by side (-j): OpenMP workers that spin while they
    # wait would take the cores from the other test's threads (the sanitizer
    # stage's unit shards ran 2-3.5x slower so); waiting threads sleep instead.
    export OMP_WAIT_POLICY=passive
    # Where nvcc exists the CUDA backend is compiled (warnings as errors) so it
    # cannot rot; one architecture (Hopper) keeps CI's time in bounds.
    build build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90
    stage_done "release build"
    (cd build && ctest --output-on-failure -j"$(nproc)")
    stage_done "release tests"
    # Bad-input handling must also hold under AddressSanitizer + UndefinedBehaviorSanitizer,
    # and every parser and the C ABI's option structs are fuzzed (libFuzzer, a
    # short fixed budget each from the seed corpus): one clang build serves both
    # (clang compiles it in half GCC's time, and a second build for the fuzzers
    # took 5 minutes). GCC builds it where clang cannot link libFuzzer (a
    # machine without the fuzz packages), the fuzzers then skipped.
    # Host sanitizers do not instrument device code: those builds leave CUDA out.
    # -O1, as ASan advises: the suite runs about twice as fast as at -O0
    # (except SIMDe's AVX-512 emulation: tests/CMakeLists.txt); -g1's line
    # tables are all a sanitizer's report needs. No test runs the benchmark
    # programs, so this build leaves them out.
    sanitize_options=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-g1 -O1" "-DCMAKE_CXX_FLAGS_DEBUG=-g1 -O1"
      "-DOSSRT_SANITIZE=address,undefined" -DOSSRT_CUDA=OFF -DOSSRT_BENCHMARKS=OFF)
    if echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
      clang++ -x c++ -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
      CC=clang CXX=clang++ build build-sanitize "${sanitize_options[@]}" -DOSSRT_FUZZ=ON -DOSSRT_FUZZ_SECONDS=15
    else
      echo "bootstrap: clang with libFuzzer not found: fuzzers skipped"
      build build-sanitize "${sanitize_options[@]}"
    fi
    stage_done "sanitizer build"
    (cd build-sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      LSAN_OPTIONS="suppressions=$root/tests/lsan-suppressions.txt" ctest --output-on-failure -j"$(nproc)" -LE release_only)
    stage_done "sanitizer tests and fuzzers"
    # Sessions on one model from 8 threads, cancels racing turns: under ThreadSanitizer.
    cmake -S . -B build-tsan -G Ninja -DOSSRT_WARNINGS_AS_ERRORS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" -DOSSRT_SANITIZE=thread -DOSSRT_CUDA=OFF >/dev/null
    cmake --build build-tsan --parallel "$(nproc)" --target ossrt-c-threads-test ossrt-cli
    (cd build-tsan && ctest --output-on-failure -R '^(fixture\.tiny-chat|capi\.threads)$')
    stage_done "thread sanitizer build and tests"
    ;;
  *)
    echo "usage: bash cmake/bootstrap.sh run [MODEL_DIR] | test" >&2
    exit 2
    ;;
esac
