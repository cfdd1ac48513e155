#!/usr/bin/env bash
# Proves the CUDA backend on a machine with an NVIDIA GPU, in one run:
#   1. build with CUDA (or take binaries made elsewhere: --prebuilt DIR, from
#      tools/device-bundle.sh, for GPU hosts without the Debian packages),
#   2. the unit suite with the cuda backend required (every kernel of the op
#      list against cpu-reference over ragged shapes),
#   3. the golden conformance on cuda in both numerics (tiny-a, its Hugging
#      Face layout), the CPU beside it,
#   4. ossrt bench --backend cuda on a synthetic gpt-oss-20b, both numerics
#      (not with --quick).
# Logs go to --logs DIR (default /tmp/ossrt-device-check); the last line is
# the summary. Each step's result is also appended to steps.txt there as it
# ends, and no step starts after --budget seconds (default 540: the device
# tool stops a command at 600, and a killed script prints no summary); a
# step runs under a timeout of what is left, and those not started read
# SKIP.
set -u
cd "$(dirname "$0")/.." || exit 1
root=$PWD
out=/tmp/ossrt-device-check
prebuilt="" layers=24 prompt=2048 ncu=0 quick=0 budget=540
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) prebuilt=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    --prompt-tokens) prompt=$2; shift 2 ;;
    --logs) out=$2; shift 2 ;;
    --ncu) ncu=1; shift ;;
    --quick) quick=1; shift ;;
    --budget) budget=$2; shift 2 ;;
    *)
      echo "usage: tools/device-check.sh [--prebuilt DIR] [--logs DIR] [--layers N] [--prompt-tokens N] [--quick]" \
        "[--budget SECONDS] [--ncu]" >&2
      exit 2
      ;;
  esac
done
mkdir -p "$out"
: >"$out/steps.txt"
deadline=$((SECONDS + budget))

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
    if [ -s "$out/build.log" ]; then tail -20 "$out/build.log"; else tail -20 "$out/configure.log"; fi
    echo "device-check: build FAILED (where the Debian packages are missing: --prebuilt, see tools/device-bundle.sh)"
    exit 1
  }
  bin=build-cuda/bin
fi

declare -A result
# run NAME COMMAND...: logs to $out/NAME.log, records PASS or FAIL (SKIP once
# the budget is spent); a command, not a shell function, runs under a timeout
# of the budget left.
run() {
  local name=$1
  shift
  local start=$SECONDS left=$((deadline - SECONDS))
  if [ "$left" -le 0 ]; then
    result[$name]=SKIP
  elif declare -F "$1" >/dev/null; then
    if "$@" >"$out/$name.log" 2>&1; then result[$name]=PASS; else result[$name]=FAIL; fi
  elif timeout "$left" "$@" >"$out/$name.log" 2>&1; then
    result[$name]=PASS
  else
    result[$name]=FAIL
  fi
  echo "$name=${result[$name]} ($((SECONDS - start)) s)" | tee -a "$out/steps.txt"
  [ "${result[$name]}" = SKIP ] || tail -3 "$out/$name.log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
run info "$bin/ossrt" info
cat "$out/info.log"
run unit env OSSRT_TEST_BACKENDS=cuda "$bin/ossrt-tests"
# Out-of-bounds and uninitialised device reads, where the machine allows the tool.
if command -v compute-sanitizer >/dev/null; then
  run memcheck-kernels timeout 150 env OSSRT_TEST_BACKENDS=cuda compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$bin/ossrt-tests" -tc='*every backend*'
  run memcheck-golden timeout 60 compute-sanitizer --tool memcheck --error-exitcode 1 \
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

# A Q8_0 GGUF of tiny-a: the greedy tokens on cuda equal cpu-reference's.
gguf=$(dirname "$hf")/tiny-a-q8_0.gguf
gguf_written=0
"$bin/ossrt-write-gguf" tests/data/tiny-a "$gguf" --dense q8_0 --tokens >"$out/write-tiny-gguf.log" 2>&1 && gguf_written=1
# same_greedy NUMERICS: cuda's tokens against the reference's; both must be
# token lists (a load error printed by both is no match).
same_greedy() {
  local want got
  [ "$gguf_written" = 1 ] || {
    echo "writing the GGUF failed: $out/write-tiny-gguf.log"
    return 1
  }
  want=$("$bin/ossrt" generate --model "$gguf" --backend cpu-reference --numerics "$1" --tokens 714,1108,958,985,112 \
    --max-tokens 24 2>>"$out/same-greedy.err" | head -1)
  got=$("$bin/ossrt" generate --model "$gguf" --backend cuda --numerics "$1" --tokens 714,1108,958,985,112 \
    --max-tokens 24 2>>"$out/same-greedy.err" | head -1)
  echo "cpu-reference: $want"
  echo "cuda:          $got"
  [[ $want =~ ^[0-9]+(,[0-9]+)*$ ]] && [ "$want" = "$got" ]
}
for mode in exact fast; do run "gguf-q8_0-cuda-$mode" same_greedy "$mode"; done

bench_summary=""
[ "$quick" = 1 ] || for numerics in exact fast; do
  run "bench-$numerics" "$bin/ossrt" bench --synthetic gpt-oss-20b --layers "$layers" --backend cuda \
    --numerics "$numerics" --prompt-tokens "$prompt" --chunk "$prompt" --decode-tokens 128 --depth 8192 \
    --bandwidth-mib 4096 --cache /tmp/ossrt-synthetic --sessions 8 --json
  line=$(grep '^{' "$out/bench-$numerics.log" | tail -1)
  if [ -n "$line" ]; then
    bench_summary+=$(python3 - "$numerics" "$line" <<'PY'
import json, sys
r = json.loads(sys.argv[2])
print(f" | {sys.argv[1]}: decode {r['decode_tok_s']:.1f} tok/s ({r['roofline_pct']:.0f}% of {r['roofline_tok_s']:.0f}),"
      f" depth {r['depth']} {r['decode_depth_tok_s']:.1f}, prefill {r['prefill_tok_s']:.0f} tok/s,"
      f" {r['sessions']} sessions {r['aggregate_decode_tok_s']:.1f} tok/s")
PY
)
  fi
done

# Where decode's time goes, per kernel (each kernel synchronized: slower than a real step).
[ "$quick" = 1 ] || run profile-fast "$bin/ossrt" bench --synthetic gpt-oss-20b --layers "$layers" --backend cuda --numerics fast \
  --prompt-tokens 512 --decode-tokens 32 --depth 0 --cache /tmp/ossrt-synthetic --profile

# The same synthetic model as a Q8_0 GGUF (dense weights Q8_0, experts MXFP4).
synthetic=$(ls -d /tmp/ossrt-synthetic/gpt-oss-20b-"$layers"l-seed1 2>/dev/null | head -1)
if [ "$quick" = 0 ] && [ -n "$synthetic" ] && [ $((deadline - SECONDS)) -gt 0 ]; then
  "$bin/ossrt-write-gguf" "$synthetic" /tmp/ossrt-synthetic/q8_0.gguf --dense q8_0 >"$out/write-gguf.log" 2>&1
  run bench-q8_0-fast "$bin/ossrt" bench --model /tmp/ossrt-synthetic/q8_0.gguf --backend cuda --numerics fast \
    --prompt-tokens "$prompt" --chunk "$prompt" --decode-tokens 128 --depth 0 --bandwidth-mib 4096 --sessions 8 --json
  line=$(grep '^{' "$out/bench-q8_0-fast.log" | tail -1)
  [ -n "$line" ] && bench_summary+=$(python3 - "$line" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f" | q8_0 fast: decode {r['decode_tok_s']:.1f} tok/s ({r['roofline_pct']:.0f}% of {r['roofline_tok_s']:.0f}),"
      f" prefill {r['prefill_tok_s']:.0f} tok/s, {r['sessions']} sessions {r['aggregate_decode_tok_s']:.1f} tok/s")
PY
)
  rm -f /tmp/ossrt-synthetic/q8_0.gguf
fi

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
for name in unit memcheck-kernels memcheck-golden golden-cuda-exact golden-cuda-fast golden-cuda-hf golden-cpu-exact golden-cpu-fast \
  gguf-q8_0-cuda-exact gguf-q8_0-cuda-fast bench-exact bench-fast profile-fast bench-q8_0-fast; do
  summary+=" $name=${result[$name]:-SKIP}"
done
echo "$summary$bench_summary" | tee "$out/summary.txt"
