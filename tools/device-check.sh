#!/usr/bin/env bash
# Proves the CUDA backend on a machine with an NVIDIA GPU, in one run:
#   1. build with CUDA (or take binaries made elsewhere: --prebuilt DIR, from
#      tools/device-bundle.sh, for GPU hosts without the Debian packages),
#   2. the unit suite with the cuda backend required (every kernel of the op
#      list against cpu-reference over ragged shapes),
#   3. the golden conformance on cuda in both numerics (tiny-a, its Hugging
#      Face layout), the CPU beside it,
#   4. ossrt bench --backend cuda on a synthetic gpt-oss-20b, both numerics.
# Logs go to --logs DIR (default /tmp/ossrt-device-check); the last line is
# the summary.
set -u
cd "$(dirname "$0")/.."
root=$PWD
out=/tmp/ossrt-device-check
prebuilt="" layers=24 prompt=2048 ncu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) prebuilt=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    --prompt-tokens) prompt=$2; shift 2 ;;
    --logs) out=$2; shift 2 ;;
    --ncu) ncu=1; shift ;;
    *) echo "usage: tools/device-check.sh [--prebuilt DIR] [--logs DIR] [--layers N] [--prompt-tokens N] [--ncu]" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"

if [ -n "$prebuilt" ]; then
  bin=$prebuilt/bin
  export LD_LIBRARY_PATH=$prebuilt/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # The test binaries name their data by the source path they were built in.
  source_dir=$(cat "$prebuilt/source_dir")
  if [ "$source_dir" != "$root" ] && [ ! -e "$source_dir" ]; then
    mkdir -p "$(dirname "$source_dir")" && ln -s "$root" "$source_dir"
  fi
else
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DOSSRT_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${CMAKE_CUDA_ARCHITECTURES:-native}" >"$out/configure.log" 2>&1 &&
    cmake --build build-cuda --parallel "$(nproc)" >"$out/build.log" 2>&1 || {
    tail -20 "$out/build.log"
    echo "device-check: build FAILED"
    exit 1
  }
  bin=build-cuda/bin
fi

declare -A result
run() {  # run NAME COMMAND...: logs to $out/NAME.log, records PASS/FAIL
  local name=$1
  shift
  local start=$SECONDS
  if "$@" >"$out/$name.log" 2>&1; then result[$name]=PASS; else result[$name]=FAIL; fi
  echo "== $name: ${result[$name]} ($((SECONDS - start)) s)"
  tail -3 "$out/$name.log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
run info "$bin/ossrt" info
cat "$out/info.log"
run unit env OSSRT_TEST_BACKENDS=cuda "$bin/ossrt-tests"
# Out-of-bounds and uninitialised device reads, where the machine allows the tool.
if command -v compute-sanitizer >/dev/null; then
  run memcheck-kernels env OSSRT_TEST_BACKENDS=cuda compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$bin/ossrt-tests" -tc='*every backend*'
  run memcheck-golden compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$bin/ossrt-conformance" golden --model tests/data/tiny-a --backend cuda
fi
hf=$(mktemp -d)/tiny-a-hf
"$bin/ossrt-write-hf-layout" tests/data/tiny-a "$hf" 3 >/dev/null 2>&1
for backend in cuda cpu; do
  for mode in exact fast; do
    run "golden-$backend-$mode" "$bin/ossrt-conformance" golden --model tests/data/tiny-a --mode "$mode" --backend "$backend"
  done
done
run golden-cuda-hf "$bin/ossrt-conformance" golden --model "$hf" --golden tests/data/tiny-a/golden.json --backend cuda

bench_summary=""
for numerics in exact fast; do
  run "bench-$numerics" "$bin/ossrt" bench --synthetic gpt-oss-20b --layers "$layers" --backend cuda \
    --numerics "$numerics" --prompt-tokens "$prompt" --chunk "$prompt" --decode-tokens 128 --depth 8192 \
    --bandwidth-mib 4096 --cache /tmp/ossrt-synthetic --json
  line=$(grep '^{' "$out/bench-$numerics.log" | tail -1)
  if [ -n "$line" ]; then
    bench_summary+=$(python3 - "$numerics" "$line" <<'PY'
import json, sys
r = json.loads(sys.argv[2])
print(f" | {sys.argv[1]}: decode {r['decode_tok_s']:.1f} tok/s ({r['roofline_pct']:.0f}% of {r['roofline_tok_s']:.0f}),"
      f" depth {r['depth']} {r['decode_depth_tok_s']:.1f}, prefill {r['prefill_tok_s']:.0f} tok/s")
PY
)
  fi
done

# Where decode's time goes, per kernel (each kernel synchronized: slower than a real step).
run profile-fast "$bin/ossrt" bench --synthetic gpt-oss-20b --layers "$layers" --backend cuda --numerics fast \
  --prompt-tokens 512 --decode-tokens 32 --depth 0 --cache /tmp/ossrt-synthetic --profile

# --ncu: each kernel's GPU time in a short generation (prefill of 3 tokens,
# then recorded decode steps), without launch gaps or host time.
if [ "$ncu" = 1 ] && command -v ncu >/dev/null; then
  model=$(ls -d /tmp/ossrt-synthetic/*/ | head -1)
  for numerics in exact fast; do
    run "ncu-$numerics" ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
      --launch-count 1200 "$bin/ossrt" generate --model "$model" --backend cuda --numerics "$numerics" \
      --tokens 1,2,3 --max-tokens 4
  done
fi

summary="device-check:"
for name in unit memcheck-kernels memcheck-golden golden-cuda-exact golden-cuda-fast golden-cuda-hf golden-cpu-exact golden-cpu-fast bench-exact bench-fast; do
  summary+=" $name=${result[$name]:-SKIP}"
done
echo "$summary$bench_summary" | tee "$out/summary.txt"
