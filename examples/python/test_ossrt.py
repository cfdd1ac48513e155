"""Runs the ctypes binding: python3 test_ossrt.py TINY_A_DIR TINY_CHAT_DIR

TINY_A_DIR is the bundled reference model (exact greedy tokens); TINY_CHAT_DIR a
model with the full vocabulary (`ossrt make-checkpoint --preset tiny-chat`) for
harmony chat. Random weights: the chat checks are on structure, never wording."""
import sys
import threading

import ossrt


def main(model_dir, chat_dir):
    passed = failed = 0

    def check(condition, what):
        nonlocal passed, failed
        if condition:
            passed += 1
        else:
            failed += 1
            print("FAIL", what)

    model = ossrt.Model(model_dir)
    session = model.session()
    session.append([714, 1108, 958, 985, 112])
    check(len(session.logits()) == 1536, "logits size")
    check(session.generate(4) == [35, 515, 341, 570], "greedy tokens match the reference")
    first = model.session()
    first.append([714, 1108, 958, 985, 112])
    second = model.session()
    second.append([714, 1108, 958, 985, 112])
    check(first.generate(6, temperature=0.9, seed=3) == second.generate(6, temperature=0.9, seed=3),
          "same seed, same tokens")
    try:
        session.append([5, 99999])
        check(False, "invalid token raises")
    except ossrt.Error as error:
        check(error.status == "invalid_token" and "99999" in str(error), "invalid_token status and message")
    try:
        ossrt.Model("/nonexistent/ossrt")
        check(False, "missing model raises")
    except ossrt.Error as error:
        check(error.status == "not_found", "not_found status")
    tok = ossrt.Tokenizer()
    check(tok.encode("Hello, world!") == [13225, 11, 2375, 0], "encode")
    check(tok.encode("<|start|>user", allow_special=True) == [200006, 1428], "encode with specials")
    check(tok.decode([13225, 11, 2375, 0]) == "Hello, world!", "decode")
    check_chat(chat_dir, check)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def check_chat(chat_dir, check):
    logs = []
    runtime = ossrt.Runtime(log=lambda level, message: logs.append((level, message)))
    progress = []
    model = ossrt.Model(chat_dir, runtime=runtime, preload=True, progress=lambda done, total: progress.append(done))
    check(any(level == "info" and "loaded" in message for level, message in logs), "the runtime logs the load")
    check(len(progress) > 3 and progress == sorted(progress), "load progress grows")

    # Two turns: the second reuses the whole first prompt from the cache.
    session = model.session(context_length=2048)
    chat = ossrt.Conversation(effort="low", instructions="Answer briefly.")
    chat.add_user("What is the capital of France?")
    events = []
    first = session.chat(chat, max_tokens=20, seed=5, on_event=events.append)
    check(first.reused_tokens == 0 and first.generated_tokens == 20 and first.finish_reason == "length",
          "first turn counts")
    check(len(events) > 0 and all(e.kind in ("message_start", "content_delta", "message_end", "tool_call", "anomaly")
                                  for e in events), "events stream")
    check(len(chat) == 3 + first.messages_appended, "the reply is appended as history")
    after_first = session.tokens()
    chat.add_user("And of Italy?")
    second = session.chat(chat, max_tokens=8, seed=5)
    check(second.reused_tokens >= first.prompt_tokens, "the second turn reuses the first prompt")
    check('"role":"assistant"' in chat.to_json().replace(" ", ""), "conversation JSON has the assistant turn")

    # Same seed, same tokens; a callback returning true stops the turn.
    replay = model.session(context_length=2048)
    again = ossrt.Conversation(effort="low", instructions="Answer briefly.")
    again.add_user("What is the capital of France?")
    replay.chat(again, max_tokens=20, seed=5)
    check(replay.tokens() == after_first, "same seed, same tokens")
    # <|message|> first completes the header at once: a message_start event arrives mid-turn.
    stopped = replay.chat(again, max_tokens=20, logit_bias={200008: 1e4}, on_event=lambda event: True)
    check(stopped.finish_reason == "cancelled" and stopped.generated_tokens == 1, "on_event can stop a turn")

    # State round trip to identical logits.
    blob = session.save_state()
    restored = model.session(context_length=2048)
    restored.restore_state(blob)
    check(restored.logits() == session.logits() and restored.tokens() == session.tokens(), "state round trip")
    try:
        model.session().restore_state(blob[:100])
        check(False, "a truncated state is refused")
    except ossrt.Error as error:
        check(error.status == "invalid_argument", "truncated state: invalid_argument")
    check(session.memory()["logits_bytes"] == 201088 * 4, "memory report")
    fast = model.session(context_length=2048, numerics="fast")
    exact = model.session(context_length=2048)
    fast.append(session.tokens()[:20])
    exact.append(session.tokens()[:20])
    check(2 * fast.memory()["kv_cache_bytes"] == exact.memory()["kv_cache_bytes"], "fast numerics: bf16 KV cache")
    check(session.sync_prefix(session.tokens()[:10]) == 9 and len(session.tokens()) == 10, "sync_prefix")

    # Cancel a long prefill from another thread.
    started = threading.Event()
    long = model.session(max_batch_tokens=8, prefill_progress=lambda done, total: started.set())
    canceller = threading.Thread(target=lambda: (started.wait(), long.cancel()))
    canceller.start()
    try:
        long.append([1000 + i % 5000 for i in range(1600)])
        check(False, "a cancelled prefill raises")
    except ossrt.Error as error:
        check(error.status == "cancelled", "cancelled status")
    canceller.join()
    held = len(long.tokens())
    check(0 < held < 1600 and held % 8 == 0, "the session keeps whole chunks")
    long.append([7])
    check(len(long.logits()) == 201088, "the session is usable after a cancel")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
