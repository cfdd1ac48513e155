#!/usr/bin/env bash
# The ossrt binary as a user runs it: exit codes, what goes to stdout and
# stderr, chat commands fed through stdin. One case per ctest entry:
#   cli_test.sh CASE OSSRT TINY_A TINY_CHAT WORK_DIR
# Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 generate's
# context filled first.
set -u
case_name=$1 ossrt=$2 tiny_a=$3 tiny_chat=$4 work=$5
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

failures=0
fail() {
  echo "FAIL [$label]: $*" >&2
  failures=$((failures + 1))
}
# Runs ossrt with stdin from $input (a file; none by default): out.txt, err.txt, $rc.
run() {
  label="ossrt $*"
  "$ossrt" "$@" <"${input:-/dev/null}" >out.txt 2>err.txt
  rc=$?
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "exit $rc, expected $1; stderr: $(head -c 400 err.txt)"; }
expect_in() { grep -qF -- "$2" "$1" || fail "$1 lacks '$2'"; }
expect_not_in() { ! grep -qF -- "$2" "$1" || fail "$1 has '$2'"; }
expect_empty() { [ ! -s "$1" ] || fail "$1 is not empty: $(head -c 200 "$1")"; }
# The numbers N of "context: N / TOTAL tokens" lines, in order.
token_counts() { sed -n 's/^context: \([0-9]*\) \/ [0-9]* tokens$/\1/p' out.txt; }
# Chat turns' stats lines.
stats_lines() { grep '^\[[a-z_]*; prompt' err.txt; }

# A usage error: exit 2, the message and the command's usage on stderr, nothing on stdout.
expect_usage_error() {
  local message=$1 command=$2
  shift 2
  run "$command" "$@"
  expect_rc 2
  expect_in err.txt "ossrt $command: $message"
  expect_in err.txt "usage: ossrt $command"
  expect_empty out.txt
}

case $case_name in
  flags)
    # A typo in every subcommand (the --max-tokns one used to run until the context was full).
    expect_usage_error "--max-tokns: unknown flag; did you mean --max-tokens?" generate --model "$tiny_a" --tokens 1 --max-tokns 5
    expect_usage_error "--modle: unknown flag; did you mean --model?" chat --modle "$tiny_chat"
    expect_usage_error "--specal: unknown flag; did you mean --special?" tokenize --specal all x
    expect_usage_error "--ids: unknown flag" detokenize --ids 1,2
    expect_usage_error "--mdel: unknown flag; did you mean --model?" info --mdel "$tiny_a"
    expect_usage_error "--layer: unknown flag; did you mean --layers?" make-checkpoint --preset small --out m --layer 2
    expect_usage_error "--decode-token: unknown flag; did you mean --decode-tokens?" bench --synthetic small --decode-token 4
    # Malformed values.
    expect_usage_error "--max-tokens: '-5' is not a non-negative integer" generate --model "$tiny_a" --tokens 1 --max-tokens -5
    expect_usage_error "--max-tokens: '5x' is not a non-negative integer" generate --model "$tiny_a" --tokens 1 --max-tokens 5x
    expect_usage_error "--max-tokens: '99999999999999999999999' is too large" generate --model "$tiny_a" --tokens 1 --max-tokens 99999999999999999999999
    expect_usage_error "--temperature: 'nan' is not a finite number" generate --model "$tiny_a" --tokens 1 --temperature nan
    expect_usage_error "sampler: temperature -1" generate --model "$tiny_a" --tokens 1 --temperature -1
    expect_usage_error "--context: '1.5' is not a non-negative integer" chat --model "$tiny_chat" --context 1.5
    expect_usage_error "--threads: '-1' is not a non-negative integer" bench --synthetic small --threads -1
    expect_usage_error "--layers: '0' is not a positive integer" make-checkpoint --preset small --out m --layers 0
    expect_usage_error "--tokens: '1,,2' is not a comma-separated list of token ids" generate --model "$tiny_a" --tokens 1,,2
    expect_usage_error "--effort: 'hihg' is not one of low, medium, high; did you mean high?" chat --model "$tiny_chat" --effort hihg
    # Missing, repeated, exclusive, stray.
    expect_usage_error "--model needs a value (PATH)" generate --model
    expect_usage_error "--seed is given twice" generate --model "$tiny_a" --tokens 1 --seed 1 --seed 2
    expect_usage_error "one of --tokens, --prompt is required" generate --model "$tiny_a"
    expect_usage_error "unexpected argument 'extra'" info --model "$tiny_a" extra
    expect_usage_error "unknown synthetic preset 'nope'" make-checkpoint --preset nope --out m
    expect_usage_error "--layers, --seed and --cache apply to --synthetic only" bench --model "$tiny_a" --layers 2
    [ ! -e m ] || fail "a refused make-checkpoint wrote m"
    run chta
    expect_rc 2
    expect_in err.txt "ossrt: unknown command 'chta'; did you mean chat?"
    # Operands: standard input, and one that looks like a flag after --.
    printf 'Hello, world!' >in.txt
    input=in.txt run tokenize -
    expect_rc 0
    expect_in out.txt "13225,11,2375,0"
    run tokenize -- --special
    expect_rc 0
    expect_in out.txt "375,32718"
    run detokenize 13225,11,2375,0
    expect_rc 0
    expect_in out.txt "Hello, world!"
    ;;

  help)
    run --help
    expect_rc 0
    expect_in out.txt "usage: ossrt COMMAND"
    expect_empty err.txt
    commands=$(sed -n 's/^  ossrt \([a-z-]*\) .*/\1/p' out.txt | tr '\n' ' ')
    [ "$commands" = "chat generate tokenize detokenize info estimate make-checkpoint bench serve " ] ||
      fail "ossrt --help lists '$commands'"
    for command in $commands; do
      for flag in --help -h; do
        run "$command" "$flag"
        expect_rc 0
        head -n 1 out.txt | grep -q "^usage: ossrt $command" || fail "stdout starts '$(head -n 1 out.txt)'"
        expect_in out.txt "-h, --help"
        expect_empty err.txt
      done
    done
    # --help wins over a bad flag next to it.
    run bench --no-such-flag --help
    expect_rc 0
    expect_in out.txt "--decode-tokens N"
    run
    expect_rc 2
    expect_in err.txt "usage: ossrt COMMAND"
    run --version
    expect_rc 0
    expect_in out.txt "ossrt "
    ;;

  chat-commands)
    printf '%s\n' "Hello" /tokens /bogus /tokens "/effort high" "/system Answer briefly." "/save effort.json" /help \
      /tokens "Again" /tokens /reset /tokens "/effort extreme" "/tokens now" \
      "//slash is text" "/save after.json" /quit "Never sent" >in.txt
    input=in.txt run chat --model "$tiny_chat" --max-tokens 4 --seed 3 --stats
    expect_rc 1  # the unknown command and the bad arguments
    expect_in err.txt "ossrt chat: unknown command /bogus (/help lists the commands)"
    expect_in err.txt "ossrt chat: usage: /effort low|medium|high"
    expect_in err.txt "ossrt chat: /tokens takes no argument"
    expect_not_in err.txt "> Never sent"
    expect_not_in err.txt "unknown command /slash"
    expect_in after.json '"text":"/slash is text"'
    [ "$(stats_lines | wc -l)" -eq 3 ] || fail "turns run: $(stats_lines)"  # Hello, Again, /slash is text
    mapfile -t counts < <(token_counts)
    [ "${#counts[@]}" -eq 5 ] || fail "/tokens printed ${#counts[*]} counts"
    [ "${counts[0]}" -gt 0 ] && [ "${counts[0]}" = "${counts[1]}" ] || fail "an unknown command changed the context: ${counts[*]}"
    # /effort and /system edit the system and developer messages: the cache keeps what precedes the edit.
    [ "${counts[2]}" -lt "${counts[1]}" ] || fail "/effort kept the old system message cached: ${counts[*]}"
    [ "${counts[3]}" -gt "${counts[2]}" ] || fail "the second turn: ${counts[*]}"
    [ "${counts[4]}" -gt "${counts[2]}" ] && [ "${counts[4]}" -lt "${counts[3]}" ] || fail "/reset: ${counts[*]}"
    expect_in out.txt "reasoning effort: high"
    expect_in out.txt "instructions set"
    expect_in effort.json '"reasoning_effort":"High"'
    expect_in effort.json "Answer briefly."
    for command in help reset effort system save load tokens quit; do expect_in out.txt "  /$command"; done
    # The second turn reuses the history up to the changed system message, no further.
    reused=$(stats_lines | sed -n '2s/.* \([0-9]*\) reused.*/\1/p')
    [ -n "$reused" ] && [ "$reused" -gt 0 ] && [ "$reused" -lt "${counts[1]}" ] || fail "second turn reused '$reused'"
    ;;

  chat-resume)
    # One process: two turns. Then the same chat saved after the first turn and resumed in a new process.
    printf '%s\n' "Hello" "Again" >both.txt
    input=both.txt run chat --model "$tiny_chat" --max-tokens 6 --seed 3 --stats
    expect_rc 0
    cp out.txt whole.out
    whole_second=$(stats_lines | sed -n 2p | sed 's/ in [0-9.]* s.*//')
    printf '%s\n' "Hello" /tokens "/save chat.json" >first.txt
    input=first.txt run chat --model "$tiny_chat" --max-tokens 6 --seed 3 --stats
    expect_rc 0
    saved=$(token_counts)
    expect_in out.txt "saved chat.json (3 messages) and chat.json.state ($saved tokens)"
    [ -s chat.json ] && [ -s chat.json.state ] || fail "/save wrote no files"
    expect_in chat.json '"text":"Hello"'
    printf '%s\n' "/load chat.json" /tokens "Again" >second.txt
    input=second.txt run chat --model "$tiny_chat" --max-tokens 6 --seed 3 --stats
    expect_rc 0
    expect_in out.txt "loaded chat.json (3 messages; $saved tokens cached)"
    [ "$(token_counts)" = "$saved" ] || fail "/tokens after /load: $(token_counts), saved $saved"
    expect_not_in err.txt "not restored"
    # Same prompt, same reuse, same tokens, same reply as without the save.
    resumed=$(stats_lines | sed -n 1p | sed 's/ in [0-9.]* s.*//')
    [ -n "$resumed" ] && [ "$resumed" = "$whole_second" ] || fail "resumed turn '$resumed', unbroken '$whole_second'"
    reply=$(tail -n +3 out.txt)
    whole=$(cat whole.out)
    [ -n "$reply" ] && [[ $whole == *"$reply" ]] || fail "resumed reply '$reply' is not the unbroken chat's '$whole'"
    # Without its state the conversation still loads, and the next turn prefills it.
    rm chat.json.state
    input=second.txt run chat --model "$tiny_chat" --max-tokens 6 --seed 3 --stats
    expect_rc 0
    expect_in err.txt "session state not restored"
    expect_in err.txt ", 0 reused;"
    ;;

  chat-context-full)
    # The reply outgrows 120 tokens: the oldest turns go, and the next turn works.
    printf '%s\n' "Hello" "Tell me more" "And more" >in.txt
    input=in.txt run chat --model "$tiny_chat" --max-tokens 40 --context 120 --seed 3 --stats
    expect_rc 0
    expect_in err.txt "[context full (120 tokens): dropped the"
    stats_lines | sed -n 2p | grep -q '^\[context_full;' || fail "second turn: $(stats_lines | sed -n 2p)"
    stats_lines | sed -n 3p | grep -q '^\[length; .* generated 40 ' || fail "turn after: $(stats_lines | sed -n 3p)"
    # A message too long for the room left is dropped with a message; the next one works.
    printf '%s\n' "Hello" "one two three four five six seven eight nine ten eleven twelve thirteen fourteen" "Hi" >long.txt
    input=long.txt run chat --model "$tiny_chat" --max-tokens 5 --context 80 --seed 3 --stats
    expect_rc 1
    expect_in err.txt "the message does not fit in half of the context (80 tokens): it was dropped"
    stats_lines | sed -n 3p | grep -q '^\[length; .* generated 5 ' || fail "turn after: $(stats_lines | sed -n 3p)"
    ;;

  chat-cancel)
    # Ctrl-C during a turn ends that turn, not the chat.
    label="ossrt chat, SIGINT during the turn"
    printf '%s\n' "Hello" /tokens >in.txt
    "$ossrt" chat --model "$tiny_chat" --max-tokens 1000000 --context 0 --stats <in.txt >out.txt 2>err.txt &
    pid=$!
    for _ in $(seq 100); do
      grep -qF "> Hello" err.txt && break
      sleep 0.1
    done
    sleep 1
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    expect_rc 0
    expect_in err.txt "[cancelled; prompt"
    expect_in err.txt "> /tokens"
    [ -n "$(token_counts)" ] || fail "no /tokens after the cancelled turn"
    ;;

  generate-overflow)
    # tiny-a's greedy continuation is 35,515,341,570,... (the reference's); a context of 8 holds 3 of them.
    run generate --model "$tiny_a" --tokens 714,1108,958,985,112 --max-tokens 10 --context 8
    expect_rc 3
    [ "$(cat out.txt)" = "35,515,341" ] || fail "stdout '$(cat out.txt)'"
    expect_in err.txt "ossrt generate: the context is full (8 tokens): generated 3 of the 10 asked for"
    run generate --model "$tiny_a" --tokens 714,1108,958,985,112 --max-tokens 4 --context 9
    expect_rc 0
    [ "$(cat out.txt)" = "35,515,341,570" ] || fail "stdout '$(cat out.txt)'"
    expect_not_in err.txt "context is full"
    # A stop token that is the last one the context holds is a stop, not a full context.
    run generate --model "$tiny_a" --tokens 714,1108,958,985,112 --max-tokens 10 --context 8 --stop 341
    expect_rc 0
    [ "$(cat out.txt)" = "35,515,341" ] || fail "stdout '$(cat out.txt)'"
    run generate --model "$tiny_a" --tokens 714,1108,958,985,112 --context 4
    expect_rc 1
    expect_in err.txt "context_overflow"
    ;;

  info)
    run info --model "$tiny_a"
    expect_rc 0
    expect_in out.txt "layers               4"
    expect_in out.txt "backend              cpu"
    run info --model "$work/missing"
    expect_rc 1
    expect_in err.txt "ossrt: not_found"
    ;;

  bench-sessions)
    # Several sessions decoded together: the keys issue 31 names, a GGUF's dense format.
    run bench --model "$tiny_a" --prompt-tokens 4 --decode-tokens 3 --depth 4 --bandwidth-mib 16 --sessions 3 --json
    expect_rc 0
    expect_in out.txt '"sessions":3,"single_decode_tok_s":'
    expect_in out.txt '"aggregate_decode_tok_s":'
    # 3 tokens: 3 rounds of one token, alone then together.
    expect_in out.txt '"session_rounds":3,'
    expect_in out.txt '"dense_format":"bf16"'
    run bench --model "$tiny_a" --prompt-tokens 4 --decode-tokens 3 --depth 4 --bandwidth-mib 16 --sessions 2
    expect_rc 0
    expect_in out.txt "2 sessions together"
    ;;

  bench-alternating)
    # Ratios of two rates come from measurements taken in turns: depth against
    # depth 0 always, exact against fast numerics and one thread against all when asked.
    run bench --model "$tiny_a" --prompt-tokens 4 --decode-tokens 5 --depth 4 --bandwidth-mib 16 --compare-numerics \
      --scaling --json
    expect_rc 0
    expect_in out.txt '"depth_ratio_min_pct":'
    expect_in out.txt '"depth_rounds":4,'
    expect_in out.txt '"exact_over_fast_pct":'
    expect_in out.txt '"exact_over_fast_max_pct":'
    expect_in out.txt '"decode_1thread_tok_s":'
    expect_in out.txt '"thread_scaling_min_pct":'
    # Decode in turns with the bandwidth probe, each round against the read beside it.
    expect_in out.txt '"roofline_in_turns_pct":'
    expect_in out.txt '"roofline_in_turns_max_pct":'
    # The CPU the figures came from, as CPUID names it (x86-64 builds).
    if [ "$(uname -m)" = x86_64 ]; then
      grep -q '"cpu":"[^"]*family [0-9]* model [0-9]*"' out.txt || fail "bench --json names no CPU"
    fi
    run bench --model "$tiny_a" --prompt-tokens 4 --decode-tokens 2 --depth 4 --bandwidth-mib 16 --compare-numerics \
      --scaling --threads 2
    expect_rc 0
    expect_in out.txt "of depth 0 (alternating, rounds"
    expect_in out.txt "decode in exact numerics"
    expect_in out.txt "alternating with 1 thread, 2 rounds"
    expect_in out.txt "of 2 threads (rounds"
    expect_in out.txt "of the read beside each of 2 rounds"
    ;;

  estimate)
    # From the headers alone; the session's figures follow --context and --numerics.
    run estimate --model "$tiny_a" --context 300 --chunk 64 --json
    expect_rc 0
    expect_in out.txt '"kv_bytes":'
    expect_in out.txt '"kv_bytes_per_token":2048,'
    run estimate --model "$tiny_a" --context 300 --numerics fast --json
    expect_in out.txt '"kv_bytes_per_token":1024,'
    run estimate --model "$tiny_a" --backend cuda --cpu-expert-layers 2
    expect_rc 0
    expect_in out.txt "backend_weight_bytes"
    run estimate --model "$work/none"
    expect_rc 1
    expect_in err.txt "ossrt: not_found"
    run estimate --model "$tiny_a" --context 100000000
    expect_rc 1
    expect_in err.txt "exceeds the model's maximum"
    ;;
  cpu-isa)
    label="OSSRT_CPU_ISA=bogus ossrt info"
    OSSRT_CPU_ISA=bogus "$ossrt" info --model "$tiny_a" >out.txt 2>err.txt
    rc=$?
    expect_rc 1
    expect_in err.txt "ossrt: invalid_argument: backend 'cpu': OSSRT_CPU_ISA is 'bogus'; it must be scalar, avx2 or avx512"
    expect_empty out.txt
    label="OSSRT_CPU_ISA=scalar ossrt info"
    OSSRT_CPU_ISA=scalar "$ossrt" info --model "$tiny_a" >out.txt 2>err.txt
    rc=$?
    expect_rc 0
    expect_in out.txt "backend              cpu-reference"
    label="ossrt info without a model: the backends and GPUs"
    "$ossrt" info >out.txt 2>err.txt
    rc=$?
    expect_rc 0
    expect_in out.txt "backends             cpu, cpu-avx2, cpu-avx512, cpu-reference"
    grep -qE "^(gpus                 none|gpu cuda:0 )" out.txt || fail "no GPU line: $(cat out.txt)"
    label="ossrt generate --backend cuda where no GPU is usable"
    if ! grep -q "^gpu cuda:0 " out.txt; then
      "$ossrt" generate --model "$tiny_a" --backend cuda --prompt hi >out.txt 2>err.txt
      rc=$?
      expect_rc 1
      expect_in err.txt "ossrt: device_error: backend 'cuda': "
      expect_empty out.txt
    fi
    ;;

  *)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac

if [ "$failures" -ne 0 ]; then
  echo "$case_name: $failures check(s) failed" >&2
  exit 1
fi
echo "$case_name: all checks passed"
