"""The Python binding, family by family:
python3 test_ossrt.py TINY_A_DIR TINY_CHAT_DIR WEATHER_DIR [unittest options]

TINY_A_DIR is the bundled reference model (its golden.json holds the official reference's logits and greedy
tokens); TINY_CHAT_DIR a random model with the full vocabulary (`ossrt make-checkpoint --preset tiny-chat`) for
harmony chat: its words are noise, so chat checks are on structure, counts and determinism. The tokenizer vectors
and harmony render / parse cases come from tests/data."""

import base64
import contextlib
import io
import os
import dataclasses
import gc
import json
import re
import sys
import tempfile
import textwrap
import threading
import unittest
from pathlib import Path

import ossrt

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
TINY_A = TINY_CHAT = WEATHER = ""  # set from the command line


def jsonl(path):
    return [json.loads(line) for line in path.read_text().split("\n") if line.strip()]  # not splitlines: U+2028


def golden_prompts():
    return json.loads((Path(TINY_A) / "golden.json").read_text())["runs"]["fp32"]["prompts"]


def max_difference(a, b):
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def render_case(case_id):
    return next(case for case in jsonl(DATA / "harmony" / "render_cases.jsonl") if case["id"] == case_id)


def normalized(messages):
    """Messages as the library writes them, for comparing JSON regardless of key order or spacing."""
    with ossrt.Conversation.from_json(messages) as conversation:
        return conversation.to_json()


def chat_conversation(question="What is the capital of France?"):
    conversation = ossrt.Conversation()
    conversation.add_system(reasoning_effort="low")
    conversation.add_user(question)
    return conversation


# <|message|> first: the header is complete at once, so a chat turn's events start with its first token.
EVENTS_AT_ONCE = {200008: 1e4}


# Sampler options opening a turn with <|channel|>analysis<|message|>: each of the three has the highest logit in
# turn, the penalty over the last 3 tokens ruling out the ones just drawn. The rest is the random model's.
ANALYSIS_FIRST = {"temperature": 0, "logit_bias": {200005: 300, 35644: 200, 200008: 100}, "presence_penalty": 1000,
                  "penalty_last_n": 3}


class LibraryTest(unittest.TestCase):
    def test_version_and_abi(self):
        self.assertRegex(ossrt.version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual(ossrt.abi_version(), ossrt.ABI_VERSION)
        self.assertTrue(Path(ossrt.library_path()).exists())

    def test_every_exported_function_is_bound(self):
        exported = set((ROOT / "capi" / "exported_symbols.txt").read_text().split())
        self.assertEqual(exported, set(ossrt._PROTOTYPES))

    def test_status_and_finish_reason_names_match_the_library(self):
        for status in ossrt.Status:
            self.assertEqual(ossrt.status_string(status), status.name.lower())
        self.assertEqual(ossrt.status_string(999), "unknown_status")
        for reason in ossrt.FinishReason:
            self.assertEqual(ossrt.finish_reason_string(reason), reason.name.lower())
        self.assertEqual(ossrt.finish_reason_string(77), "unknown_finish_reason")

    def test_every_status_has_its_exception(self):
        for status in ossrt.Status:
            if status == ossrt.Status.OK:
                continue
            error_type = ossrt._ERRORS[status]
            self.assertTrue(issubclass(error_type, ossrt.OssrtError))
            self.assertEqual(error_type.status, status)
            self.assertEqual(error_type("x").status_name, status.name.lower())
        self.assertTrue(issubclass(ossrt.InvalidArgument, ValueError))
        self.assertTrue(issubclass(ossrt.NotFound, FileNotFoundError))
        self.assertTrue(issubclass(ossrt.OutOfMemory, MemoryError))
        self.assertIs(ossrt.Error, ossrt.OssrtError)

    def test_records_mirror_their_structs(self):
        # Every field the library fills reaches Python (a field appended to a struct must reach its record).
        for record, struct in ((ossrt.ModelInfo, ossrt._ModelInfo), (ossrt.SessionMemory, ossrt._SessionMemory),
                               (ossrt.ChatResult, ossrt._ChatResult), (ossrt.Event, ossrt._HarmonyEvent),
                               (ossrt.Device, ossrt._DeviceInfo),
                               (ossrt.GenerationProgress, ossrt._GenerationProgress),
                               (ossrt.StepReport, ossrt._StepReport)):
            struct_fields = [name for name, _ in struct._fields_ if name not in ("struct_size", "text_len")]
            # The tool_call_* fields are one record field, ChatResult.tool_call (a ToolCall with each of them).
            call_fields = [name.removeprefix("tool_call_") for name in struct_fields if name.startswith("tool_call_")]
            if call_fields:
                self.assertEqual([field.name for field in dataclasses.fields(ossrt.ToolCall)],
                                 [name for name in call_fields if name != "arguments_len"])
                struct_fields = [name for name in struct_fields if not name.startswith("tool_call_")] + ["tool_call"]
            self.assertEqual([field.name for field in dataclasses.fields(record)], struct_fields, record.__name__)

    def test_stop_tokens(self):
        tokenizer = ossrt.Tokenizer()
        ret, call, end = (tokenizer.special_id(token) for token in ("return", "call", "end"))
        self.assertEqual(ossrt.stop_tokens(), sorted([ret, call, end]))
        self.assertEqual(ossrt.stop_tokens(for_assistant_actions=True), sorted([ret, call]))


class RuntimeTest(unittest.TestCase):
    def test_log_callback_and_level(self):
        messages = []
        with ossrt.Runtime(log=lambda level, text: messages.append((level, text))) as runtime:
            with ossrt.Model(TINY_A, runtime=runtime):
                pass
            self.assertTrue(any(level is ossrt.LogLevel.INFO and "loaded" in text for level, text in messages))
            messages.clear()
            runtime.set_log_callback(lambda level, text: messages.append((level, text)), "error")
            with ossrt.Model(TINY_A, runtime=runtime):
                pass
            self.assertEqual(messages, [])
            runtime.set_log_callback(None)
            with self.assertRaises(ossrt.InvalidArgument):
                runtime.set_log_callback(print, 99)

    def test_an_exception_in_the_log_callback_reaches_the_caller(self):
        def fail(level, text):
            raise KeyError(text)

        with ossrt.Runtime(log=fail) as runtime:
            with self.assertRaises(KeyError) as raised:
                ossrt.Model(TINY_A, runtime=runtime)
            self.assertIn("loaded", str(raised.exception))
            with ossrt.Model(TINY_A) as model:  # nothing left pending on this thread
                self.assertEqual(model.info.vocab_size, 1536)

    def test_a_closed_runtime(self):
        runtime = ossrt.Runtime()
        runtime.close()
        runtime.close()
        self.assertTrue(runtime.closed)
        with self.assertRaises(ossrt.InvalidState):
            ossrt.Model(TINY_A, runtime=runtime)


class ModelTest(unittest.TestCase):
    def test_info_is_the_config(self):
        config = json.loads((Path(TINY_A) / "config.json").read_text())
        with ossrt.Model(TINY_A) as model:
            info = model.info
        for key in ("num_hidden_layers", "num_experts", "experts_per_token", "vocab_size", "hidden_size",
                    "intermediate_size", "head_dim", "num_attention_heads", "num_key_value_heads",
                    "sliding_window"):
            self.assertEqual(getattr(info, key), config[key], key)
        self.assertEqual(info.max_context_length, config["initial_context_length"] * config["rope_scaling_factor"])
        self.assertGreater(info.parameter_count, 0)
        self.assertLessEqual(info.weight_bytes, (Path(TINY_A) / "model.safetensors").stat().st_size)
        self.assertEqual((info.cpu_expert_layers, info.host_expert_bytes), (0, 0))
        self.assertEqual((info.layout, info.dense_format, info.converted_bytes), ("original", "bf16", 0))
        estimate = ossrt.estimate_memory(TINY_A, context_length=300, max_batch_tokens=64)
        self.assertEqual(estimate.weight_bytes, info.weight_bytes)
        self.assertEqual(estimate.kv_bytes_per_token, 2 * 2 * 128 * 4)
        self.assertEqual(estimate.total_bytes, estimate.weight_bytes + estimate.session_bytes)
        self.assertEqual(ossrt.estimate_memory(TINY_A, numerics="fast").kv_bytes_per_token, 2 * 2 * 128 * 2)
        with self.assertRaises(ossrt.InvalidArgument):
            ossrt.estimate_memory(TINY_A, context_length=1 << 30)
        with ossrt.Model(TINY_A, cpu_expert_layers=2) as model:
            info = model.info
        self.assertEqual(info.cpu_expert_layers, 2)
        self.assertGreater(info.host_expert_bytes, 0)

    def test_load_options_give_the_same_logits(self):
        prompt = golden_prompts()[0]["prompt"]
        logits = []
        for options in ({}, {"preload": True}, {"weights_in_memory": True, "validate_weights": True},
                        {"backend": "cpu"}, {"cpu_expert_layers": 99}):
            with ossrt.Model(TINY_A, **options) as model, model.session() as session:
                session.append(prompt)
                logits.append(session.logits())
        with ossrt.Model(TINY_A) as model:
            self.assertEqual(model.info.tiled_expert_matrices, 0)  # mapped: used in place
        # In memory, CPUs with AVX512-VNNI and VBMI keep the experts in tiles,
        # whose products add up in another order (a few 1e-6 here).
        for values in logits:
            self.assertEqual(len(values), len(logits[0]))
            self.assertLess(max(abs(a - b) for a, b in zip(values, logits[0])), 1e-4)

    def test_progress_reports_and_cancels(self):
        progress = []
        with ossrt.Model(TINY_A, progress=lambda done, total: progress.append((done, total))):
            pass
        self.assertGreater(len(progress), 3)
        self.assertEqual([done for done, _ in progress], sorted(done for done, _ in progress))
        self.assertEqual(progress[-1][0], progress[-1][1])
        calls = []
        with self.assertRaises(ossrt.Cancelled):
            ossrt.Model(TINY_A, progress=lambda done, total: calls.append(done) or len(calls) == 3)
        self.assertEqual(len(calls), 3)
        with self.assertRaises(ZeroDivisionError):  # a raising callback cancels the load, then its error surfaces
            ossrt.Model(TINY_A, progress=lambda done, total: 1 / 0)

    def test_load_failures(self):
        with self.assertRaises(ossrt.NotFound) as raised:
            ossrt.Model("/nonexistent/ossrt-model")
        self.assertEqual(raised.exception.status, ossrt.Status.NOT_FOUND)
        self.assertEqual(raised.exception.status_name, "not_found")
        self.assertIn("/nonexistent/ossrt-model", str(raised.exception))
        self.assertIsInstance(raised.exception, FileNotFoundError)
        with self.assertRaises(ossrt.InvalidArgument) as raised:
            ossrt.Model(TINY_A, backend="bogus")
        self.assertIn("bogus", raised.exception.message)
        with tempfile.TemporaryDirectory() as directory:
            (Path(directory) / "config.json").write_text("{not json")
            with self.assertRaises(ossrt.InvalidConfig):
                ossrt.Model(directory)

    def test_sessions_outlive_the_model_handle(self):
        model = ossrt.Model(TINY_A)
        session = model.session()
        model.close()
        with self.assertRaises(ossrt.InvalidState):
            model.info
        session.append(golden_prompts()[0]["prompt"])
        self.assertEqual(session.generate(4), golden_prompts()[0]["greedy"]["tokens"][:4])


class DeviceTest(unittest.TestCase):
    def test_devices_are_listed(self):
        devices = ossrt.devices()  # empty without a CUDA build, driver or GPU: not an error
        self.assertIsInstance(devices, list)
        for index, device in enumerate(devices):
            self.assertIsInstance(device, ossrt.Device)
            self.assertEqual(device.backend, f"cuda:{index}")
            self.assertTrue(device.description)
            self.assertLessEqual(device.free_bytes, device.memory_bytes)

    def test_gpu_backends_fail_loudly_without_a_gpu(self):
        # Where a GPU is listed, "cuda" loads on it; where none is, no CPU fallback but DeviceError.
        for backend in ("cuda", "cuda:0"):
            if ossrt.devices():
                with ossrt.Model(TINY_A, backend=backend) as model:
                    self.assertGreater(model.info.vocab_size, 0)
                continue
            with self.assertRaises(ossrt.DeviceError) as raised:
                ossrt.Model(TINY_A, backend=backend)
            self.assertEqual(raised.exception.status, ossrt.Status.DEVICE_ERROR)
            self.assertIn(backend, raised.exception.message)
        with self.assertRaises(ossrt.DeviceError):
            ossrt.Model(TINY_A, backend="cuda:x")  # a malformed device number is the device's error too


class TokenizerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tokenizer = ossrt.Tokenizer()

    @classmethod
    def tearDownClass(cls):
        cls.tokenizer.close()

    def test_vectors_round_trip(self):
        vectors = jsonl(DATA / "tokenizer" / "vectors.jsonl")
        self.assertEqual(len(vectors), 297)
        for vector in vectors:
            text = base64.b64decode(vector["bytes_b64"]) if "bytes_b64" in vector else vector["text"]
            allowed = "all" if vector["special"] == "all" else ()
            self.assertEqual(self.tokenizer.encode(text, allowed_special=allowed), vector["ids"], vector["id"])
            self.assertEqual(self.tokenizer.decode(vector["ids"], lossy=True), vector.get("decodes_to", vector["text"]),
                             vector["id"])

    def test_specials(self):
        self.assertEqual(self.tokenizer.vocab_size, 201088)
        for token in ossrt.SpecialToken:
            token_id = self.tokenizer.special_id(token)
            self.assertEqual(self.tokenizer.special_id(token.name.lower()), token_id)
            self.assertEqual(self.tokenizer.find_special(self.tokenizer.decode([token_id])), token_id)
        start = self.tokenizer.special_id(ossrt.SpecialToken.START)
        self.assertEqual(self.tokenizer.encode("<|start|>user", allowed_special="all"), [start, 1428])
        self.assertEqual(self.tokenizer.encode("<|start|>user", allowed_special=["<|start|>"]), [start, 1428])
        self.assertEqual(self.tokenizer.encode("<|start|>user", allowed_special=[start]), [start, 1428])
        self.assertEqual(self.tokenizer.encode("<|start|>user", allowed_special="<|start|>"), [start, 1428])
        self.assertNotIn(start, self.tokenizer.encode("<|start|>user"))
        with self.assertRaises(ossrt.InvalidArgument):
            self.tokenizer.find_special("hello")
        with self.assertRaises(ossrt.InvalidArgument):
            self.tokenizer.special_id("bogus")

    def test_bytes_and_errors(self):
        ids = self.tokenizer.encode("héllo wörld")
        self.assertEqual(b"".join(self.tokenizer.token_bytes(i) for i in ids), "héllo wörld".encode())
        self.assertEqual(self.tokenizer.decode_bytes(ids), "héllo wörld".encode())
        self.assertEqual(self.tokenizer.encode(""), [])
        self.assertEqual(self.tokenizer.decode([]), "")
        with self.assertRaises(ossrt.InvalidToken):
            self.tokenizer.decode([13225, 300000])
        self.assertEqual(self.tokenizer.decode([13225, 300000], lossy=True), "Hello\ufffd")
        with self.assertRaises(ossrt.InvalidToken):
            self.tokenizer.token_bytes(-1)
        with self.assertRaises(ossrt.InvalidArgument):
            self.tokenizer.decode([2 ** 40])
        # A lone surrogate is not UTF-8: one U+FFFD, as invalid input becomes in the library.
        self.assertEqual(self.tokenizer.encode("\ud800x"), self.tokenizer.encode("\ufffdx"))

    def test_long_text_grows_the_buffer(self):
        text = "ossrt " * 5000 + "🙂" * 300
        ids = self.tokenizer.encode(text)
        self.assertEqual(self.tokenizer.decode(ids), text)

    def test_detok_stream_gives_whole_characters(self):
        text = "naïve 🦜 ꙮ done"
        ids = self.tokenizer.encode(text)
        self.assertEqual(self.tokenizer.token_bytes(ids[3]), b" \xf0\x9f")  # a space and half the parrot
        with self.tokenizer.stream() as stream:
            out = [stream.push(i) for i in ids]
            self.assertEqual("".join(out), text)
            self.assertNotIn("\ufffd", "".join(out))
            self.assertEqual(stream.push(ids[3]), " ")  # the half character is held
            self.assertEqual(stream.finish(), "\ufffd")
            with self.assertRaises(ossrt.InvalidToken):
                stream.push(300000)

    def test_a_models_tokenizer_is_the_same(self):
        with ossrt.Model(TINY_CHAT) as model, model.tokenizer as tokenizer:
            self.assertEqual(tokenizer.encode("Hello, world!"), self.tokenizer.encode("Hello, world!"))


class SessionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = ossrt.Model(TINY_A)
        cls.prompts = golden_prompts()

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def primed(self, **options):
        session = self.model.session(**options)
        session.append(self.prompts[0]["prompt"])
        return session

    def test_golden_logits_and_greedy_tokens(self):
        for prompt in self.prompts:
            with self.model.session() as session:
                session.append(prompt["prompt"])
                logits = session.logits()
                self.assertEqual(len(logits), 1536)
                self.assertLess(max_difference(logits, prompt["last_logits"]), 1e-3)
                self.assertEqual(session.generate(24), prompt["greedy"]["tokens"])
                self.assertEqual(session.num_tokens, len(prompt["prompt"]) + 24)
                self.assertEqual(session.tokens(), prompt["prompt"] + prompt["greedy"]["tokens"])

    def test_stop_tokens_end_generation(self):
        greedy = self.prompts[0]["greedy"]["tokens"]
        with self.primed() as session:
            self.assertEqual(session.generate(10, stop=[greedy[2]]), greedy[:3])

    def test_sampling_is_keyed_by_seed_and_position(self):
        with ossrt.Sampler(temperature=0.9, seed=3) as sampler, self.primed() as a, self.primed() as b:
            first = a.sample(sampler)
            self.assertEqual(a.num_tokens, 5)  # sample() does not append
            generated = a.generate(8, sampler=sampler)
            self.assertEqual(generated[0], first)
            self.assertEqual(b.generate(8, sampler=sampler), generated)
        with ossrt.Sampler(temperature=0.9, seed=4) as other, self.primed() as c:
            self.assertNotEqual(c.generate(8, sampler=other), generated)

    def generated_alone(self, max_tokens):
        """The first three golden prompts and the greedy tokens each session generates from them alone."""
        prompts = [prompt["prompt"] for prompt in self.prompts[:3]]
        expected = []
        for prompt in prompts:
            with self.model.session() as alone:
                alone.append(prompt)
                expected.append(alone.generate(max_tokens))
        return prompts, expected

    def test_scheduler_generates_like_each_session_alone(self):
        prompts, expected = self.generated_alone(6)
        sessions = [self.model.session() for _ in prompts]
        streamed = [[] for _ in prompts]
        try:
            with ossrt.Scheduler(self.model, max_sessions=3, max_step_tokens=4) as scheduler:
                for i, (session, prompt) in enumerate(zip(sessions, prompts)):
                    scheduler.join(session, prompt, max_tokens=6, on_token=streamed[i].append)
                    scheduler.step()  # the next one joins a step later, beside the decodes
                with self.assertRaises(ossrt.InvalidState):  # joined: the scheduler's
                    sessions[0].append([1])
                with self.assertRaises(ossrt.InvalidState):
                    scheduler.join(sessions[0], [1])
                scheduler.run()
                self.assertEqual(scheduler.active_sessions, 0)
                for i, session in enumerate(sessions):
                    progress = scheduler.progress(session)
                    self.assertEqual(progress.end, ossrt.GenerationEnd.MAX_TOKENS)
                    self.assertEqual((progress.status, progress.prompt_left, progress.n_tokens), (ossrt.Status.OK, 0, 6))
                    self.assertEqual(scheduler.tokens(session), expected[i])
                    self.assertEqual(streamed[i], expected[i])
                    scheduler.leave(session)
                    self.assertEqual(session.tokens(), prompts[i] + expected[i])
                with self.assertRaises(ossrt.InvalidArgument):
                    scheduler.progress(sessions[0])  # left
                # A callback asking to stop ends its generation; one that raises ends it and re-raises from step().
                sessions[0].reset()
                scheduler.join(sessions[0], prompts[0], max_tokens=6, on_token=lambda token: True)
                scheduler.run()
                self.assertEqual(scheduler.progress(sessions[0]).end, ossrt.GenerationEnd.CANCELLED)
                self.assertEqual(scheduler.tokens(sessions[0]), expected[0][:1])
                scheduler.leave(sessions[0])
                sessions[1].reset()

                def fail(token):
                    raise RuntimeError("from on_token")
                scheduler.join(sessions[1], prompts[1], on_token=fail)
                with self.assertRaisesRegex(RuntimeError, "from on_token"):
                    scheduler.run()
                self.assertEqual(scheduler.progress(sessions[1]).end, ossrt.GenerationEnd.CANCELLED)
                with self.assertRaises(ossrt.InvalidArgument):
                    scheduler.join(sessions[0], [], max_tokens=0)
                with self.assertRaises(ossrt.InvalidArgument):
                    ossrt.Scheduler(self.model, max_sessions=4, max_step_tokens=2)
                scheduler.leave(sessions[1])
                # A logits processor masking every id but one forces it; one returning a failure ends as FAILED.
                # reuse_prefix keeps what the session shares with the prompt and prefills only the rest.
                sessions[0].reset()
                sessions[1].reset()
                sessions[2].reset()
                sessions[2].append(prompts[2][:3] + [900, 901])

                def force_77(logits):
                    for i in range(len(logits)):
                        if i != 77:
                            logits[i] = float("-inf")
                scheduler.join(sessions[0], prompts[0], max_tokens=3, logits_processor=force_77)
                scheduler.join(sessions[1], prompts[1], max_tokens=3,
                               logits_processor=lambda logits: ossrt.Status.OUT_OF_MEMORY)
                scheduler.join(sessions[2], prompts[2], max_tokens=6, reuse_prefix=True)
                self.assertEqual(scheduler.progress(sessions[2]).reused_tokens, 3)
                scheduler.run()
                self.assertEqual(scheduler.tokens(sessions[0]), [77, 77, 77])
                failed = scheduler.progress(sessions[1])
                self.assertEqual((failed.end, failed.status, failed.n_tokens),
                                 (ossrt.GenerationEnd.FAILED, ossrt.Status.OUT_OF_MEMORY, 0))
                self.assertEqual(scheduler.tokens(sessions[2]), expected[2])
        finally:
            for session in sessions:
                session.close()

    def test_batch_decoder_steps_like_each_session_alone(self):
        prompts, expected = self.generated_alone(6)
        sessions = [self.model.session() for _ in prompts]
        try:
            for session, prompt in zip(sessions, prompts):
                session.append(prompt)
            with ossrt.BatchDecoder(self.model, len(sessions)) as decoder:
                for _ in range(6):
                    tokens = [max(range(len(s.logits())), key=s.logits().__getitem__) for s in sessions]
                    decoder.step(sessions, tokens)
                for session, prompt, greedy in zip(sessions, prompts, expected):
                    self.assertEqual(session.tokens(), prompt + greedy)
                with self.assertRaises(ossrt.InvalidState):  # the same session twice
                    decoder.step([sessions[0], sessions[0]], [1, 2])
                with self.assertRaises(ossrt.InvalidToken):
                    decoder.step(sessions[:2], [1, 99999])
                decoder.cancel()
                with self.assertRaises(ossrt.Cancelled):
                    decoder.step(sessions[:1], [1])
                self.assertEqual(sessions[0].tokens(), prompts[0] + expected[0])
        finally:
            for session in sessions:
                session.close()

    def test_fork_continues_identically(self):
        with self.primed() as session:
            session.generate(3)
            with session.fork() as fork:
                self.assertEqual(fork.tokens(), session.tokens())
                self.assertEqual(fork.logits(), session.logits())
                self.assertEqual(fork.generate(6), session.generate(6))
                fork.append([1])
                self.assertNotEqual(fork.num_tokens, session.num_tokens)

    def test_state_round_trip(self):
        with self.primed() as session, self.model.session() as restored, self.model.session() as from_file:
            session.generate(4)
            state = session.save_state()
            self.assertEqual(len(state), session.state_size())
            self.assertEqual(state[:8], b"OSSRTSES")
            restored.restore_state(state)
            self.assertEqual(restored.tokens(), session.tokens())
            self.assertEqual(restored.logits(), session.logits())
            self.assertEqual(restored.generate(5), session.generate(5))
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / "state.bin"
                session.save_state_file(path)
                from_file.restore_state_file(path)
                self.assertEqual(from_file.logits(), session.logits())
                with self.assertRaises(ossrt.NotFound) as raised:
                    from_file.restore_state_file(Path(directory) / "missing.bin")
                self.assertIn("missing.bin", raised.exception.message)
            with self.assertRaises(ossrt.InvalidArgument):
                restored.restore_state(state[:100])
            with self.assertRaises(ossrt.ContextOverflow):
                self.model.session(context_length=8).restore_state(state)
            with ossrt.Model(TINY_CHAT) as other, other.session() as foreign:
                with self.assertRaises(ossrt.InvalidState):
                    foreign.restore_state(state)

    def test_truncate_sync_reset(self):
        with self.primed() as session:
            tokens = session.tokens() + session.generate(6)
            session.truncate(7)
            self.assertEqual(session.tokens(), tokens[:7])
            with self.assertRaises(ossrt.InvalidArgument):
                session.truncate(100)
            self.assertEqual(session.sync_prefix(tokens), 7)
            self.assertEqual(session.tokens(), tokens)
            with self.primed() as fresh:
                fresh.append(tokens[5:])
                self.assertLess(max_difference(session.logits(), fresh.logits()), 1e-5)  # other chunks: other sums
            session.reset()
            self.assertEqual(session.num_tokens, 0)
            with self.assertRaises(ossrt.InvalidState):
                session.logits()
            with self.assertRaises(ossrt.InvalidState):
                session.generate(1)

    def test_options_and_memory(self):
        with self.primed(context_length=64) as exact, self.primed(context_length=64, numerics="fast") as fast:
            memory = exact.memory()
            self.assertEqual(memory.context_length, 64)
            self.assertEqual(memory.logits_bytes, 1536 * 4)
            self.assertEqual(2 * fast.memory().kv_cache_bytes, memory.kv_cache_bytes)
            self.assertLess(max_difference(fast.logits(), exact.logits()), 0.1)
        with self.primed(threads=1, max_batch_tokens=2, rewind_tokens=0) as one_thread, self.primed() as default:
            self.assertLess(max_difference(one_thread.logits(), default.logits()), 1e-5)
        with self.assertRaises(ossrt.InvalidArgument):
            self.model.session(threads=1000)
        with self.assertRaises(ossrt.InvalidArgument):
            self.model.session(max_batch_tokens=0)
        with self.assertRaises(ossrt.InvalidArgument):
            self.model.session(numerics="approximate")

    def test_failures(self):
        with self.model.session(context_length=8) as session:
            with self.assertRaises(ossrt.InvalidToken) as raised:
                session.append([5, 99999])
            self.assertIn("99999", str(raised.exception))
            self.assertEqual(session.num_tokens, 0)
            session.append([1, 2, 3, 4, 5])
            with self.assertRaises(ossrt.ContextOverflow) as overflow:
                session.generate(10)
            self.assertEqual(len(overflow.exception.generated_tokens), 3)
            self.assertEqual(session.tokens()[5:], overflow.exception.generated_tokens)
            with self.assertRaises(ossrt.InvalidArgument):
                session.generate(-1)
        with self.assertRaises(ossrt.InvalidState):
            session.append([1])
        with self.assertRaises(ossrt.InvalidArgument) as raised:
            ossrt.Sampler(temperature=-1)
        self.assertIn("temperature", raised.exception.message)

    def test_logit_bias_decides(self):
        with ossrt.Sampler(temperature=0, logit_bias={999: 1e4}) as sampler, self.primed() as session:
            self.assertEqual(session.generate(4, sampler=sampler), [999] * 4)
        with ossrt.Sampler(logit_bias={5000: 1.0}) as sampler, self.primed() as session:
            with self.assertRaises(ossrt.InvalidArgument):
                session.generate(1, sampler=sampler)


class CancelTest(unittest.TestCase):
    def test_cancel_a_prefill_from_another_thread(self):
        started, cancelled = threading.Event(), threading.Event()

        def first_chunk_done(done, total):
            started.set()
            cancelled.wait()  # the cancel lands while the call runs

        with ossrt.Model(TINY_CHAT) as model, \
                model.session(max_batch_tokens=8, prefill_progress=first_chunk_done) as session:
            canceller = threading.Thread(target=lambda: (started.wait(), session.cancel(), cancelled.set()))
            canceller.start()
            with self.assertRaises(ossrt.Cancelled):
                session.append([1000 + i % 5000 for i in range(1600)])
            canceller.join()
            self.assertEqual(session.num_tokens, 8)  # the completed chunk stays
            session.append([7])
            self.assertEqual(len(session.logits()), 201088)

    def test_prefill_progress_cancels_and_raises(self):
        with ossrt.Model(TINY_CHAT) as model:
            with model.session(max_batch_tokens=4, prefill_progress=lambda done, total: done >= 8) as session:
                with self.assertRaises(ossrt.Cancelled):
                    session.append(list(range(1000, 1020)))
                self.assertEqual(session.num_tokens, 8)
            with model.session(max_batch_tokens=4, prefill_progress=lambda done, total: [][done]) as session:
                with self.assertRaises(IndexError):
                    session.append(list(range(1000, 1020)))
                self.assertEqual(session.num_tokens, 4)
                with session.fork() as fork:  # the fork calls the same callback
                    with self.assertRaises(IndexError):
                        fork.append([1, 2])

    def test_cancel_a_chat_turn_from_another_thread(self):
        first_event, cancelled = threading.Event(), threading.Event()

        def on_event(event):
            first_event.set()
            cancelled.wait()

        with ossrt.Model(TINY_CHAT) as model, model.session(context_length=2048) as session, \
                ossrt.Sampler(temperature=0, logit_bias=EVENTS_AT_ONCE) as sampler:
            canceller = threading.Thread(target=lambda: (first_event.wait(), session.cancel(), cancelled.set()))
            canceller.start()
            result = session.chat(chat_conversation(), sampler, max_tokens=1500, on_event=on_event)
            canceller.join()
            self.assertIs(result.finish_reason, ossrt.FinishReason.CANCELLED)
            self.assertEqual(result.generated_tokens, 1)


class ConversationTest(unittest.TestCase):
    def test_render_cases(self):
        cases = jsonl(DATA / "harmony" / "render_cases.jsonl")
        self.assertEqual(len(cases), 36)
        for case in cases:
            options = {"kind": case["kind"], "auto_drop_analysis": case["auto_drop_analysis"]}
            if case.get("next_role"):
                options["next_role"] = case["next_role"]
            try:
                with ossrt.Conversation.from_json(case["messages"]) as conversation:
                    ids = conversation.render(**options)
                    self.assertEqual(ossrt.Conversation.from_json(conversation.to_json()).render(**options), ids)
            except ossrt.InvalidArgument:
                self.assertIsNotNone(case["expected_error"], case["id"])
                continue
            self.assertIsNone(case["expected_error"], case["id"])
            self.assertEqual(ids, case["expected_tokens"], case["id"])

    def test_built_in_tools(self):
        case = render_case("browser_and_python_tool")
        with ossrt.Conversation() as conversation:
            conversation.add_system(conversation_start_date="2025-06-28", browser_tool=True, python_tool=True)
            self.assertEqual(conversation.render(), case["expected_tokens"])

    def test_function_tools_and_tool_results(self):
        case = render_case("tool_result_full_turn_then_final")
        system, developer, *history = case["messages"]
        content = developer["content"][0]
        with ossrt.Conversation() as conversation:
            conversation.add_system(reasoning_effort=ossrt.ReasoningEffort.HIGH, conversation_start_date="2025-06-28")
            conversation.add_developer(content["instructions"], functions=content["tools"]["functions"]["tools"])
            for message in history:
                text = message["content"][0]["text"]
                if message["role"] == "tool":
                    conversation.add_tool_result(message["name"], text, channel=message["channel"])
                elif message["role"] == "user":
                    conversation.add_user(text)
                else:
                    conversation.add_message(message["role"], text, channel=message.get("channel"),
                                             recipient=message.get("recipient"),
                                             content_type=message.get("content_type"))
            self.assertEqual(len(conversation), len(case["messages"]))
            self.assertEqual(conversation.render(), case["expected_tokens"])
            self.assertEqual(conversation.to_json(), normalized(case["messages"]))
            self.assertEqual(conversation.messages(), json.loads(normalized(case["messages"])))

    def test_python_tool_history(self):
        case = render_case("python_call_history")
        with ossrt.Conversation() as conversation:
            conversation.add_system(python_tool=True)
            conversation.add_user("Compute 2**100")
            conversation.add_message("assistant", "print(2**100)", channel="analysis", recipient="python",
                                     content_type="code")
            conversation.add_tool_result("python", "1267650600228229401496703205376", channel="analysis")
            self.assertEqual(conversation.render(), case["expected_tokens"])

    def test_render_options(self):
        case = render_case("preserve_cot")  # rendered with auto_drop_analysis off
        with ossrt.Conversation.from_json(case["messages"]) as conversation:
            self.assertEqual(conversation.render(auto_drop_analysis=False), case["expected_tokens"])
            dropped = conversation.render()
            self.assertLess(len(dropped), len(case["expected_tokens"]))
            whole = conversation.render(kind="conversation", auto_drop_analysis=False)
            start = ossrt.Tokenizer().special_id("start")
            self.assertEqual(whole + [start] + ossrt.Tokenizer().encode("assistant"), case["expected_tokens"])
            as_user = conversation.render(next_role=ossrt.Role.USER, auto_drop_analysis=False)
            self.assertEqual(as_user[:len(whole) + 1], whole + [start])
            self.assertEqual(ossrt.Tokenizer().decode(as_user[len(whole) + 1:]), "user")
        case = render_case("training_final_multiturn")
        with ossrt.Conversation.from_json({"messages": case["messages"]}) as conversation:
            self.assertEqual(conversation.render(kind=ossrt.RenderKind.TRAINING), case["expected_tokens"])

    def test_system_fields_can_be_left_out(self):
        with ossrt.Conversation() as conversation:
            conversation.add_system(knowledge_cutoff=ossrt.OMIT, model_identity="You are a test.")
            content = conversation.messages()[0]["content"][0]
            self.assertIsNone(content["knowledge_cutoff"])
            self.assertEqual(content["model_identity"], "You are a test.")
            self.assertEqual(content["reasoning_effort"], "Medium")
            self.assertNotIn("Knowledge cutoff", ossrt.Tokenizer().decode(conversation.render()))

    def test_bad_input(self):
        with self.assertRaises(ossrt.InvalidArgument) as raised:
            ossrt.Conversation.from_json('[{"role": "user", "content": [{"type": "text"}]}]')
        self.assertIn("[0]", raised.exception.message)
        with self.assertRaises(ossrt.InvalidArgument):
            ossrt.Conversation.from_json("{not json")
        with ossrt.Conversation() as conversation:
            with self.assertRaises(ossrt.InvalidArgument):
                conversation.add_developer("x", functions="[{]")
            with self.assertRaises(ossrt.InvalidArgument):
                conversation.add_system(reasoning_effort="extreme")
            with self.assertRaises(ossrt.InvalidArgument):
                conversation.add_message("narrator", "hello")
            self.assertEqual(len(conversation), 0)
            conversation.add_message(ossrt.Role.TOOL, "result")  # no name: harmony refuses to render it
            with self.assertRaises(ossrt.InvalidArgument):
                conversation.render()
        with self.assertRaises(ossrt.InvalidState):
            conversation.to_json()


class ParserTest(unittest.TestCase):
    def parse(self, case):
        mode = ossrt.ParseMode.STRICT if case["strict"] else ossrt.ParseMode.HARMONY_LENIENT
        parser = ossrt.HarmonyParser(role=case["role"] or ossrt.Role.NONE, mode=mode)
        events = parser.feed(token - 2 ** 32 if token >= 2 ** 31 else token for token in case["tokens"])  # as int32
        if case["mode"] != "stream":
            events += parser.finish()
        return parser, events

    def test_parse_cases(self):
        cases = jsonl(DATA / "harmony" / "parse_cases.jsonl")
        self.assertEqual(len(cases), 30)
        for case in cases:
            if case["expected_error"]:
                with self.assertRaises(ossrt.InvalidArgument, msg=case["id"]):
                    self.parse(case)
                continue
            parser, events = self.parse(case)
            with parser:
                self.assertEqual(parser.messages_json(), normalized(case["expected_messages"]), case["id"])
                if case["mode"] == "complete":
                    self.assert_events_describe(events, case["expected_messages"], case["id"])

    def assert_events_describe(self, events, messages, case_id):
        """Each message's events: a start and an end with its header, deltas adding up to its text, and a
        TOOL_CALL carrying the arguments when it is an assistant message to a recipient."""
        for index, message in enumerate(messages):
            mine = [event for event in events if event.message_index == index and event.kind != ossrt.EventKind.ANOMALY]
            kinds = [event.kind for event in mine]
            self.assertEqual(kinds[0], ossrt.EventKind.MESSAGE_START, case_id)
            text = message["content"][0]["text"]
            is_call = message["role"] == "assistant" and "recipient" in message
            self.assertEqual(kinds[-2 if is_call else -1], ossrt.EventKind.MESSAGE_END, case_id)
            for event in (mine[0], mine[-1]):
                self.assertEqual(event.role.name.lower(), message["role"], case_id)
                for field in ("name", "channel", "recipient", "content_type"):
                    self.assertEqual(getattr(event, field), message.get(field), f"{case_id} {field}")
            deltas = "".join(event.text for event in mine if event.kind == ossrt.EventKind.CONTENT_DELTA)
            # Bytes still pending at the end of the stream reach the message as U+FFFD but no delta reports them.
            self.assertEqual(deltas, text.rstrip("\ufffd") if case_id == "invalid_token_id_in_content" else text,
                             case_id)
            if is_call:
                self.assertEqual((mine[-1].kind, mine[-1].recipient, mine[-1].text),
                                 (ossrt.EventKind.TOOL_CALL, message["recipient"], text), case_id)
            self.assertTrue(all(a.position <= b.position for a, b in zip(mine, mine[1:])), case_id)

    def test_lenient_mode_recovers(self):
        case = next(case for case in jsonl(DATA / "harmony" / "parse_cases.jsonl")
                    if case["id"] == "missing_message_token_strict")  # "I must refuse<|end|>..." after the header
        with ossrt.HarmonyParser(mode=ossrt.ParseMode.STRICT) as strict:
            with self.assertRaises(ossrt.InvalidArgument) as raised:
                strict.feed(case["tokens"])
            self.assertEqual(raised.exception.message, case["expected_error"])
            with self.assertRaises(ossrt.InvalidArgument):  # it refuses more input
                strict.push(200006)
        with ossrt.HarmonyParser(mode="lenient") as parser:
            events = parser.feed(case["tokens"]) + parser.finish()
            anomalies = [event for event in events if event.kind == ossrt.EventKind.ANOMALY]
            self.assertTrue(anomalies and all(event.anomaly for event in anomalies))
            self.assertEqual([message["channel"] for message in parser.messages()[-2:]], ["analysis", "final"])
        with self.assertRaises(ossrt.InvalidArgument):
            ossrt.HarmonyParser(mode="sloppy")
        with self.assertRaises(ossrt.InvalidArgument):
            ossrt.HarmonyParser().push(2 ** 40)

    def test_append_to_a_conversation(self):
        case = next(case for case in jsonl(DATA / "harmony" / "parse_cases.jsonl")
                    if case["id"] == "simple_reasoning_response")
        with chat_conversation("What is 2 + 2?") as conversation, ossrt.HarmonyParser() as parser:
            parser.feed(case["tokens"])
            parser.finish()
            parser.append_to(conversation)
            self.assertEqual(len(conversation), 2 + len(case["expected_messages"]))
            self.assertEqual(conversation.messages()[2:], json.loads(normalized(case["expected_messages"])))


class ChatModelTest(unittest.TestCase):
    """Tests on the chat model, loaded once per class."""

    @classmethod
    def setUpClass(cls):
        cls.model = ossrt.Model(TINY_CHAT)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    @contextlib.contextmanager
    def turn(self, **sampler_options):
        """A session, a conversation holding one question, and a sampler of these options."""
        with self.model.session(context_length=2048) as session, chat_conversation() as conversation, \
                ossrt.Sampler(**sampler_options) as sampler:
            yield session, conversation, sampler


class ChatTest(ChatModelTest):

    def test_two_turns_reuse_the_history(self):
        with self.turn(top_k=40, seed=5) as (session, conversation, sampler):
            events = []
            first = session.chat(conversation, sampler, max_tokens=20, on_event=events.append)
            self.assertEqual(first.prompt_tokens, len(chat_conversation().render()))
            self.assertEqual(first.reused_tokens, 0)
            self.assertEqual(first.generated_tokens, 20)
            self.assertIs(first.finish_reason, ossrt.FinishReason.LENGTH)
            self.assertEqual(len(conversation), 2 + first.messages_appended)
            self.assertEqual(first.anomalies, sum(event.kind == ossrt.EventKind.ANOMALY for event in events))
            self.assertTrue(all(event.role is ossrt.Role.ASSISTANT for event in events))
            self.assertEqual(session.num_tokens, first.prompt_tokens + first.generated_tokens)
            conversation.add_user("And of Italy?")
            prompt = conversation.render()
            second = session.chat(conversation, sampler, max_tokens=8)
            self.assertEqual(second.prompt_tokens, len(prompt))
            self.assertGreaterEqual(second.reused_tokens, first.prompt_tokens)
            self.assertEqual(session.tokens()[:len(prompt)], prompt)

    def test_same_seed_same_turn(self):
        runs = []
        for _ in range(2):
            with self.turn(top_k=40, seed=11) as (session, conversation, sampler):
                events = []
                result = session.chat(conversation, sampler, max_tokens=16, on_event=events.append)
                runs.append((session.tokens(), events, result, conversation.to_json()))
        self.assertEqual(runs[0], runs[1])

    def test_options(self):
        channel_forever = {200005: 1e4}  # <|channel|>
        with self.turn(temperature=0, logit_bias=channel_forever) as (session, conversation, sampler):
            conversation.set_reasoning_effort("high")
            result = session.chat(conversation, sampler, max_tokens=40, stop_tokens=[200005])
            self.assertIs(result.finish_reason, ossrt.FinishReason.STOP)
            self.assertEqual(result.generated_tokens, 1)
            with ossrt.Conversation() as high:
                high.add_system(reasoning_effort="high")
                high.add_user("What is the capital of France?")
                self.assertEqual(session.tokens()[:result.prompt_tokens], high.render())
        for budget in (0, 5):
            with self.turn(**ANALYSIS_FIRST) as (session, conversation, sampler):
                result = session.chat(conversation, sampler, max_tokens=30, reasoning_budget=budget)
                self.assertEqual(conversation.messages()[2]["channel"], "analysis")
                if budget:  # the 3 header tokens, then the budget's 5
                    self.assertEqual((result.finish_reason, result.generated_tokens, result.reasoning_tokens),
                                     (ossrt.FinishReason.REASONING_BUDGET, 8, 5))
                else:
                    self.assertEqual((result.finish_reason, result.generated_tokens),
                                     (ossrt.FinishReason.LENGTH, 30))
                    self.assertGreater(result.reasoning_tokens, 5)
        with self.model.session(context_length=64) as small, chat_conversation() as conversation:
            result = small.chat(conversation, max_tokens=100)
            self.assertIs(result.finish_reason, ossrt.FinishReason.CONTEXT_FULL)
            self.assertEqual(small.num_tokens, 64)

    def test_tool_history_and_built_in_tools_render_as_harmony(self):
        for case_id in ("tool_result_full_turn_then_final", "browser_and_python_tool"):
            case = render_case(case_id)
            with self.model.session(context_length=2048) as session, \
                    ossrt.Conversation.from_json(case["messages"]) as conversation, \
                    ossrt.Sampler(temperature=0) as sampler:
                result = session.chat(conversation, sampler, max_tokens=4)
                self.assertEqual(result.prompt_tokens, len(case["expected_tokens"]), case_id)
                self.assertEqual(session.tokens()[:result.prompt_tokens], case["expected_tokens"], case_id)

    def test_on_event_stops_and_raises(self):
        with self.turn(temperature=0, logit_bias=EVENTS_AT_ONCE) as (session, conversation, sampler):
            stopped = session.chat(conversation, sampler, max_tokens=20, on_event=lambda event: True)
            self.assertIs(stopped.finish_reason, ossrt.FinishReason.CANCELLED)
            self.assertEqual(stopped.generated_tokens, 1)
            with self.assertRaises(RuntimeError):
                session.chat(conversation, sampler, max_tokens=20, on_event=self.fail_on_event)
            again = session.chat(conversation, sampler, max_tokens=3)  # nothing pending, session idle
            self.assertIs(again.finish_reason, ossrt.FinishReason.LENGTH)

    @staticmethod
    def fail_on_event(event):
        raise RuntimeError("the host's callback failed")

    def test_a_busy_session_is_refused(self):
        with self.turn(temperature=0, logit_bias=EVENTS_AT_ONCE) as (session, conversation, sampler):
            refused = []

            def reenter(event):
                try:
                    session.append([1])
                except ossrt.InvalidState as error:
                    refused.append(error)
                return True

            session.chat(conversation, sampler, on_event=reenter)
            self.assertEqual(len(refused), 1)


class ChatStreamTest(ChatModelTest):

    def test_the_stream_is_the_callbacks_events(self):
        with self.turn(top_k=40, seed=5) as (session, conversation, sampler):
            called = []
            expected = session.chat(conversation, sampler, max_tokens=24, on_event=called.append)
            tokens, history = session.tokens(), conversation.to_json()
        with self.turn(top_k=40, seed=5) as (session, conversation, sampler):
            with session.chat_stream(conversation, sampler, max_tokens=24) as stream:
                self.assertIsNone(stream.result)
                streamed = list(stream)
            self.assertEqual(streamed, called)
            self.assertEqual(stream.result, expected)
            self.assertEqual((session.tokens(), conversation.to_json()), (tokens, history))
            self.assertEqual(list(stream), [])

    def test_breaking_out_cancels_the_turn(self):
        with self.turn(temperature=0, logit_bias=EVENTS_AT_ONCE) as (session, conversation, sampler):
            threads = threading.active_count()
            for event in session.chat_stream(conversation, sampler, max_tokens=1500):
                break  # the dropped stream cancels the turn and waits for it
            self.assertEqual(threading.active_count(), threads)
            self.assertLess(session.num_tokens, 1000)
            self.assertEqual(len(conversation), 3)  # the cut-short message stays as history
            with session.chat_stream(conversation, sampler, max_tokens=1500) as stream:
                next(stream)
            self.assertIs(stream.result.finish_reason, ossrt.FinishReason.CANCELLED)
            self.assertLess(stream.result.generated_tokens, 1500)
            result = session.chat(conversation, sampler, max_tokens=2)  # the session is free again
            self.assertIs(result.finish_reason, ossrt.FinishReason.LENGTH)

    def test_errors_surface_from_the_iteration(self):
        with self.model.session(context_length=2048) as session, ossrt.Conversation() as conversation:
            conversation.add_message("tool", "no name")
            stream = session.chat_stream(conversation)
            with self.assertRaises(ossrt.InvalidArgument):
                list(stream)
            self.assertIsNone(stream.result)
            with self.assertRaises(ossrt.InvalidArgument):
                session.chat_stream(conversation, on_event=print)

    def test_an_unreferenced_stream_is_collected(self):
        with self.model.session(context_length=2048) as session, chat_conversation() as conversation:
            threads = threading.active_count()
            session.chat_stream(conversation, max_tokens=1500)
            gc.collect()
            self.assertEqual(threading.active_count(), threads)
            self.assertIs(session.chat(conversation, max_tokens=1).finish_reason, ossrt.FinishReason.LENGTH)


class ToolCallTest(unittest.TestCase):
    """A function-calling round trip on the scripted weather model (tests/support/weather_script.h): it calls
    get_weather while no call is in its context, and answers once one is."""

    def test_round_trip(self):
        tools = [{"name": "get_weather", "description": "Current weather for a city.",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
        with ossrt.Model(WEATHER) as model, model.session() as session, ossrt.Conversation() as chat:
            chat.add_system()
            chat.set_reasoning_effort("low")
            chat.add_developer("Use get_weather for weather questions.", functions=tools)
            chat.add_user("What is the weather in Paris?")
            deltas = []
            first = session.chat(chat, on_event=lambda event: deltas.append(event)
                                 if event.kind is ossrt.EventKind.CONTENT_DELTA else None)
            self.assertIs(first.finish_reason, ossrt.FinishReason.TOOL_CALL)
            self.assertEqual(first.tool_call, ossrt.ToolCall(recipient="functions.get_weather",
                                                             arguments='{"city":"Paris"}', channel="commentary",
                                                             content_type="<|constrain|>json"))
            self.assertTrue(deltas)
            for event in deltas:  # every delta names the message it belongs to
                self.assertEqual((event.channel, event.recipient), ("commentary", "functions.get_weather"))
            chat.add_tool_result(first.tool_call.recipient, '{"forecast": "sunny"}')
            tool_message = chat.messages()[-1]
            self.assertEqual((tool_message["role"], tool_message["name"], tool_message["recipient"],
                              tool_message["channel"]), ("tool", "functions.get_weather", "assistant", "commentary"))
            second = session.chat(chat)
            self.assertIs(second.finish_reason, ossrt.FinishReason.STOP)
            self.assertIsNone(second.tool_call)
            self.assertGreater(second.reused_tokens, first.prompt_tokens)
            self.assertEqual(chat.messages()[-1]["content"][0]["text"], "It is sunny in Paris.")
            self.assertEqual(second.constrained_tokens, 0)

    def test_structured_output(self):
        """A strict tool whose schema refuses the script's city, and a response format for the answer."""
        tools = [{"name": "get_weather", "description": "Current weather for a city.",
                  "parameters": {"type": "object", "properties": {"city": {"enum": ["Rome", "Oslo"]}},
                                 "required": ["city"]}}]
        answer_schema = {"type": "object", "properties": {"sunny": {"type": "boolean"}}, "required": ["sunny"]}
        with ossrt.Model(WEATHER) as model, model.session() as session, ossrt.Conversation() as chat:
            chat.add_system()
            chat.add_developer(None, functions=tools)
            chat.add_user("What is the weather in Paris?")
            first = session.chat(chat, strict_tools=["get_weather"], response_format=answer_schema)
            self.assertIs(first.finish_reason, ossrt.FinishReason.TOOL_CALL)
            self.assertIn(json.loads(first.tool_call.arguments), [{"city": "Rome"}, {"city": "Oslo"}])
            self.assertGreater(first.constrained_tokens, 0)
            chat.add_tool_result(first.tool_call.recipient, "{}")
            second = session.chat(chat, strict_tools=["get_weather"], response_format=answer_schema,
                                  response_format_name="forecast")
            self.assertIs(second.finish_reason, ossrt.FinishReason.STOP)
            self.assertIn(json.loads(chat.messages()[-1]["content"][0]["text"]), [{"sunny": True}, {"sunny": False}])
            with self.assertRaisesRegex(ossrt.InvalidArgument, "response_format: .*byte"):
                session.chat(chat, response_format='{"type":"object","minProperties":1}')
            with self.assertRaisesRegex(ossrt.InvalidArgument, "'nope'"):
                session.chat(chat, strict_tools=["nope"])


class HandleTest(unittest.TestCase):
    def test_close_is_idempotent_and_closed_objects_refuse(self):
        objects = [ossrt.Runtime(), ossrt.Tokenizer(), ossrt.Sampler(), ossrt.Conversation(),
                   ossrt.HarmonyParser(), ossrt.DetokStream(), ossrt.Model(TINY_A)]
        objects.append(objects[-1].session())
        for item in objects:
            with item:
                self.assertFalse(item.closed)
            self.assertTrue(item.closed)
            item.close()
            with self.assertRaises(ossrt.InvalidState):
                item._handle
        with self.assertRaises(ossrt.InvalidState):
            objects[1].encode("x")

    def test_enum_arguments(self):
        self.assertEqual(ossrt._enum_value(ossrt.Role, "Assistant"), 3)
        self.assertEqual(ossrt._enum_value(ossrt.Role, ossrt.Role.TOOL), 4)
        self.assertEqual(ossrt._enum_value(ossrt.Role, -1), -1)
        with self.assertRaises(ossrt.InvalidArgument):
            ossrt._enum_value(ossrt.Role, 9)

    def test_unknown_enum_values_stay_ints(self):
        self.assertEqual(ossrt._as_enum(ossrt.FinishReason, 42), 42)
        self.assertIs(ossrt._as_enum(ossrt.FinishReason, 1), ossrt.FinishReason.TOOL_CALL)



class TourTest(unittest.TestCase):
    """The examples in the module's docstring and in README.md run as written, with the chat model for
    CHECKPOINT, shorter turns, and the repository as the working directory."""

    def run_tour(self, code):
        code, replaced = re.subn(r"^CHECKPOINT = .*$", f"CHECKPOINT = {TINY_CHAT!r}", code, flags=re.M)
        self.assertEqual(replaced, 1)
        code, replaced = re.subn(r"max_tokens=256", "max_tokens=32", code)  # the random model's words are noise
        self.assertGreater(replaced, 0)
        output, cwd = io.StringIO(), os.getcwd()
        os.chdir(ROOT)
        try:
            with contextlib.redirect_stdout(output):
                exec(compile(code, "tour", "exec"), {})
        finally:
            os.chdir(cwd)
        return output.getvalue()

    def test_the_modules_tour(self):
        code = textwrap.dedent(ossrt.__doc__.split("):\n\n", 1)[1].split("\nAlso:", 1)[0])
        output = self.run_tour(code).splitlines()
        self.assertEqual(output[0], "[35, 515, 341, 570]")
        self.assertEqual(output[2], "[13225, 11, 2375, 0]")

    def test_the_readmes_tour(self):
        readme = (ROOT / "README.md").read_text()
        code = readme[readme.index("### Python"):].split("```python\n", 1)[1].split("```", 1)[0]
        output = self.run_tour(code).splitlines()
        self.assertEqual(output[0], "[35, 515, 341, 570]")
        self.assertGreater(int(output[-1]), 0)  # reused tokens


if __name__ == "__main__":
    TINY_A, TINY_CHAT, WEATHER = sys.argv[1], sys.argv[2], sys.argv[3]
    unittest.main(argv=[sys.argv[0]] + sys.argv[4:])
