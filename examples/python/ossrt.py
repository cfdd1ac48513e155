"""Python binding of the ossrt C ABI (ctypes, no build step).

    import ossrt
    model = ossrt.Model("tests/data/tiny-a")
    session = model.session()
    session.append([714, 1108, 958, 985, 112])
    print(session.generate(8))                          # greedy
    print(session.generate(8, temperature=0.8, seed=1))  # sampled
    tok = ossrt.Tokenizer()
    tok.encode("Hello, world!"), tok.decode([13225, 11, 2375, 0])

    # harmony chat (needs a model with the full vocabulary: a real gpt-oss)
    chat = ossrt.Conversation(effort="low")
    chat.add_user("What is the capital of France?")
    result = session.chat(chat, on_event=lambda e: print(e.text, end="") if e.channel == "final" else None)
    chat.add_user("And of Italy?")
    session.chat(chat)          # result.reused_tokens: the history is not prefilled again

Errors raise ossrt.Error carrying the status name and the library's message.
Set OSSRT_LIBRARY to the path of libossrt_c.so if it is not found next to
this file's build tree or on the loader path.
"""
import ctypes
import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _load_library():
    candidates = [os.environ.get("OSSRT_LIBRARY"), _HERE.parents[1] / "build" / "lib" / "libossrt_c.so",
                  "libossrt_c.so"]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return ctypes.CDLL(str(candidate))
        except OSError:
            continue
    raise OSError("libossrt_c.so not found; set OSSRT_LIBRARY")


_lib = _load_library()
_i32, _size, _vp = ctypes.c_int32, ctypes.c_size_t, ctypes.c_void_p
_lib.ossrt_status_string.restype = ctypes.c_char_p
_lib.ossrt_last_error_message.restype = ctypes.c_char_p
_lib.ossrt_version_string.restype = ctypes.c_char_p


class Error(RuntimeError):
    def __init__(self, status):
        self.status = _lib.ossrt_status_string(status).decode()
        super().__init__(f"{self.status}: {_lib.ossrt_last_error_message().decode(errors='replace')}")


_STATUS_BUFFER_TOO_SMALL = 15


def _check(status):
    if status != 0:
        raise Error(status)


def _fill(call, make_buffer):
    """The C ABI's required-size idiom: ask for the size, then fill a buffer of it.

    call(buffer, capacity, count_pointer) -> status; returns (buffer, count)."""
    count = _size()
    status = call(None, _size(0), ctypes.byref(count))
    if status not in (0, _STATUS_BUFFER_TOO_SMALL):
        _check(status)
    buffer = make_buffer(count.value)
    _check(call(buffer, count, ctypes.byref(count)))
    return buffer, count.value


class _SamplerOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("temperature", ctypes.c_float), ("top_k", ctypes.c_uint64),
                ("top_p", ctypes.c_float), ("min_p", ctypes.c_float), ("repetition_penalty", ctypes.c_float),
                ("presence_penalty", ctypes.c_float), ("frequency_penalty", ctypes.c_float),
                ("penalty_last_n", ctypes.c_uint64), ("bias_ids", ctypes.POINTER(_i32)),
                ("bias_values", ctypes.POINTER(ctypes.c_float)), ("n_bias", _size), ("seed", ctypes.c_uint64)]


class _ModelOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("backend", ctypes.c_char_p), ("runtime", _vp), ("preload", _i32),
                ("progress", _vp), ("progress_user_data", _vp), ("weights_in_memory", _i32), ("validate_weights", _i32)]


class _SessionOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("context_length", ctypes.c_uint64),
                ("max_batch_tokens", ctypes.c_uint64), ("prefill_progress", _vp),
                ("prefill_progress_user_data", _vp), ("rewind_tokens", ctypes.c_uint64),
                ("threads", ctypes.c_uint32), ("numerics", _i32)]


class _SessionMemory(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("kv_cache_bytes", ctypes.c_uint64),
                ("scratch_bytes", ctypes.c_uint64), ("logits_bytes", ctypes.c_uint64),
                ("context_length", ctypes.c_uint64)]


class _SystemOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("model_identity", ctypes.c_char_p), ("reasoning_effort", _i32),
                ("knowledge_cutoff", ctypes.c_char_p), ("conversation_start_date", ctypes.c_char_p),
                ("browser_tool", _i32), ("python_tool", _i32)]


class _HarmonyEvent(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("kind", _i32), ("position", _size), ("message_index", _size),
                ("role", _i32), ("name", ctypes.c_char_p), ("channel", ctypes.c_char_p),
                ("recipient", ctypes.c_char_p), ("content_type", ctypes.c_char_p), ("text", _vp),
                ("text_len", _size), ("anomaly", ctypes.c_char_p)]


class _ChatOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("reasoning_effort", _i32), ("max_tokens", ctypes.c_uint64),
                ("reasoning_budget", ctypes.c_uint64), ("extra_stop_tokens", ctypes.POINTER(_i32)),
                ("n_extra_stop_tokens", _size), ("auto_drop_analysis", _i32), ("on_event", _vp),
                ("on_event_user_data", _vp)]


class _ChatResult(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("finish_reason", _i32), ("prompt_tokens", ctypes.c_uint64),
                ("reused_tokens", ctypes.c_uint64), ("generated_tokens", ctypes.c_uint64),
                ("reasoning_tokens", ctypes.c_uint64), ("messages_appended", ctypes.c_uint64),
                ("anomalies", ctypes.c_uint64)]


_LoadProgress = ctypes.CFUNCTYPE(_i32, ctypes.c_uint64, ctypes.c_uint64, _vp)
_PrefillProgress = ctypes.CFUNCTYPE(_i32, _size, _size, _vp)
_LogCallback = ctypes.CFUNCTYPE(None, _i32, ctypes.c_char_p, _size, _vp)
_EventCallback = ctypes.CFUNCTYPE(_i32, ctypes.POINTER(_HarmonyEvent), _vp)
_lib.ossrt_finish_reason_string.restype = ctypes.c_char_p
_EFFORTS = {"low": 0, "medium": 1, "high": 2}
_EVENT_KINDS = ("message_start", "content_delta", "message_end", "tool_call", "anomaly")
_LOG_LEVELS = ("debug", "info", "warning", "error")


def _text(value):
    return value.decode(errors="replace") if value is not None else None


class _EncodeOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("specials", _i32), ("allowed_ids", ctypes.POINTER(_i32)),
                ("n_allowed", _size), ("raw_bytes", _i32)]


def version():
    return _lib.ossrt_version_string().decode()


class Runtime:
    """A log sink: log(level_name, message) is called for the models loaded with it."""

    def __init__(self, log=None, level="info"):
        self._handle = _vp()
        _check(_lib.ossrt_runtime_create(ctypes.byref(self._handle)))
        self._callback = _LogCallback(lambda lvl, msg, n, _: log(_LOG_LEVELS[lvl], msg[:n].decode(errors="replace")))
        if log is not None:
            _check(_lib.ossrt_runtime_set_log_callback(self._handle, self._callback, None, _LOG_LEVELS.index(level)))

    def close(self):
        if self._handle:
            _lib.ossrt_runtime_set_log_callback(self._handle, None, None, 0)
            _lib.ossrt_runtime_destroy(self._handle)
            self._handle = _vp()

    __del__ = close


class Model:
    """A loaded checkpoint. progress(done, total) -> truthy cancels the load."""

    def __init__(self, directory, runtime=None, preload=False, progress=None):
        self._handle = _vp()
        options = _ModelOptions()
        _lib.ossrt_model_options_init(ctypes.byref(options))
        options.runtime = runtime._handle if runtime is not None else None
        options.preload = 1 if preload else 0
        callback = _LoadProgress(lambda done, total, _: 1 if progress(done, total) else 0)
        if progress is not None:
            options.progress = ctypes.cast(callback, _vp)
        _check(_lib.ossrt_model_load(str(directory).encode(), ctypes.byref(options), ctypes.byref(self._handle)))

    def session(self, **options):
        return Session(self, **options)

    def close(self):
        if self._handle:
            _lib.ossrt_model_destroy(self._handle)
            self._handle = _vp()

    __del__ = close


class Conversation:
    """A harmony conversation: a system message (reasoning effort) and the turns."""

    def __init__(self, effort="medium", instructions=None):
        self._handle = _vp()
        _check(_lib.ossrt_conversation_create(ctypes.byref(self._handle)))
        system = _SystemOptions()
        _lib.ossrt_system_options_init(ctypes.byref(system))
        system.reasoning_effort = _EFFORTS[effort]
        _check(_lib.ossrt_conversation_add_system(self._handle, ctypes.byref(system)))
        if instructions is not None:
            _check(_lib.ossrt_conversation_add_developer(self._handle, instructions.encode(), None))

    def add_user(self, text):
        data = text.encode()
        _check(_lib.ossrt_conversation_add_message(self._handle, 2, None, None, None, None, data, _size(len(data))))

    def __len__(self):
        n = _size()
        _check(_lib.ossrt_conversation_size(self._handle, ctypes.byref(n)))
        return n.value

    def to_json(self):
        text, count = _fill(lambda buffer, capacity, n: _lib.ossrt_conversation_to_json(self._handle, buffer, capacity,
                                                                                         n), ctypes.create_string_buffer)
        return text.raw[:count].decode()

    def close(self):
        if self._handle:
            _lib.ossrt_conversation_destroy(self._handle)
            self._handle = _vp()

    __del__ = close


class Event:
    """One harmony parser event of a chat turn."""

    def __init__(self, c):
        self.kind = _EVENT_KINDS[c.kind]
        self.channel, self.recipient = _text(c.channel), _text(c.recipient)
        self.text = ctypes.string_at(c.text, c.text_len).decode(errors="replace")
        self.anomaly = _text(c.anomaly)


class ChatResult:
    def __init__(self, c):
        self.finish_reason = _lib.ossrt_finish_reason_string(c.finish_reason).decode()
        self.prompt_tokens, self.reused_tokens = c.prompt_tokens, c.reused_tokens
        self.generated_tokens, self.reasoning_tokens = c.generated_tokens, c.reasoning_tokens
        self.messages_appended, self.anomalies = c.messages_appended, c.anomalies


class Session:
    """One conversation's tokens and KV cache. prefill_progress(done, total) -> truthy cancels.
    numerics: "exact" (fp32 KV cache) or "fast" (bf16 KV cache, half the memory; 15-bit expert inputs)."""

    _NUMERICS = {"exact": 0, "fast": 1}

    def __init__(self, model, context_length=0, max_batch_tokens=512, prefill_progress=None, numerics="exact"):
        self._handle = _vp()
        options = _SessionOptions()
        _lib.ossrt_session_options_init(ctypes.byref(options))
        options.context_length, options.max_batch_tokens = context_length, max_batch_tokens
        if numerics not in self._NUMERICS:
            raise ValueError("numerics is 'exact' or 'fast'")
        options.numerics = self._NUMERICS[numerics]
        self._progress = _PrefillProgress(lambda done, total, _: 1 if prefill_progress(done, total) else 0)
        if prefill_progress is not None:
            options.prefill_progress = ctypes.cast(self._progress, _vp)
        _check(_lib.ossrt_session_create(model._handle, ctypes.byref(options), ctypes.byref(self._handle)))

    def append(self, ids):
        array = (_i32 * len(ids))(*ids)
        _check(_lib.ossrt_session_append_tokens(self._handle, array, _size(len(ids))))

    def logits(self):
        pointer, count = ctypes.POINTER(ctypes.c_float)(), _size()
        _check(_lib.ossrt_session_get_logits(self._handle, ctypes.byref(pointer), ctypes.byref(count)))
        return pointer[: count.value]

    def tokens(self):
        out, count = _fill(lambda buffer, capacity, n: _lib.ossrt_session_get_tokens(self._handle, buffer, capacity, n),
                           lambda k: (_i32 * k)())
        return list(out[:count])

    def sync_prefix(self, ids):
        """Holds exactly ids afterwards; returns how many were reused from the cache."""
        array, reused = (_i32 * len(ids))(*ids), _size()
        _check(_lib.ossrt_session_sync_prefix(self._handle, array, _size(len(ids)), ctypes.byref(reused)))
        return reused.value

    def truncate(self, n_keep):
        _check(_lib.ossrt_session_truncate(self._handle, _size(n_keep)))

    def save_state(self):
        blob, count = _fill(lambda buffer, capacity, n: _lib.ossrt_session_save_state(self._handle, buffer, capacity,
                                                                                       n), lambda k: (ctypes.c_uint8 * k)())
        return bytes(blob[:count])

    def restore_state(self, blob):
        _check(_lib.ossrt_session_restore_state(self._handle, blob, _size(len(blob))))

    def memory(self):
        m = _SessionMemory()
        m.struct_size = ctypes.sizeof(m)
        _check(_lib.ossrt_session_get_memory(self._handle, ctypes.byref(m)))
        return {name: getattr(m, name) for name, _ in _SessionMemory._fields_[1:]}

    @staticmethod
    def _sampler(temperature, top_p, top_k, seed, logit_bias=None):
        options = _SamplerOptions()
        _lib.ossrt_sampler_options_init(ctypes.byref(options))
        options.temperature, options.top_p, options.top_k, options.seed = temperature, top_p, top_k, seed
        if logit_bias:
            ids, values = list(logit_bias.keys()), list(logit_bias.values())
            options.bias_ids = (_i32 * len(ids))(*ids)  # copied by ossrt_sampler_create
            options.bias_values = (ctypes.c_float * len(values))(*values)
            options.n_bias = len(ids)
        sampler = _vp()
        _check(_lib.ossrt_sampler_create(ctypes.byref(options), ctypes.byref(sampler)))
        return sampler

    def generate(self, max_tokens, stop=(), temperature=None, top_p=1.0, top_k=0, seed=0):
        out, n = (_i32 * max_tokens)(), _size()
        stops = (_i32 * len(stop))(*stop)
        if temperature is None:
            _check(_lib.ossrt_session_generate_greedy(self._handle, _size(max_tokens), stops, _size(len(stop)), out,
                                                      _size(max_tokens), ctypes.byref(n)))
        else:
            sampler = self._sampler(temperature, top_p, top_k, seed)
            try:
                _check(_lib.ossrt_session_generate(self._handle, sampler, _size(max_tokens), stops, _size(len(stop)),
                                                   out, _size(max_tokens), ctypes.byref(n)))
            finally:
                _lib.ossrt_sampler_destroy(sampler)
        return list(out[: n.value])

    def chat(self, conversation, effort=None, max_tokens=4096, reasoning_budget=0, temperature=1.0, top_p=1.0,
             seed=0, logit_bias=None, on_event=None):
        """One assistant turn; its messages are appended to conversation. on_event(Event) -> truthy stops.

        logit_bias: {token id: value added to its logit}."""
        options = _ChatOptions()
        _lib.ossrt_chat_options_init(ctypes.byref(options))
        if effort is not None:
            options.reasoning_effort = _EFFORTS[effort]
        options.max_tokens, options.reasoning_budget = max_tokens, reasoning_budget
        callback = _EventCallback(lambda event, _: 1 if on_event(Event(event.contents)) else 0)
        if on_event is not None:
            options.on_event = ctypes.cast(callback, _vp)
        result = _ChatResult()
        result.struct_size = ctypes.sizeof(result)
        sampler = self._sampler(temperature, top_p, 0, seed, logit_bias)
        try:
            _check(_lib.ossrt_chat_turn(self._handle, conversation._handle, sampler, ctypes.byref(options),
                                        ctypes.byref(result)))
        finally:
            _lib.ossrt_sampler_destroy(sampler)
        return ChatResult(result)

    def cancel(self):
        """Stops the call running on this session (from any thread); it raises Error('cancelled')."""
        _lib.ossrt_session_cancel(self._handle)

    def close(self):
        if self._handle:
            _lib.ossrt_session_destroy(self._handle)
            self._handle = _vp()

    __del__ = close


class Tokenizer:
    def __init__(self):
        self._handle = _vp()
        _check(_lib.ossrt_tokenizer_create(ctypes.byref(self._handle)))

    def encode(self, text, allow_special=False):
        data = text.encode() if isinstance(text, str) else bytes(text)
        options = _EncodeOptions()
        _lib.ossrt_encode_options_init(ctypes.byref(options))
        options.specials = 1 if allow_special else 0  # OSSRT_SPECIALS_ALL / _NONE
        out, count = _fill(lambda buffer, capacity, n: _lib.ossrt_tokenizer_encode(
            self._handle, data, _size(len(data)), ctypes.byref(options), buffer, capacity, n), lambda k: (_i32 * k)())
        return list(out[:count])

    def decode(self, ids):
        array = (_i32 * len(ids))(*ids)
        text, count = _fill(lambda buffer, capacity, n: _lib.ossrt_tokenizer_decode(
            self._handle, array, _size(len(ids)), 0, buffer, capacity, n), ctypes.create_string_buffer)
        return text.raw[:count].decode(errors="replace")

    def close(self):
        if self._handle:
            _lib.ossrt_tokenizer_destroy(self._handle)
            self._handle = _vp()

    __del__ = close
