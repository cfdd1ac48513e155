"""Python binding of the ossrt C ABI (ctypes, no build step).

    import ossrt
    model = ossrt.Model("tests/data/tiny-a")
    session = model.session()
    session.append([714, 1108, 958, 985, 112])
    print(session.generate(8))                          # greedy
    print(session.generate(8, temperature=0.8, seed=1))  # sampled
    tok = ossrt.Tokenizer()
    tok.encode("Hello, world!"), tok.decode([13225, 11, 2375, 0])

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


class _EncodeOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("specials", _i32), ("allowed_ids", ctypes.POINTER(_i32)),
                ("n_allowed", _size), ("raw_bytes", _i32)]


def version():
    return _lib.ossrt_version_string().decode()


class Model:
    def __init__(self, directory):
        self._handle = _vp()
        _check(_lib.ossrt_model_load(str(directory).encode(), None, ctypes.byref(self._handle)))

    def session(self):
        return Session(self)

    def close(self):
        if self._handle:
            _lib.ossrt_model_destroy(self._handle)
            self._handle = _vp()

    __del__ = close


class Session:
    def __init__(self, model):
        self._handle = _vp()
        _check(_lib.ossrt_session_create(model._handle, None, ctypes.byref(self._handle)))

    def append(self, ids):
        array = (_i32 * len(ids))(*ids)
        _check(_lib.ossrt_session_append_tokens(self._handle, array, _size(len(ids))))

    def logits(self):
        pointer, count = ctypes.POINTER(ctypes.c_float)(), _size()
        _check(_lib.ossrt_session_get_logits(self._handle, ctypes.byref(pointer), ctypes.byref(count)))
        return pointer[: count.value]

    def generate(self, max_tokens, stop=(), temperature=None, top_p=1.0, top_k=0, seed=0):
        out, n = (_i32 * max_tokens)(), _size()
        stops = (_i32 * len(stop))(*stop)
        if temperature is None:
            _check(_lib.ossrt_session_generate_greedy(self._handle, _size(max_tokens), stops, _size(len(stop)), out,
                                                      _size(max_tokens), ctypes.byref(n)))
        else:
            options = _SamplerOptions()
            _lib.ossrt_sampler_options_init(ctypes.byref(options))
            options.temperature, options.top_p, options.top_k, options.seed = temperature, top_p, top_k, seed
            sampler = _vp()
            _check(_lib.ossrt_sampler_create(ctypes.byref(options), ctypes.byref(sampler)))
            try:
                _check(_lib.ossrt_session_generate(self._handle, sampler, _size(max_tokens), stops, _size(len(stop)),
                                                   out, _size(max_tokens), ctypes.byref(n)))
            finally:
                _lib.ossrt_sampler_destroy(sampler)
        return list(out[: n.value])

    def cancel(self):
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
