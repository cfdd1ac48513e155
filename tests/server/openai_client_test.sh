#!/usr/bin/env bash
# Drives `ossrt serve` with the official `openai` npm client (installed once
# into WORK/node_modules): chat and responses, streamed and not, a tool-call
# round trip and structured output (response_format, text.format, strict tools)
# on the scripted weather model, bad inputs, concurrent clients and
# clients that leave (mid-stream, during a prefill, non-streamed). Exits 77 (ctest: skipped) only when node,
# npm or the registry is not available.
# usage: openai_client_test.sh OSSRT_EXE TINY_CHAT_DIR WEATHER_MODEL_DIR WORK
set -euo pipefail
exe=$1 tiny=$2 weather=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm not found: skipped"; exit 77; }
mkdir -p "$work"
if [ ! -d "$work/node_modules/openai" ]; then
  (cd "$work" && npm install --silent --no-audit --no-fund --no-save openai@5 >/dev/null 2>&1) ||
    { echo "npm install openai failed: skipped"; exit 77; }
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# start NAME ARGS...: runs ossrt serve on a free port; sets $port.
start() {
  local name=$1
  shift
  "$exe" serve --port 0 "$@" 2>"$work/$name.log" &
  pids+=($!)
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$work/$name.log")
    [ -n "$port" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "ossrt serve ($name) did not start:"
  cat "$work/$name.log"
  exit 1
}

start tiny --model "$tiny" --max-sessions 4 --context 512 --threads 1
tiny_url="http://127.0.0.1:$port/v1"
start weather --model "$weather" --max-sessions 2 --context 1024 --threads 1
weather_url="http://127.0.0.1:$port/v1"
# One session, one token a step: a prompt of hundreds of tokens prefills over
# hundreds of steps, so a client can leave while it does.
start prefill --model "$tiny" --max-sessions 1 --max-step-tokens 1 --context 512 --threads 1
prefill_url="http://127.0.0.1:$port/v1"

node "$here/openai_client_test.mjs" "$work/node_modules" "$tiny_url" "$weather_url" "$prefill_url"
# The servers are still up after everything (the disconnects included).
for url in "$tiny_url" "$weather_url" "$prefill_url"; do
  node -e "fetch('${url%/v1}/health').then(r => r.json()).then(j => process.exit(j.status === 'ok' ? 0 : 1))"
done
echo "openai client test: ok"
