"""ossrt: the Python binding of ossrt's C ABI (capi/include/ossrt.h), over ctypes.

No build step and no dependencies: this one file plus libossrt_c.so is a
complete install. A short tour (tests/data/tiny-a is the bundled reference
model; harmony chat needs a model with the full vocabulary: a gpt-oss
checkpoint, or `ossrt make-checkpoint --preset tiny-chat --out DIR`):

    import ossrt
    CHECKPOINT = "gpt-oss-20b/original"  # a checkpoint directory (config.json + *.safetensors)

    with ossrt.Model("tests/data/tiny-a") as model, model.session() as session:
        session.append([714, 1108, 958, 985, 112])      # prefill
        print(session.generate(4))                      # greedy: [35, 515, 341, 570]
        with ossrt.Sampler(temperature=0.8, seed=1) as sampler:
            print(session.generate(8, sampler=sampler)) # sampled; same seed, same tokens

    tokenizer = ossrt.Tokenizer()
    print(tokenizer.encode("Hello, world!"))            # [13225, 11, 2375, 0]

    chat = ossrt.Conversation()
    chat.add_system(reasoning_effort="low")
    chat.add_developer("Answer briefly.", functions=[{"name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}])
    chat.add_user("What is the weather in Paris?")
    with ossrt.Model(CHECKPOINT) as model, model.session() as session:
        with session.chat_stream(chat, max_tokens=256) as stream:
            for event in stream:                        # events arrive while the turn runs
                if event.kind is ossrt.EventKind.CONTENT_DELTA and event.channel == "final":
                    print(event.text, end="")           # deltas name their channel: analysis, commentary, final
        call = stream.result.tool_call                  # set when the turn ended in a tool call
        if call is not None:                            # call.recipient, call.arguments (JSON)
            chat.add_tool_result(call.recipient, '{"celsius": 21}')
            print(session.chat(chat, max_tokens=256))   # the history is not prefilled again

Also: Conversation.from_json / to_json / render, HarmonyParser (model output
back to messages), Session.fork / save_state / restore_state / memory,
Model.info, Runtime (a log sink), cancel from any thread, devices() (the GPUs
that Model(path, backend="cuda:N") runs on).

Errors raise OssrtError subclasses (InvalidArgument, NotFound, InvalidToken,
ContextOverflow, Cancelled, ...) carrying .status, .status_name and the
library's message. An exception raised by a Python callback never crosses into
C: the call it interrupted stops (a callback that can cancel does so) and the
exception is re-raised once the call has returned. Objects free their handle
on close(), at the end of a `with` block, or when collected. Thread rules are
the C ABI's: a Session (and a Conversation, HarmonyParser, DetokStream) serves
one thread at a time; Model, Tokenizer, Sampler and Runtime any number.

The library loaded: $OSSRT_LIBRARY if set (only that), else libossrt_c.so
next to this file (the one-file copy and the pip package), in build/lib of the
source checkout holding this file, in sys.prefix/lib, or on the loader's path
(an installed prefix known to ldconfig or LD_LIBRARY_PATH).
"""

from __future__ import annotations

import array
import ctypes
import dataclasses
import enum
import functools
import json
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

__all__ = [
    "ABI_VERSION", "OMIT", "version", "abi_version", "library_path", "status_string", "finish_reason_string",
    "stop_tokens", "devices", "estimate_memory", "MemoryEstimate",
    "Status", "Role", "ReasoningEffort", "RenderKind", "ParseMode", "EventKind", "FinishReason", "Numerics",
    "SpecialToken", "LogLevel",
    "OssrtError", "Error", "InvalidArgument", "InvalidState", "NotFound", "IoError", "OutOfMemory", "Unsupported",
    "InvalidConfig", "InvalidCheckpoint", "UnsupportedDtype", "TensorMismatch", "InvalidToken", "ContextOverflow",
    "Cancelled", "InternalError", "BufferTooSmall", "PermissionDenied", "DeviceError",
    "Device", "Runtime", "Model", "ModelInfo", "ToolCall", "Tokenizer", "DetokStream", "Session", "SessionMemory",
    "Sampler", "Conversation", "HarmonyParser", "Event", "ChatResult", "ChatStream", "BatchDecoder",
    "Scheduler", "GenerationEnd", "GenerationProgress", "StepReport",
]

# OSSRT_ABI_VERSION of the header this binding mirrors; the library must report the same.
ABI_VERSION = 1

# ---- the library ------------------------------------------------------------

_LIBRARY_NAME = {"darwin": "libossrt_c.dylib", "win32": "ossrt_c.dll"}.get(sys.platform, "libossrt_c.so")


def _library_candidates() -> list[str]:
    explicit = os.environ.get("OSSRT_LIBRARY")
    if explicit:
        return [explicit]  # only the library asked for: loading another one would hide the mistake
    here = Path(__file__).resolve().parent
    places = [here, here.parent.parent / "build" / "lib", Path(sys.prefix) / "lib"]
    return [str(place / _LIBRARY_NAME) for place in places] + [_LIBRARY_NAME]


def _load_library() -> tuple[ctypes.CDLL, str]:
    failures = []
    for candidate in _library_candidates():
        if os.sep in candidate and not os.path.exists(candidate):
            failures.append(f"{candidate}: no such file")
            continue
        try:
            return ctypes.CDLL(candidate), candidate
        except OSError as error:
            failures.append(str(error))
    raise ImportError("ossrt: libossrt_c was not found; set OSSRT_LIBRARY to its path. Tried:\n  " +
                      "\n  ".join(failures))


_lib, _library_path = _load_library()

# ---- C types: every struct as ossrt.h declares it, fields in order ----------
# A field appended to an output struct is appended to its record too (ModelInfo, SessionMemory, ChatResult,
# Event; LibraryTest checks that they match), converted in _record's call where it is not a plain number.

_i32, _u32, _u64, _size, _float = ctypes.c_int32, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_float
_vp, _str = ctypes.c_void_p, ctypes.c_char_p
_I32P, _SIZEP, _VPP = ctypes.POINTER(_i32), ctypes.POINTER(_size), ctypes.POINTER(_vp)
_CHARP = ctypes.POINTER(ctypes.c_char)

_LogCallback = ctypes.CFUNCTYPE(None, _i32, _vp, _size, _vp)
_LoadProgress = ctypes.CFUNCTYPE(_i32, _u64, _u64, _vp)
_PrefillProgress = ctypes.CFUNCTYPE(_i32, _size, _size, _vp)


class _DeviceInfo(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("backend", ctypes.c_char * 32), ("description", ctypes.c_char * 128),
                ("memory_bytes", _u64), ("free_bytes", _u64)]


class _MemoryEstimate(ctypes.Structure):
    _fields_ = [("struct_size", _u32)] + [(name, _u64) for name in (
        "weight_bytes", "backend_weight_bytes", "host_weight_bytes", "kv_bytes_per_token", "kv_ring_bytes", "kv_bytes",
        "scratch_bytes", "session_bytes", "backend_bytes", "total_bytes")]


class _ModelOptions(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("backend", _str), ("runtime", _vp), ("preload", _i32),
                ("progress", _LoadProgress), ("progress_user_data", _vp), ("weights_in_memory", _i32),
                ("validate_weights", _i32), ("cpu_expert_layers", _u64), ("memory_budget_bytes", _u64)]


class _ModelInfo(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("num_hidden_layers", _i32), ("num_experts", _i32),
                ("experts_per_token", _i32), ("vocab_size", _i32), ("hidden_size", _i32),
                ("intermediate_size", _i32), ("head_dim", _i32), ("num_attention_heads", _i32),
                ("num_key_value_heads", _i32), ("sliding_window", _i32), ("max_context_length", _u64),
                ("parameter_count", _u64), ("weight_bytes", _u64), ("cpu_expert_layers", _u64),
                ("host_expert_bytes", _u64), ("layout", _str), ("dense_format", _str), ("converted_bytes", _u64),
                ("tiled_expert_matrices", _u64)]


class _EncodeOptions(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("specials", _i32), ("allowed_ids", _I32P), ("n_allowed", _size),
                ("raw_bytes", _i32)]


class _SessionOptions(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("context_length", _u64), ("max_batch_tokens", _u64),
                ("prefill_progress", _PrefillProgress), ("prefill_progress_user_data", _vp),
                ("rewind_tokens", _u64), ("threads", _u32), ("numerics", _i32)]


class _SamplerOptions(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("temperature", _float), ("top_k", _u64), ("top_p", _float),
                ("min_p", _float), ("repetition_penalty", _float), ("presence_penalty", _float),
                ("frequency_penalty", _float), ("penalty_last_n", _u64), ("bias_ids", _I32P),
                ("bias_values", ctypes.POINTER(_float)), ("n_bias", _size), ("seed", _u64)]


class _SessionMemory(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("kv_cache_bytes", _u64), ("scratch_bytes", _u64), ("logits_bytes", _u64),
                ("context_length", _u64)]


class _SystemOptions(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("model_identity", _str), ("reasoning_effort", _i32),
                ("knowledge_cutoff", _str), ("conversation_start_date", _str), ("browser_tool", _i32),
                ("python_tool", _i32)]


class _RenderOptions(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("kind", _i32), ("next_role", _i32), ("auto_drop_analysis", _i32)]


class _HarmonyEvent(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("kind", _i32), ("position", _size), ("message_index", _size),
                ("role", _i32), ("name", _str), ("channel", _str), ("recipient", _str), ("content_type", _str),
                ("text", _vp), ("text_len", _size), ("anomaly", _str)]


_EventCallback = ctypes.CFUNCTYPE(_i32, ctypes.POINTER(_HarmonyEvent), _vp)


class _ChatOptions(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("reasoning_effort", _i32), ("max_tokens", _u64),
                ("reasoning_budget", _u64), ("extra_stop_tokens", _I32P), ("n_extra_stop_tokens", _size),
                ("auto_drop_analysis", _i32), ("on_event", _EventCallback), ("on_event_user_data", _vp),
                ("response_format", _str), ("response_format_name", _str), ("strict_tools", ctypes.POINTER(_str)),
                ("n_strict_tools", _size)]


class _ChatResult(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("finish_reason", _i32), ("prompt_tokens", _u64), ("reused_tokens", _u64),
                ("generated_tokens", _u64), ("reasoning_tokens", _u64), ("messages_appended", _u64),
                ("anomalies", _u64), ("tool_call_recipient", _str), ("tool_call_arguments", _vp),
                ("tool_call_arguments_len", _size), ("tool_call_channel", _str), ("tool_call_content_type", _str),
                ("constrained_tokens", _u64)]


_TokenCallback = ctypes.CFUNCTYPE(_i32, _i32, _vp)
_LogitsCallback = ctypes.CFUNCTYPE(_i32, ctypes.POINTER(ctypes.c_float), _size, _vp)


class _SchedulerOptions(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("max_sessions", _u64), ("max_step_tokens", _u64)]


class _GenerationRequest(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("prompt", _I32P), ("n_prompt", _size), ("sampler", _vp),
                ("max_tokens", _u64), ("stop_tokens", _I32P), ("n_stop_tokens", _size),
                ("on_token", _TokenCallback), ("on_token_user_data", _vp),
                ("logits_processor", _LogitsCallback), ("logits_processor_user_data", _vp), ("reuse_prefix", _i32)]


class _GenerationProgress(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("end", _i32), ("status", _i32), ("prompt_left", _u64), ("n_tokens", _u64),
                ("reused_tokens", _u64)]


class _StepReport(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("decode_tokens", _u64), ("prompt_tokens", _u64), ("sessions_ended", _u64)]


def _pointer_to(struct_type: type[ctypes.Structure]) -> Any:
    return ctypes.POINTER(struct_type)


# Every function of ossrt.h: name -> (result type, argument types), in the header's order. A function added to
# the header gets its line here (LibraryTest checks this list against capi/exported_symbols.txt).
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "ossrt_abi_version": (_i32, []),
    "ossrt_version_string": (_str, []),
    "ossrt_status_string": (_str, [_i32]),
    "ossrt_last_error_message": (_str, []),
    "ossrt_runtime_create": (_i32, [_VPP]),
    "ossrt_runtime_destroy": (None, [_vp]),
    "ossrt_runtime_set_log_callback": (_i32, [_vp, _LogCallback, _vp, _i32]),
    "ossrt_device_info_init": (None, [_pointer_to(_DeviceInfo)]),
    "ossrt_device_count": (_i32, [_SIZEP]),
    "ossrt_device_get_info": (_i32, [_size, _pointer_to(_DeviceInfo)]),
    "ossrt_model_options_init": (None, [_pointer_to(_ModelOptions)]),
    "ossrt_memory_estimate_init": (None, [_pointer_to(_MemoryEstimate)]),
    "ossrt_model_estimate": (_i32, [_str, _pointer_to(_ModelOptions), _pointer_to(_SessionOptions),
                                    _pointer_to(_MemoryEstimate)]),
    "ossrt_model_load": (_i32, [_str, _pointer_to(_ModelOptions), _VPP]),
    "ossrt_model_destroy": (None, [_vp]),
    "ossrt_model_info_init": (None, [_pointer_to(_ModelInfo)]),
    "ossrt_model_get_info": (_i32, [_vp, _pointer_to(_ModelInfo)]),
    "ossrt_encode_options_init": (None, [_pointer_to(_EncodeOptions)]),
    "ossrt_tokenizer_create": (_i32, [_VPP]),
    "ossrt_model_get_tokenizer": (_i32, [_vp, _VPP]),
    "ossrt_tokenizer_destroy": (None, [_vp]),
    "ossrt_tokenizer_encode": (_i32, [_vp, _str, _size, _pointer_to(_EncodeOptions), _I32P, _size, _SIZEP]),
    "ossrt_tokenizer_decode": (_i32, [_vp, _I32P, _size, _i32, _CHARP, _size, _SIZEP]),
    "ossrt_tokenizer_token_bytes": (_i32, [_vp, _i32, ctypes.POINTER(_vp), _SIZEP]),
    "ossrt_tokenizer_special_id": (_i32, [_vp, _i32, _I32P]),
    "ossrt_tokenizer_find_special": (_i32, [_vp, _str, _size, _I32P]),
    "ossrt_tokenizer_vocab_size": (_i32, [_vp, _SIZEP]),
    "ossrt_detok_stream_create": (_i32, [_vp, _VPP]),
    "ossrt_detok_stream_destroy": (None, [_vp]),
    "ossrt_detok_stream_push": (_i32, [_vp, _i32, _CHARP, _size, _SIZEP]),
    "ossrt_detok_stream_finish": (_i32, [_vp, _CHARP, _size, _SIZEP]),
    "ossrt_session_options_init": (None, [_pointer_to(_SessionOptions)]),
    "ossrt_session_create": (_i32, [_vp, _pointer_to(_SessionOptions), _VPP]),
    "ossrt_session_destroy": (None, [_vp]),
    "ossrt_session_append_tokens": (_i32, [_vp, _I32P, _size]),
    "ossrt_session_get_logits": (_i32, [_vp, ctypes.POINTER(ctypes.POINTER(_float)), _SIZEP]),
    "ossrt_session_get_num_tokens": (_i32, [_vp, _SIZEP]),
    "ossrt_session_generate_greedy": (_i32, [_vp, _size, _I32P, _size, _I32P, _size, _SIZEP]),
    "ossrt_sampler_options_init": (None, [_pointer_to(_SamplerOptions)]),
    "ossrt_sampler_create": (_i32, [_pointer_to(_SamplerOptions), _VPP]),
    "ossrt_sampler_destroy": (None, [_vp]),
    "ossrt_session_generate": (_i32, [_vp, _vp, _size, _I32P, _size, _I32P, _size, _SIZEP]),
    "ossrt_session_fork": (_i32, [_vp, _VPP]),
    "ossrt_session_cancel": (None, [_vp]),
    "ossrt_session_reset": (_i32, [_vp]),
    "ossrt_batch_decoder_create": (_i32, [_vp, _size, _VPP]),
    "ossrt_batch_decoder_destroy": (None, [_vp]),
    "ossrt_batch_decoder_step": (_i32, [_vp, ctypes.POINTER(_vp), _I32P, _size]),
    "ossrt_batch_decoder_cancel": (None, [_vp]),
    "ossrt_scheduler_options_init": (None, [_pointer_to(_SchedulerOptions)]),
    "ossrt_generation_request_init": (None, [_pointer_to(_GenerationRequest)]),
    "ossrt_generation_progress_init": (None, [_pointer_to(_GenerationProgress)]),
    "ossrt_step_report_init": (None, [_pointer_to(_StepReport)]),
    "ossrt_scheduler_create": (_i32, [_vp, _pointer_to(_SchedulerOptions), _VPP]),
    "ossrt_scheduler_destroy": (None, [_vp]),
    "ossrt_scheduler_join": (_i32, [_vp, _vp, _pointer_to(_GenerationRequest)]),
    "ossrt_scheduler_leave": (_i32, [_vp, _vp]),
    "ossrt_scheduler_cancel": (_i32, [_vp, _vp]),
    "ossrt_scheduler_step": (_i32, [_vp, _pointer_to(_StepReport)]),
    "ossrt_scheduler_active_sessions": (_i32, [_vp, _SIZEP]),
    "ossrt_scheduler_progress": (_i32, [_vp, _vp, _pointer_to(_GenerationProgress)]),
    "ossrt_scheduler_get_tokens": (_i32, [_vp, _vp, _I32P, _size, _SIZEP]),
    "ossrt_session_get_tokens": (_i32, [_vp, _I32P, _size, _SIZEP]),
    "ossrt_session_sample": (_i32, [_vp, _vp, _I32P]),
    "ossrt_session_sync_prefix": (_i32, [_vp, _I32P, _size, _SIZEP]),
    "ossrt_session_truncate": (_i32, [_vp, _size]),
    "ossrt_session_state_size": (_i32, [_vp, _SIZEP]),
    "ossrt_session_save_state": (_i32, [_vp, _CHARP, _size, _SIZEP]),
    "ossrt_session_restore_state": (_i32, [_vp, _str, _size]),
    "ossrt_session_save_state_file": (_i32, [_vp, _str]),
    "ossrt_session_restore_state_file": (_i32, [_vp, _str]),
    "ossrt_session_memory_init": (None, [_pointer_to(_SessionMemory)]),
    "ossrt_session_get_memory": (_i32, [_vp, _pointer_to(_SessionMemory)]),
    "ossrt_conversation_create": (_i32, [_VPP]),
    "ossrt_conversation_from_json": (_i32, [_str, _size, _VPP]),
    "ossrt_conversation_destroy": (None, [_vp]),
    "ossrt_conversation_size": (_i32, [_vp, _SIZEP]),
    "ossrt_conversation_to_json": (_i32, [_vp, _CHARP, _size, _SIZEP]),
    "ossrt_system_options_init": (None, [_pointer_to(_SystemOptions)]),
    "ossrt_conversation_add_system": (_i32, [_vp, _pointer_to(_SystemOptions)]),
    "ossrt_conversation_add_developer": (_i32, [_vp, _str, _str]),
    "ossrt_conversation_add_message": (_i32, [_vp, _i32, _str, _str, _str, _str, _str, _size]),
    "ossrt_conversation_add_user": (_i32, [_vp, _str, _size]),
    "ossrt_conversation_add_tool_result": (_i32, [_vp, _str, _str, _size]),
    "ossrt_conversation_set_reasoning_effort": (_i32, [_vp, _i32]),
    "ossrt_render_options_init": (None, [_pointer_to(_RenderOptions)]),
    "ossrt_harmony_render": (_i32, [_vp, _vp, _pointer_to(_RenderOptions), _I32P, _size, _SIZEP]),
    "ossrt_harmony_stop_tokens": (_i32, [_i32, _I32P, _size, _SIZEP]),
    "ossrt_harmony_parser_create": (_i32, [_vp, _i32, _i32, _VPP]),
    "ossrt_harmony_parser_destroy": (None, [_vp]),
    "ossrt_harmony_parser_push": (_i32, [_vp, _i32]),
    "ossrt_harmony_parser_finish": (_i32, [_vp]),
    "ossrt_harmony_event_init": (None, [_pointer_to(_HarmonyEvent)]),
    "ossrt_harmony_parser_next_event": (_i32, [_vp, _pointer_to(_HarmonyEvent)]),
    "ossrt_harmony_parser_messages_json": (_i32, [_vp, _CHARP, _size, _SIZEP]),
    "ossrt_harmony_parser_append_to": (_i32, [_vp, _vp]),
    "ossrt_finish_reason_string": (_str, [_i32]),
    "ossrt_chat_options_init": (None, [_pointer_to(_ChatOptions)]),
    "ossrt_chat_result_init": (None, [_pointer_to(_ChatResult)]),
    "ossrt_chat_turn": (_i32, [_vp, _vp, _vp, _pointer_to(_ChatOptions), _pointer_to(_ChatResult)]),
}

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    _function = getattr(_lib, _name)
    _function.restype, _function.argtypes = _restype, _argtypes

if _lib.ossrt_abi_version() != ABI_VERSION:
    raise ImportError(f"ossrt: {_library_path} has C ABI version {_lib.ossrt_abi_version()}; "
                      f"this binding is for version {ABI_VERSION}")

# ---- enumerations (the C enums, by value) -------------------------------------


class Status(enum.IntEnum):
    """ossrt_status: what a call returned."""
    OK = 0
    INVALID_ARGUMENT = 1
    INVALID_STATE = 2
    NOT_FOUND = 3
    IO_ERROR = 4
    OUT_OF_MEMORY = 5
    UNSUPPORTED = 6
    INVALID_CONFIG = 7
    INVALID_CHECKPOINT = 8
    UNSUPPORTED_DTYPE = 9
    TENSOR_MISMATCH = 10
    INVALID_TOKEN = 11
    CONTEXT_OVERFLOW = 12
    CANCELLED = 13
    INTERNAL = 14
    BUFFER_TOO_SMALL = 15
    PERMISSION_DENIED = 16
    DEVICE_ERROR = 17


class LogLevel(enum.IntEnum):
    """The level of a Runtime log message."""
    DEBUG = 0
    INFO = 1
    WARNING = 2
    ERROR = 3


class SpecialToken(enum.IntEnum):
    """Harmony's special tokens by meaning (Tokenizer.special_id)."""
    STARTOFTEXT = 0
    ENDOFTEXT = 1
    RETURN = 2
    CONSTRAIN = 3
    CHANNEL = 4
    START = 5
    END = 6
    MESSAGE = 7
    CALL = 8


class Numerics(enum.IntEnum):
    """EXACT: fp32 activations and KV cache. FAST: bf16 KV cache (half the memory), 15-bit expert inputs."""
    EXACT = 0
    FAST = 1


class Role(enum.IntEnum):
    """The author of a harmony message."""
    NONE = -1  # parser only: the output starts with <|start|>
    SYSTEM = 0
    DEVELOPER = 1
    USER = 2
    ASSISTANT = 3
    TOOL = 4


class ReasoningEffort(enum.IntEnum):
    """How much the model reasons (the system message's "Reasoning: low|medium|high")."""
    LOW = 0
    MEDIUM = 1
    HIGH = 2


class RenderKind(enum.IntEnum):
    """CONVERSATION: the messages. COMPLETION: then <|start|> + next_role (a prompt). TRAINING: a last assistant
    final message ends with <|return|>."""
    CONVERSATION = 0
    COMPLETION = 1
    TRAINING = 2


class ParseMode(enum.IntEnum):
    """LENIENT never fails on model output (it recovers and reports ANOMALY events); STRICT is harmony's default;
    HARMONY_LENIENT is harmony's strict=False."""
    LENIENT = 0
    STRICT = 1
    HARMONY_LENIENT = 2


class EventKind(enum.IntEnum):
    """What a harmony parser event reports."""
    MESSAGE_START = 0  # header complete: role, name, channel, recipient, content_type
    CONTENT_DELTA = 1  # text: newly completed UTF-8 of the current message
    MESSAGE_END = 2
    TOOL_CALL = 3  # after MESSAGE_END of an assistant message with a recipient; text = the arguments
    ANOMALY = 4  # lenient recovery: anomaly names the shape, text what was skipped


class FinishReason(enum.IntEnum):
    """Why a chat turn ended (ChatResult.finish_reason)."""
    STOP = 0  # <|return|>: the final answer ended (or an extra stop token)
    TOOL_CALL = 1  # <|call|>: the last message appended is a tool call to answer
    LENGTH = 2  # max_tokens generated
    REASONING_BUDGET = 3  # the analysis channel used up reasoning_budget tokens
    CANCELLED = 4  # Session.cancel, or the event callback asked to stop
    CONTEXT_FULL = 5  # the session's context length is reached


class GenerationEnd(enum.IntEnum):
    """Why a scheduled generation ended (GenerationProgress.end)."""
    RUNNING = 0  # not ended: prefilling or generating
    STOP_TOKEN = 1  # sampled one of its stop tokens (included and appended)
    MAX_TOKENS = 2  # sampled max_tokens tokens
    CONTEXT_FULL = 3  # the session holds its whole context
    CANCELLED = 4  # Scheduler.cancel, or on_token asked to stop
    FAILED = 5  # a sampler or forward-pass failure: GenerationProgress.status says which


_Enum = TypeVar("_Enum", bound=enum.IntEnum)


def _as_enum(enum_type: type[_Enum], value: int) -> _Enum | int:
    """A value the library returned: the member, or the plain int for one a newer library added."""
    try:
        return enum_type(value)
    except ValueError:
        return value


def _enum_value(enum_type: type[enum.IntEnum], value: enum.IntEnum | str | int) -> int:
    """An argument given as a member, its name in any case ("low") or its value."""
    try:
        return int(enum_type[value.upper()] if isinstance(value, str) else enum_type(value))
    except (KeyError, ValueError):
        names = ", ".join(member.name.lower() for member in enum_type)
        raise InvalidArgument(f"{value!r} is not a {enum_type.__name__} ({names})") from None


# ---- errors -------------------------------------------------------------------


class OssrtError(Exception):
    """A failed ossrt call. .status is the Status (a plain int for a status this binding does not know),
    .status_name its name ("invalid_token"), .message the library's message naming what was wrong.
    Each status has its subclass (declared with `status=`); some also derive from the matching built-in
    exception (InvalidArgument is a ValueError, NotFound a FileNotFoundError, ...)."""
    status: Status | int = Status.INTERNAL

    def __init_subclass__(cls, status: Status, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status
        _ERRORS[status] = cls

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def status_name(self) -> str:
        """The status's name, as the library spells it ("invalid_token")."""
        return status_string(self.status)

    def __str__(self) -> str:
        return f"{self.status_name}: {self.message}"


_ERRORS: dict[int, type[OssrtError]] = {}
Error = OssrtError  # the name of earlier versions of this binding


class InvalidArgument(OssrtError, ValueError, status=Status.INVALID_ARGUMENT):
    """A value passed is out of range, malformed or refers to nothing (a closed handle, bad JSON, ...)."""


class InvalidState(OssrtError, status=Status.INVALID_STATE):
    """The object cannot do this now (a busy session, nothing appended yet, a closed object)."""


class NotFound(OssrtError, FileNotFoundError, status=Status.NOT_FOUND):
    """A file or directory does not exist."""


class IoError(OssrtError, OSError, status=Status.IO_ERROR):
    """Opening, reading, writing or mapping a file failed."""


class OutOfMemory(OssrtError, MemoryError, status=Status.OUT_OF_MEMORY):
    """An allocation failed."""


class Unsupported(OssrtError, status=Status.UNSUPPORTED):
    """Not supported by this build or backend."""


class InvalidConfig(OssrtError, status=Status.INVALID_CONFIG):
    """config.json is missing, malformed or invalid."""


class InvalidCheckpoint(OssrtError, status=Status.INVALID_CHECKPOINT):
    """A safetensors file is truncated or malformed, or a weight is not finite."""


class UnsupportedDtype(OssrtError, status=Status.UNSUPPORTED_DTYPE):
    """A tensor has an unknown dtype."""


class TensorMismatch(OssrtError, status=Status.TENSOR_MISMATCH):
    """A tensor is missing, unexpected or mis-shaped for config.json."""


class InvalidToken(OssrtError, ValueError, status=Status.INVALID_TOKEN):
    """A token id is outside the vocabulary."""


class ContextOverflow(OssrtError, status=Status.CONTEXT_OVERFLOW):
    """The session's context length would be exceeded."""


class Cancelled(OssrtError, status=Status.CANCELLED):
    """The call was cancelled (Session.cancel, or a callback asked)."""


class InternalError(OssrtError, status=Status.INTERNAL):
    """A bug in ossrt; the message says where."""


class BufferTooSmall(OssrtError, status=Status.BUFFER_TOO_SMALL):
    """A buffer was too small (the binding retries with the size reported, so this means the size changed)."""


class PermissionDenied(OssrtError, PermissionError, status=Status.PERMISSION_DENIED):
    """A file or directory exists but may not be read."""


class DeviceError(OssrtError, status=Status.DEVICE_ERROR):
    """A GPU is absent, unusable, or failed during a call; the message names it."""


def _error(status: int) -> OssrtError:
    """The exception of a failed call, with the message the library left on this thread."""
    error_type = _ERRORS.get(status, OssrtError)
    error = error_type(_lib.ossrt_last_error_message().decode("utf-8", "replace"))
    if error_type is OssrtError:
        error.status = status
    return error


class _PendingError(threading.local):
    """The first exception a Python callback raised on this thread while C was calling it (callbacks run on the
    thread of the call that invokes them), waiting for that call to return."""
    error: BaseException | None = None


_pending = _PendingError()


def _guarded(callback: Callable[..., Any], result_on_error: Any) -> Callable[..., Any]:
    """callback, made safe to hand to C: an exception is kept for _check and C gets result_on_error (cancel)."""

    def call(*args: Any) -> Any:
        try:
            return callback(*args)
        except BaseException as error:  # even KeyboardInterrupt must not unwind through C frames
            if _pending.error is None:
                _pending.error = error
            return result_on_error

    return call


def _check(status: int) -> None:
    """Raises what a callback raised during the call just made, else the call's own failure."""
    error, _pending.error = _pending.error, None
    if error is not None:
        raise error
    if status != Status.OK:
        raise _error(status)


# ---- helpers ------------------------------------------------------------------


class _Omit:
    def __repr__(self) -> str:
        return "ossrt.OMIT"


# Conversation.add_system: a field passed as OMIT is left out of the system message (NULL in C).
OMIT: Any = _Omit()


def _options(struct_type: type[ctypes.Structure], init: Callable[[Any], None], **fields: Any) -> Any:
    """An option struct set to the library's defaults by its _init function, then every field not None."""
    options = struct_type()
    init(ctypes.byref(options))
    for name, value in fields.items():
        if value is not None:
            setattr(options, name, value)
    return options


def _output(struct_type: type[ctypes.Structure], init: Callable[[Any], None]) -> Any:
    """An output struct the library fills, zeroed with struct_size set (this binding's layout) by its _init."""
    output = struct_type()
    init(ctypes.byref(output))
    return output


_Record = TypeVar("_Record")


def _record(record_type: type[_Record], struct: ctypes.Structure, **converted: Any) -> _Record:
    """The dataclass of an output struct: each field as the struct holds it, unless given converted."""
    values = {field.name: converted[field.name] if field.name in converted else getattr(struct, field.name)
              for field in dataclasses.fields(record_type)}  # type: ignore[arg-type]
    return record_type(**values)


def _int32_array(values: Iterable[int]) -> Any:
    """A C array of int32 holding values (token ids); an id beyond 32 bits is refused, never wrapped."""
    try:
        packed = array.array("i", values)
    except OverflowError:
        raise InvalidArgument("a token id does not fit in 32 bits") from None
    return (_i32 * len(packed)).from_buffer(packed)


def _token(value: int) -> int:
    """One token id for C, refused rather than wrapped when it does not fit in 32 bits."""
    if not -2 ** 31 <= value < 2 ** 31:
        raise InvalidArgument(f"token id {value} does not fit in 32 bits")
    return value


def _int32_buffer(n: int) -> Any:
    return (_i32 * n)()


def _fill(call: Callable[[Any, int, Any], int], allocate: Callable[[int], Any], guess: int) -> tuple[Any, int]:
    """The C ABI's caller-buffer idiom: call(buffer, capacity, &count) with a buffer of guess items, and again
    with the size the library reports when that was too small. Returns (buffer, count)."""
    count = _size()
    capacity = max(guess, 1)
    while True:
        buffer = allocate(capacity)
        status = call(buffer, capacity, ctypes.byref(count))
        if status != Status.BUFFER_TOO_SMALL or count.value <= capacity:
            _check(status)
            return buffer, count.value
        capacity = count.value


def _ids(call: Callable[[Any, int, Any], int], guess: int) -> list[int]:
    buffer, count = _fill(call, _int32_buffer, guess)
    return buffer[:count]


def _bytes(call: Callable[[Any, int, Any], int], guess: int) -> bytes:
    buffer, count = _fill(call, ctypes.create_string_buffer, guess)
    return buffer.raw[:count]


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


def _utf8(text: str) -> bytes:
    """text as UTF-8; a lone surrogate (not encodable) becomes U+FFFD, as invalid input does in the library."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def _c_string(value: str | None) -> bytes | None:
    return None if value is None else _utf8(value)


def _cancel_flag(callback: Callable[..., Any]) -> Callable[..., int]:
    """A Python callback returning something truthy to stop, as the int C expects."""
    return lambda *args: 1 if callback(*args) else 0


@functools.cache
def _builtin_tokenizer() -> Tokenizer:
    return Tokenizer()


# ---- library --------------------------------------------------------------------


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH". Never fails."""
    return _lib.ossrt_version_string().decode()


def abi_version() -> int:
    """The loaded library's C ABI version (ABI_VERSION, or the import fails). Never fails."""
    return _lib.ossrt_abi_version()


def library_path() -> str:
    """The path (or loader name) libossrt_c was loaded from."""
    return _library_path


def status_string(status: int) -> str:
    """A status's name ("invalid_checkpoint"; "unknown_status" for values the library does not know)."""
    return _lib.ossrt_status_string(int(status)).decode()


def finish_reason_string(reason: int) -> str:
    """A finish reason's name ("tool_call"; "unknown_finish_reason" for values the library does not know)."""
    return _lib.ossrt_finish_reason_string(int(reason)).decode()


def stop_tokens(*, for_assistant_actions: bool = False) -> list[int]:
    """Harmony's message-ending ids {<|return|>, <|call|>, <|end|>}, ascending; with for_assistant_actions the
    sampling stop set {<|return|>, <|call|>} (<|end|> separates the model's own messages). Never fails."""
    return _ids(lambda out, cap, n: _lib.ossrt_harmony_stop_tokens(int(for_assistant_actions), out, cap, n), 3)


# ---- devices ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Device:
    """One GPU. backend is the name that selects it (Model(path, backend="cuda:0"))."""
    backend: str
    description: str  # e.g. "NVIDIA H200, compute capability 9.0"
    memory_bytes: int
    free_bytes: int  # free when listed


def devices() -> list[Device]:
    """The GPUs this build and machine offer, in order; the CPU is always there and not listed. Empty (never an
    error) without a CUDA build, a driver or a GPU. Thread-safe."""
    count = _size()
    _check(_lib.ossrt_device_count(ctypes.byref(count)))
    found = []
    for index in range(count.value):
        info = _output(_DeviceInfo, _lib.ossrt_device_info_init)
        _check(_lib.ossrt_device_get_info(index, ctypes.byref(info)))
        found.append(_record(Device, info, backend=info.backend.decode(),
                             description=info.description.decode("utf-8", "replace")))
    return found


# ---- memory estimate --------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """What a model and one session at its full context will take, in bytes (see ossrt.h)."""
    weight_bytes: int
    backend_weight_bytes: int  # on a GPU's memory (0 on the CPU: mapped files)
    host_weight_bytes: int  # read from host memory (all on the CPU; offloaded experts on a GPU)
    kv_bytes_per_token: int
    kv_ring_bytes: int
    kv_bytes: int
    scratch_bytes: int
    session_bytes: int
    backend_bytes: int
    total_bytes: int


def estimate_memory(directory: str | os.PathLike[str], *, backend: str | None = None, cpu_expert_layers: int = 0,
                    context_length: int = 0, max_batch_tokens: int = 512,
                    numerics: Numerics | str | None = None) -> MemoryEstimate:
    """What Model(directory, backend=..., cpu_expert_layers=...) and one session (context_length 0 = the model's
    maximum) would take, from the checkpoint's headers alone (nothing loaded, no GPU needed). Thread-safe.
    Raises NotFound, InvalidConfig, ... as Model does for the files; InvalidArgument for session options
    Session would refuse (a context_length above the model's maximum)."""
    model_options = _options(_ModelOptions, _lib.ossrt_model_options_init, backend=_c_string(backend),
                             cpu_expert_layers=int(cpu_expert_layers))
    session_options = _options(_SessionOptions, _lib.ossrt_session_options_init, context_length=context_length,
                               max_batch_tokens=max_batch_tokens,
                               numerics=None if numerics is None else _enum_value(Numerics, numerics))
    out = _output(_MemoryEstimate, _lib.ossrt_memory_estimate_init)
    _check(_lib.ossrt_model_estimate(os.fsencode(directory), ctypes.byref(model_options),
                                     ctypes.byref(session_options), ctypes.byref(out)))
    return _record(MemoryEstimate, out)


# ---- handles ----------------------------------------------------------------------


class _Closes:
    """close() at the end of a with block and when collected."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown may have torn down the module already
            pass


class _Handle(_Closes):
    """Owns one C handle and releases it exactly once: close(), the end of a with block, or collection."""
    _destroy: str  # the name of the C function releasing the handle
    _ptr: int | None = None

    def _adopt(self, status: int, handle: ctypes.c_void_p) -> None:
        self._ptr = handle.value
        try:
            _check(status)
        except BaseException:
            self.close()  # created, but a callback failed during the call
            raise

    @property
    def _handle(self) -> int:
        if self._ptr is None:
            raise InvalidState(f"the {type(self).__name__} is closed")
        return self._ptr

    @property
    def closed(self) -> bool:
        """Whether close() has released the handle."""
        return self._ptr is None

    def close(self) -> None:
        """Releases the handle (the library keeps what other objects still use alive). Idempotent; never fails."""
        handle, self._ptr = self._ptr, None
        if handle is not None:
            getattr(_lib, self._destroy)(handle)


class Runtime(_Handle):
    """A log sink for the models loaded with it (Model(runtime=...)) and their sessions. Thread-safe.

    log(level: LogLevel, message: str) receives each message at or above level, on the thread that logs. An
    exception it raises is re-raised by the ossrt call, on that thread, during which it was logged (or the next)."""
    _destroy = "ossrt_runtime_destroy"

    def __init__(self, log: Callable[[LogLevel, str], object] | None = None,
                 level: LogLevel | str = LogLevel.INFO) -> None:
        """Raises OutOfMemory; InvalidArgument for a bad level."""
        self._log = None
        handle = _vp()
        self._adopt(_lib.ossrt_runtime_create(ctypes.byref(handle)), handle)
        if log is not None:
            self.set_log_callback(log, level)

    def set_log_callback(self, log: Callable[[LogLevel, str], object] | None,
                         level: LogLevel | str = LogLevel.INFO) -> None:
        """Sets (None: removes) the log callback; messages below level are dropped. When this returns the previous
        callback is no longer running and is never called again. Raises InvalidArgument (bad level), InvalidState
        (closed)."""
        trampoline = _LogCallback()  # NULL: no callback
        if log is not None:
            def deliver(level_value: int, message: int, length: int, _: Any) -> None:
                log(_as_enum(LogLevel, level_value), ctypes.string_at(message, length).decode("utf-8", "replace"))
            trampoline = _LogCallback(_guarded(deliver, None))
        _check(_lib.ossrt_runtime_set_log_callback(self._handle, trampoline, None, _enum_value(LogLevel, level)))
        self._log = trampoline

    def close(self) -> None:
        """Releases the runtime. Models loaded with it stop logging to Python (they may outlive this object)."""
        if self._ptr is not None:
            _lib.ossrt_runtime_set_log_callback(self._ptr, _LogCallback(), None, LogLevel.DEBUG)
        super().close()


@dataclasses.dataclass(frozen=True, slots=True)
class ModelInfo:
    """The model's shape, from its config.json, and its size."""
    num_hidden_layers: int
    num_experts: int
    experts_per_token: int
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    head_dim: int
    num_attention_heads: int
    num_key_value_heads: int
    sliding_window: int
    max_context_length: int
    parameter_count: int
    weight_bytes: int
    cpu_expert_layers: int
    host_expert_bytes: int
    layout: str  # "original", "Hugging Face" or "GGUF"
    dense_format: str  # "bf16", "Q8_0" or "Q8_0 + bf16"
    converted_bytes: int  # weights converted at load into private memory (GGUF: experts repacked)
    tiled_expert_matrices: int  # expert matrices reordered at load into the backend's tiles (AVX-512 CPUs)


class Model(_Handle):
    """A gpt-oss checkpoint (a directory in the original or Hugging Face layout, or a GGUF file). Immutable; every
    method is thread-safe. Sessions keep the model alive after close()."""
    _destroy = "ossrt_model_destroy"

    def __init__(self, directory: str | os.PathLike[str], *, runtime: Runtime | None = None,
                 backend: str | None = None, preload: bool = False, weights_in_memory: bool = False,
                 validate_weights: bool = False, cpu_expert_layers: int = 0, memory_budget_bytes: int = 0,
                 progress: Callable[[int, int], object] | None = None) -> None:
        """Loads the checkpoint, memory-mapped unless weights_in_memory (read into private memory: the files may
        then change). preload reads every weight page now; validate_weights scans every weight for NaN, infinity
        and bad scales. backend: None or "cpu" = the best CPU level, or one level ("cpu-avx512", "cpu-avx2",
        "cpu-reference"); "cuda" (GPU 0) or "cuda:N" = an NVIDIA GPU (devices() lists them), DeviceError where no
        GPU can serve it (never a silent CPU fallback). cpu_expert_layers=N keeps the experts of the first N layers
        in host memory and runs them on the CPU (GPU offload). memory_budget_bytes (non-zero) refuses the load up front
        (OutOfMemory) when the weights need more of the backend's memory. progress(bytes_done, bytes_total) is called after each
        tensor; returning something truthy cancels the load.

        Raises NotFound, PermissionDenied, IoError, InvalidConfig, InvalidCheckpoint, UnsupportedDtype,
        TensorMismatch, OutOfMemory, Cancelled (progress asked), DeviceError (a GPU backend no GPU can serve),
        InvalidArgument (unknown backend, a CPU level this CPU lacks, closed runtime, a config.json that is a
        directory or FIFO), or what progress raised."""
        self._runtime = runtime  # its log callback must live as long as this model may log
        trampoline = None if progress is None else _LoadProgress(_guarded(_cancel_flag(
            lambda done, total, _: progress(done, total)), 1))
        options = _options(_ModelOptions, _lib.ossrt_model_options_init, backend=_c_string(backend),
                           runtime=None if runtime is None else runtime._handle, preload=int(preload),
                           weights_in_memory=int(weights_in_memory), validate_weights=int(validate_weights),
                           cpu_expert_layers=int(cpu_expert_layers), memory_budget_bytes=int(memory_budget_bytes),
                           progress=trampoline)
        handle = _vp()
        self._adopt(_lib.ossrt_model_load(os.fsencode(directory), ctypes.byref(options), ctypes.byref(handle)),
                    handle)

    @property
    def info(self) -> ModelInfo:
        """The model's shape and size. Raises InvalidState (closed)."""
        info = _output(_ModelInfo, _lib.ossrt_model_info_init)
        _check(_lib.ossrt_model_get_info(self._handle, ctypes.byref(info)))
        return _record(ModelInfo, info, layout=info.layout.decode(), dense_format=info.dense_format.decode())

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer (o200k_harmony). Raises InvalidState (closed), OutOfMemory."""
        return Tokenizer._of_model(self)

    def session(self, **options: Any) -> Session:
        """Session(self, **options)."""
        return Session(self, **options)


# ---- tokenizer ----------------------------------------------------------------------


class Tokenizer(_Handle):
    """The built-in o200k_harmony tokenizer (compiled in: no files, no network). Thread-safe."""
    _destroy = "ossrt_tokenizer_destroy"

    def __init__(self) -> None:
        """Raises OutOfMemory."""
        handle = _vp()
        self._adopt(_lib.ossrt_tokenizer_create(ctypes.byref(handle)), handle)

    @classmethod
    def _of_model(cls, model: Model) -> Tokenizer:
        tokenizer = cls.__new__(cls)
        handle = _vp()
        tokenizer._adopt(_lib.ossrt_model_get_tokenizer(model._handle, ctypes.byref(handle)), handle)
        return tokenizer

    def encode(self, text: str | bytes, *, allowed_special: Literal["all"] | Iterable[int | str] = ()) -> list[int]:
        """The ids of text. A str is UTF-8 text; bytes are raw bytes decoded as WHATWG UTF-8 (a leading BOM is
        dropped); either way invalid sequences become U+FFFD. allowed_special: which special-token texts encode to
        special ids: none (default: they are ordinary text), "all", or those given (ids or texts, or one text).

        Raises InvalidArgument (an allowed id or text that is not a special token), OutOfMemory."""
        if isinstance(text, str):
            data, raw_bytes = _utf8(text), 0
        else:
            data, raw_bytes = bytes(text), 1
        allowed = None
        if allowed_special == "all":
            specials = 1  # OSSRT_SPECIALS_ALL
        else:
            if isinstance(allowed_special, str):
                allowed_special = [allowed_special]  # one special token's text, not its characters
            allowed = _int32_array(self.find_special(special) if isinstance(special, str) else special
                                   for special in allowed_special)
            specials = 2 if len(allowed) else 0  # OSSRT_SPECIALS_ALLOWED / _NONE
        options = _options(_EncodeOptions, _lib.ossrt_encode_options_init, specials=specials, raw_bytes=raw_bytes,
                           allowed_ids=allowed, n_allowed=None if allowed is None else len(allowed))
        return _ids(lambda out, cap, n: _lib.ossrt_tokenizer_encode(self._handle, data, len(data),
                                                                    ctypes.byref(options), out, cap, n),
                    len(data) + 1)

    def _decode(self, ids: Iterable[int], lossy: bool) -> bytes:
        packed = _int32_array(ids)
        return _bytes(lambda out, cap, n: _lib.ossrt_tokenizer_decode(self._handle, packed, len(packed), int(lossy),
                                                                      out, cap, n), 4 * len(packed))

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of ids (special ids give their text). Raises InvalidToken (an id outside the vocabulary)."""
        return self._decode(ids, lossy=False)

    def decode(self, ids: Iterable[int], *, lossy: bool = False) -> str:
        """The text of ids. lossy: unknown ids and invalid UTF-8 become U+FFFD and nothing is raised.
        Otherwise raises InvalidToken (an id outside the vocabulary) and UnicodeDecodeError (the ids end inside
        a character: use decode_bytes or a DetokStream for pieces of text)."""
        return self._decode(ids, lossy).decode("utf-8")

    def token_bytes(self, token: int) -> bytes:
        """The bytes of one token. Raises InvalidToken."""
        pointer, length = _vp(), _size()
        _check(_lib.ossrt_tokenizer_token_bytes(self._handle, _token(token), ctypes.byref(pointer),
                                                ctypes.byref(length)))
        return ctypes.string_at(pointer.value or 0, length.value) if length.value else b""

    def special_id(self, token: SpecialToken | str) -> int:
        """The id of a special token by meaning (SpecialToken.CHANNEL or "channel"). Raises InvalidArgument."""
        token_id = _i32()
        _check(_lib.ossrt_tokenizer_special_id(self._handle, _enum_value(SpecialToken, token),
                                               ctypes.byref(token_id)))
        return token_id.value

    def find_special(self, text: str) -> int:
        """The id of a special token by its text ("<|channel|>"). Raises InvalidArgument (not a special token)."""
        data, token_id = _utf8(text), _i32()
        _check(_lib.ossrt_tokenizer_find_special(self._handle, data, len(data), ctypes.byref(token_id)))
        return token_id.value

    @property
    def vocab_size(self) -> int:
        """201,088: 199,998 ordinary ids and 1,090 special ones."""
        size = _size()
        _check(_lib.ossrt_tokenizer_vocab_size(self._handle, ctypes.byref(size)))
        return size.value

    def stream(self) -> DetokStream:
        """A streaming decoder over this tokenizer."""
        return DetokStream(self)


class DetokStream(_Handle):
    """Decodes a stream of ids into text, giving only complete characters (partial UTF-8 is held across ids).
    One thread at a time."""
    _destroy = "ossrt_detok_stream_destroy"

    def __init__(self, tokenizer: Tokenizer | None = None) -> None:
        """tokenizer: None = the built-in one. Raises OutOfMemory."""
        handle = _vp()
        self._adopt(_lib.ossrt_detok_stream_create((tokenizer or _builtin_tokenizer())._handle,
                                                   ctypes.byref(handle)), handle)

    def push(self, token: int) -> str:
        """The text that token completes ("" while a character is still partial). Raises InvalidToken (the stream
        is unchanged)."""
        handle, token = self._handle, _token(token)
        return _bytes(lambda out, cap, n: _lib.ossrt_detok_stream_push(handle, token, out, cap, n),
                      64).decode("utf-8", "replace")

    def finish(self) -> str:
        """Flushes held bytes (as U+FFFD) and resets the stream for new text."""
        handle = self._handle
        return _bytes(lambda out, cap, n: _lib.ossrt_detok_stream_finish(handle, out, cap, n), 8).decode(
            "utf-8", "replace")


# ---- sampler ------------------------------------------------------------------------


class BatchDecoder(_Handle):
    """Advances several sessions of one model by one token each in one forward pass, reading every weight once for
    all of them (separate appends read it once each). One step at a time; cancel() and close() from any thread."""
    _destroy = "ossrt_batch_decoder_destroy"

    def __init__(self, model: Model, max_sessions: int) -> None:
        """Raises InvalidArgument (max_sessions 0 or over 4096), InvalidState (model closed), OutOfMemory."""
        self._model = model
        handle = _vp()
        self._adopt(_lib.ossrt_batch_decoder_create(model._handle, max_sessions, ctypes.byref(handle)), handle)

    def step(self, sessions: Sequence[Session], tokens: Sequence[int]) -> None:
        """Appends tokens[i] to sessions[i] for every i: each session ends as if it had appended its token alone
        (logits within 1e-5 in exact numerics). Raises InvalidArgument (sizes, a closed or foreign session, mixed
        numerics), InvalidState (a session busy or given twice), InvalidToken, ContextOverflow, Cancelled; no session
        changes then."""
        handles = (_vp * len(sessions))(*[session._handle for session in sessions])
        packed = _int32_array(tokens)
        _check(_lib.ossrt_batch_decoder_step(self._handle, handles, packed, len(packed)))

    def cancel(self) -> None:
        """Stops the running step at its next layer boundary (or the next step); it raises Cancelled."""
        if self._ptr is not None:
            _lib.ossrt_batch_decoder_cancel(self._ptr)


@dataclasses.dataclass(frozen=True, slots=True)
class GenerationProgress:
    """A scheduled session's generation so far (Scheduler.progress); its tokens: Scheduler.tokens."""
    end: GenerationEnd
    status: Status  # FAILED: the failure's status; otherwise OK
    prompt_left: int  # prompt tokens not yet appended
    n_tokens: int  # tokens sampled so far
    reused_tokens: int  # held tokens kept by join(reuse_prefix=True)


@dataclasses.dataclass(frozen=True, slots=True)
class StepReport:
    """What one Scheduler.step ran."""
    decode_tokens: int  # sessions that appended their sampled token
    prompt_tokens: int  # prompt tokens appended
    sessions_ended: int  # generations that ended in this step


class Scheduler(_Handle):
    """Generations of several sessions of one model, advanced together: sessions join with a prompt and leave
    between steps; each step() is one forward pass in which every generating session appends its sampled token and
    joining sessions a chunk of their prompt (a long prompt is prefilled over several steps while the others keep
    decoding). Each session ends as Session.generate would leave it. step() on one thread at a time; join, leave,
    cancel, progress and tokens from any thread. A joined session is the scheduler's until it leaves (other calls on
    it raise InvalidState)."""
    _destroy = "ossrt_scheduler_destroy"

    def __init__(self, model: Model, *, max_sessions: int | None = None, max_step_tokens: int | None = None) -> None:
        """max_sessions: joined at once (default 8); max_step_tokens: tokens per step, decodes first, then prompt
        chunks (default 64, at least max_sessions). Raises InvalidArgument (out of range), OutOfMemory."""
        self._model = model
        self._callbacks: dict[int, Any] = {}  # session handle -> its callback trampolines, alive while joined
        options = _options(_SchedulerOptions, _lib.ossrt_scheduler_options_init, max_sessions=max_sessions,
                           max_step_tokens=max_step_tokens)
        handle = _vp()
        self._adopt(_lib.ossrt_scheduler_create(model._handle, ctypes.byref(options), ctypes.byref(handle)), handle)

    def join(self, session: Session, prompt: Sequence[int] = (), *, sampler: Sampler | None = None,
             max_tokens: int | None = None, stop_tokens: Sequence[int] = (),
             on_token: Callable[[int], object] | None = None,
             logits_processor: Callable[[Any], Status | None] | None = None, reuse_prefix: bool = False) -> None:
        """Adds session: its prompt is appended (over one or more steps), then tokens are drawn with sampler (None =
        arg-max) until a stop token, max_tokens (default 256), a full context or a cancel. on_token(token) runs on
        the stepping thread with each sampled token; a truthy return ends the generation (cancelled).
        logits_processor(logits) runs on the stepping thread before each sample with a writable ctypes float array
        (a copy of the logits) whose changes the token is drawn from; returning a Status other than OK (or
        raising, re-raised from step()) ends the generation as FAILED. reuse_prefix: prompt is all the session
        should hold; the prefix it shares with what the session holds is kept (progress().reused_tokens) and only
        the rest prefilled. Raises InvalidArgument (another model or numerics, max_tokens 0, an empty prompt
        without logits), InvalidState (already joined, busy, or max_sessions joined), InvalidToken,
        ContextOverflow."""
        packed, stops = _int32_array(prompt), _int32_array(stop_tokens)
        request = _options(_GenerationRequest, _lib.ossrt_generation_request_init, max_tokens=max_tokens,
                           reuse_prefix=int(reuse_prefix))
        request.prompt, request.n_prompt = packed, len(packed)
        request.stop_tokens, request.n_stop_tokens = stops, len(stops)
        if sampler is not None:
            request.sampler = sampler._handle
        trampolines = []
        if on_token is not None:
            trampolines.append(_TokenCallback(_guarded(_cancel_flag(lambda token, _: on_token(token)), 1)))
            request.on_token = trampolines[-1]
        if logits_processor is not None:
            def process(logits: Any, n_logits: int, _: Any) -> int:
                view = ctypes.cast(logits, ctypes.POINTER(ctypes.c_float * n_logits)).contents
                status = logits_processor(view)
                return int(Status.OK if status is None else status)
            trampolines.append(_LogitsCallback(_guarded(process, int(Status.INTERNAL))))
            request.logits_processor = trampolines[-1]
        _check(_lib.ossrt_scheduler_join(self._handle, session._handle, ctypes.byref(request)))
        self._callbacks[session._handle] = trampolines

    def leave(self, session: Session) -> None:
        """Removes session (a step holding it is awaited); a running generation ends as cancelled; the session keeps
        what was appended and is its owner's again. Raises InvalidArgument (not joined)."""
        _check(_lib.ossrt_scheduler_leave(self._handle, session._handle))
        self._callbacks.pop(session._handle, None)

    def cancel(self, session: Session) -> None:
        """Ends session's generation as cancelled before the next step; the others run on. Raises InvalidArgument
        (not joined)."""
        _check(_lib.ossrt_scheduler_cancel(self._handle, session._handle))

    def step(self) -> StepReport:
        """One forward pass over every running session, then each samples its next token or ends. A failed row
        ends its session as FAILED; the others continue. Raises InvalidState (another step is running)."""
        report = _output(_StepReport, _lib.ossrt_step_report_init)
        _check(_lib.ossrt_scheduler_step(self._handle, ctypes.byref(report)))
        return _record(StepReport, report)

    def progress(self, session: Session) -> GenerationProgress:
        """session's generation so far. Raises InvalidArgument (not joined)."""
        progress = _output(_GenerationProgress, _lib.ossrt_generation_progress_init)
        _check(_lib.ossrt_scheduler_progress(self._handle, session._handle, ctypes.byref(progress)))
        return _record(GenerationProgress, progress, end=_as_enum(GenerationEnd, progress.end),
                       status=_as_enum(Status, progress.status))

    def tokens(self, session: Session) -> list[int]:
        """The tokens session's generation sampled so far. Raises InvalidArgument (not joined)."""
        scheduler, handle = self._handle, session._handle
        return _ids(lambda out, cap, n: _lib.ossrt_scheduler_get_tokens(scheduler, handle, out, cap, n), 64)

    @property
    def active_sessions(self) -> int:
        """Sessions still generating (joined, not ended)."""
        count = _size()
        _check(_lib.ossrt_scheduler_active_sessions(self._handle, ctypes.byref(count)))
        return count.value

    def run(self) -> None:
        """Steps until no joined session is generating."""
        while self.active_sessions > 0:
            self.step()

    def close(self) -> None:
        """Releases the scheduler and the sessions still joined (they keep what was appended). Idempotent."""
        super().close()
        self._callbacks.clear()


class Sampler(_Handle):
    """How the next token is drawn: logit bias, then repetition / presence / frequency penalties over the last
    penalty_last_n tokens (0 = all), temperature (0 = arg-max), top-k, top-p, min-p, and a draw keyed by (seed,
    position): the same seed and inputs give the same tokens on every run and thread count. Immutable; one sampler
    serves any number of sessions and threads."""
    _destroy = "ossrt_sampler_destroy"

    def __init__(self, *, temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
                 min_p: float | None = None, repetition_penalty: float | None = None,
                 presence_penalty: float | None = None, frequency_penalty: float | None = None,
                 penalty_last_n: int | None = None, logit_bias: Mapping[int, float] | None = None,
                 seed: int | None = None) -> None:
        """Options left None keep the library's defaults: temperature 1, top_k 0 (off), top_p 1 (off), min_p 0
        (off), repetition_penalty 1 (off), presence and frequency penalty 0, penalty_last_n 64, seed 0.
        logit_bias: {token id: value added to its logit}.

        Raises InvalidArgument (an option out of range, named in the message), OutOfMemory."""
        bias = dict(logit_bias or {})
        options = _options(_SamplerOptions, _lib.ossrt_sampler_options_init, temperature=temperature,
                           top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=repetition_penalty,
                           presence_penalty=presence_penalty, frequency_penalty=frequency_penalty,
                           penalty_last_n=penalty_last_n, seed=seed)
        if bias:  # copied by ossrt_sampler_create
            options.bias_ids = _int32_array(bias.keys())
            options.bias_values = (_float * len(bias))(*bias.values())
            options.n_bias = len(bias)
        handle = _vp()
        self._adopt(_lib.ossrt_sampler_create(ctypes.byref(options), ctypes.byref(handle)), handle)


# ---- harmony: conversations, rendering, parsing ----------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One harmony parser event (HarmonyParser, or a chat turn's stream). name, channel, recipient and
    content_type describe the message the event belongs to (None when absent)."""
    kind: EventKind
    position: int  # index of the token that caused it among all pushed
    message_index: int  # index of the message it belongs to
    role: Role
    name: str | None
    channel: str | None
    recipient: str | None
    content_type: str | None
    text: str  # CONTENT_DELTA: the new text; TOOL_CALL: the arguments; ANOMALY: what was skipped
    anomaly: str | None  # ANOMALY: "missing_message", "stray_token", ...


def _event(event: _HarmonyEvent) -> Event:
    """An event copied out of the library's struct (its pointers are valid only briefly)."""
    text = ctypes.string_at(event.text, event.text_len) if event.text_len else b""
    return _record(Event, event, kind=_as_enum(EventKind, event.kind), role=_as_enum(Role, event.role),
                   name=_text(event.name), channel=_text(event.channel), recipient=_text(event.recipient),
                   content_type=_text(event.content_type), text=text.decode("utf-8", "replace"),
                   anomaly=_text(event.anomaly))


class Conversation(_Handle):
    """Harmony messages being built: system, developer (instructions, function tools), user, assistant, tool
    results. One thread at a time; a chat turn appends the assistant's messages."""
    _destroy = "ossrt_conversation_destroy"

    def __init__(self) -> None:
        """An empty conversation. Raises OutOfMemory."""
        handle = _vp()
        self._adopt(_lib.ossrt_conversation_create(ctypes.byref(handle)), handle)

    @classmethod
    def from_json(cls, messages: str | bytes | Sequence[Any] | Mapping[str, Any]) -> Conversation:
        """A conversation from harmony's JSON shape: an array of messages or {"messages": [...]}, as text or as
        Python lists and dicts. Raises InvalidArgument naming the bad field ("messages[2].content[0]: ...")."""
        if isinstance(messages, str):
            data = _utf8(messages)
        elif isinstance(messages, bytes):
            data = messages
        else:
            data = json.dumps(messages).encode()
        conversation = cls.__new__(cls)
        handle = _vp()
        conversation._adopt(_lib.ossrt_conversation_from_json(data, len(data), ctypes.byref(handle)), handle)
        return conversation

    def to_json(self) -> str:
        """The messages as harmony JSON (an array). Raises InvalidState (closed)."""
        handle = self._handle
        return _bytes(lambda out, cap, n: _lib.ossrt_conversation_to_json(handle, out, cap, n), 4096).decode()

    def messages(self) -> list[dict[str, Any]]:
        """The messages as Python dicts (json.loads of to_json())."""
        return json.loads(self.to_json())

    def __len__(self) -> int:
        """The number of messages."""
        n = _size()
        _check(_lib.ossrt_conversation_size(self._handle, ctypes.byref(n)))
        return n.value

    def add_system(self, *, model_identity: str | None = None,
                   reasoning_effort: ReasoningEffort | str | None = None, knowledge_cutoff: str | None = None,
                   conversation_start_date: str | None = None, browser_tool: bool = False,
                   python_tool: bool = False) -> None:
        """Appends a system message. Fields left None keep harmony's defaults (identity "You are ChatGPT, a large
        language model trained by OpenAI.", effort medium, knowledge cutoff "2024-06", no date); ossrt.OMIT
        leaves a field out. browser_tool / python_tool add harmony's built-in tool namespaces.
        Raises InvalidArgument (bad effort), OutOfMemory; the conversation is then unchanged."""
        options = _options(_SystemOptions, _lib.ossrt_system_options_init,
                           reasoning_effort=None if reasoning_effort is None else _enum_value(ReasoningEffort,
                                                                                              reasoning_effort),
                           browser_tool=int(browser_tool), python_tool=int(python_tool))
        for name, value in (("model_identity", model_identity), ("knowledge_cutoff", knowledge_cutoff),
                            ("conversation_start_date", conversation_start_date)):
            if value is OMIT:
                setattr(options, name, None)
            elif value is not None:
                setattr(options, name, _c_string(value))
        _check(_lib.ossrt_conversation_add_system(self._handle, ctypes.byref(options)))

    def add_developer(self, instructions: str | None = None, *,
                      functions: str | Sequence[Mapping[str, Any]] | None = None) -> None:
        """Appends a developer message: instructions and function tools (the "functions" namespace), each a
        {"name", "description", "parameters": JSON schema} dict (or their JSON array as text).
        Raises InvalidArgument (bad JSON, naming where); the conversation is then unchanged."""
        tools = functions if functions is None or isinstance(functions, str) else json.dumps(list(functions))
        _check(_lib.ossrt_conversation_add_developer(self._handle, _c_string(instructions), _c_string(tools)))

    def add_message(self, role: Role | str, text: str, *, name: str | None = None, channel: str | None = None,
                    recipient: str | None = None, content_type: str | None = None) -> None:
        """Appends a text message; name, channel, recipient and content_type are left out when None.
        Raises InvalidArgument (unknown role); the conversation is then unchanged."""
        data = _utf8(text)
        _check(_lib.ossrt_conversation_add_message(self._handle, _enum_value(Role, role), _c_string(name),
                                                   _c_string(channel), _c_string(recipient),
                                                   _c_string(content_type), data, len(data)))

    def add_user(self, text: str) -> None:
        """Appends a user message. Raises OutOfMemory."""
        data = _utf8(text)
        _check(_lib.ossrt_conversation_add_user(self._handle, data, len(data)))

    def add_tool_result(self, tool: str, text: str, *, channel: str | None = None) -> None:
        """Appends the answer of tool (the call's recipient: ChatResult.tool_call.recipient, "functions.get_weather",
        "python") as harmony expects it: authored by the tool, addressed to the assistant, on the channel of the
        last assistant message addressed to that tool (commentary when there is none) unless channel says
        otherwise. Raises InvalidArgument (empty tool)."""
        if channel is not None:
            self.add_message(Role.TOOL, text, name=tool, channel=channel, recipient="assistant")
            return
        data = _utf8(text)
        _check(_lib.ossrt_conversation_add_tool_result(self._handle, _utf8(tool), data, len(data)))

    def set_reasoning_effort(self, effort: ReasoningEffort | str) -> None:
        """Sets the reasoning effort where harmony renders it, in the system message (a conversation without one
        first gets a default system message at the front): the one place the effort is set; chat turns render
        what the conversation says. Raises InvalidArgument (unknown effort)."""
        _check(_lib.ossrt_conversation_set_reasoning_effort(self._handle, _enum_value(ReasoningEffort, effort)))

    def render(self, tokenizer: Tokenizer | None = None, *, kind: RenderKind | str | None = None,
               next_role: Role | str | None = None, auto_drop_analysis: bool | None = None) -> list[int]:
        """The ids openai/harmony renders for the conversation. kind: COMPLETION (default: a prompt ending in
        <|start|> + next_role, default assistant), CONVERSATION or TRAINING. auto_drop_analysis (default True):
        harmony's rule dropping earlier analysis. Raises InvalidArgument (what harmony refuses: a tool message
        without a name, system content outside a system message, ...)."""
        options = _options(_RenderOptions, _lib.ossrt_render_options_init,
                           kind=None if kind is None else _enum_value(RenderKind, kind),
                           next_role=None if next_role is None else _enum_value(Role, next_role),
                           auto_drop_analysis=None if auto_drop_analysis is None else int(auto_drop_analysis))
        handle, tokenizer_handle = self._handle, (tokenizer or _builtin_tokenizer())._handle
        return _ids(lambda out, cap, n: _lib.ossrt_harmony_render(tokenizer_handle, handle, ctypes.byref(options),
                                                                  out, cap, n), 1024)


class HarmonyParser(_Handle):
    """Turns one stream of model output ids back into harmony messages, event by event. One thread at a time."""
    _destroy = "ossrt_harmony_parser_destroy"

    def __init__(self, tokenizer: Tokenizer | None = None, *, role: Role | str = Role.ASSISTANT,
                 mode: ParseMode | str = ParseMode.LENIENT) -> None:
        """role: the role whose header the prompt already opened (ASSISTANT after a completion render), or NONE
        when the output starts with <|start|>. Raises InvalidArgument (bad role or mode)."""
        handle = _vp()
        self._adopt(_lib.ossrt_harmony_parser_create((tokenizer or _builtin_tokenizer())._handle,
                                                     _enum_value(Role, role), _enum_value(ParseMode, mode),
                                                     ctypes.byref(handle)), handle)

    def _events(self) -> list[Event]:
        events, event = [], _output(_HarmonyEvent, _lib.ossrt_harmony_event_init)
        while (taken := _lib.ossrt_harmony_parser_next_event(self._handle, ctypes.byref(event))) == 1:
            events.append(_event(event))
        if taken < 0:  # a struct this binding's layout cannot hold: the library refused and kept the event
            _check(Status.INVALID_ARGUMENT)
        return events

    def push(self, token: int) -> list[Event]:
        """Feeds one id; returns the events it completed. Raises InvalidArgument in the strict modes for malformed
        output (harmony's message; the parser then refuses more input); lenient mode fails only for memory."""
        _check(_lib.ossrt_harmony_parser_push(self._handle, _token(token)))
        return self._events()

    def feed(self, tokens: Iterable[int]) -> list[Event]:
        """push() for each id; all their events in order."""
        return [event for token in tokens for event in self.push(token)]

    def finish(self) -> list[Event]:
        """Ends the stream (closing an open message); returns the last events. Fails as push does."""
        _check(_lib.ossrt_harmony_parser_finish(self._handle))
        return self._events()

    def messages_json(self) -> str:
        """The completed messages as harmony JSON (an array)."""
        handle = self._handle
        return _bytes(lambda out, cap, n: _lib.ossrt_harmony_parser_messages_json(handle, out, cap, n),
                      4096).decode()

    def messages(self) -> list[dict[str, Any]]:
        """The completed messages as Python dicts."""
        return json.loads(self.messages_json())

    def append_to(self, conversation: Conversation) -> None:
        """Appends the completed messages to conversation as history (a final <|return|> renders as <|end|>)."""
        _check(_lib.ossrt_harmony_parser_append_to(self._handle, conversation._handle))


# ---- session --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SessionMemory:
    """What a session holds, in bytes, and its resolved context length."""
    kv_cache_bytes: int  # keys and values (dense layers grow with use)
    scratch_bytes: int  # activations and staging for one prefill chunk
    logits_bytes: int
    context_length: int


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCall:
    """The call a chat turn ended with: answer it with conversation.add_tool_result(call.recipient, output)."""
    recipient: str  # "functions.get_weather", "browser.search", "python"
    arguments: str  # the message text: JSON for function tools, code for python
    channel: str | None  # "commentary" (function tools) or "analysis"
    content_type: str | None  # as written: "<|constrain|>json", "json", "code"


@dataclasses.dataclass(frozen=True, slots=True)
class ChatResult:
    """How a chat turn ended and what it cost."""
    finish_reason: FinishReason
    prompt_tokens: int  # the rendered prompt
    reused_tokens: int  # of those, already in the session's cache (not prefilled again)
    generated_tokens: int
    reasoning_tokens: int  # of those, on the analysis channel
    messages_appended: int  # assistant messages appended to the conversation
    anomalies: int  # lenient-parser recoveries (also sent as ANOMALY events)
    constrained_tokens: int  # sampled under the response format's or a strict tool's mask
    tool_call: ToolCall | None  # when finish_reason is TOOL_CALL and the call names its recipient


def _tool_call(result: _ChatResult) -> ToolCall | None:
    """The call a result carries, copied out (the library's strings live only until the session's next turn)."""
    if not result.tool_call_recipient:
        return None
    arguments = ctypes.string_at(result.tool_call_arguments, result.tool_call_arguments_len)
    return ToolCall(recipient=_text(result.tool_call_recipient) or "", arguments=arguments.decode("utf-8", "replace"),
                    channel=_text(result.tool_call_channel), content_type=_text(result.tool_call_content_type))


class Session(_Handle):
    """One stream of tokens and its KV cache over a model. One thread at a time (a second call while one runs
    raises InvalidState), except cancel() and close(), which any thread may call at any time."""
    _destroy = "ossrt_session_destroy"

    def __init__(self, model: Model, *, context_length: int | None = None, max_batch_tokens: int | None = None,
                 rewind_tokens: int | None = None, threads: int | None = None,
                 numerics: Numerics | str | None = None,
                 prefill_progress: Callable[[int, int], object] | None = None) -> None:
        """Options left None keep the library's defaults: context_length 0 = the model's maximum,
        max_batch_tokens 512 (prompt tokens per forward chunk), rewind_tokens 4096 (positions kept so truncate and
        sync_prefix can drop recent tokens for free), threads 0 = one per core (at most 256), numerics EXACT.
        prefill_progress(done, total) runs after each prefill chunk of every call; returning something truthy
        cancels the rest, an exception it raises is re-raised by that call.

        Raises InvalidArgument (context_length above the model's maximum, max_batch_tokens 0, threads above 256),
        InvalidState (model closed), OutOfMemory."""
        self._model = model  # keeps the runtime's log callback alive
        self._progress = None if prefill_progress is None else _PrefillProgress(_guarded(_cancel_flag(
            lambda done, total, _: prefill_progress(done, total)), 1))
        options = _options(_SessionOptions, _lib.ossrt_session_options_init, context_length=context_length,
                           max_batch_tokens=max_batch_tokens, rewind_tokens=rewind_tokens, threads=threads,
                           numerics=None if numerics is None else _enum_value(Numerics, numerics),
                           prefill_progress=self._progress)
        handle = _vp()
        self._adopt(_lib.ossrt_session_create(model._handle, ctypes.byref(options), ctypes.byref(handle)), handle)

    def append(self, tokens: Iterable[int]) -> None:
        """Appends tokens and runs them through the model (prefill); logits() then predicts the next token.
        Raises InvalidToken or ContextOverflow (nothing appended), Cancelled (the completed chunks stay; no logits
        until the next append), OutOfMemory, InvalidCheckpoint (non-finite logits: damaged weights),
        InvalidState (a mapped checkpoint file changed since load; the session is busy or closed)."""
        packed = _int32_array(tokens)
        _check(_lib.ossrt_session_append_tokens(self._handle, packed, len(packed)))

    def logits(self) -> array.array[float]:
        """A copy of the next-token logits (vocab_size floats). Raises InvalidState (nothing appended yet)."""
        pointer, count = ctypes.POINTER(_float)(), _size()
        _check(_lib.ossrt_session_get_logits(self._handle, ctypes.byref(pointer), ctypes.byref(count)))
        values = array.array("f")
        values.frombytes(ctypes.string_at(pointer, count.value * ctypes.sizeof(_float)))
        return values

    @property
    def num_tokens(self) -> int:
        """How many tokens the session holds."""
        n = _size()
        _check(_lib.ossrt_session_get_num_tokens(self._handle, ctypes.byref(n)))
        return n.value

    def tokens(self) -> list[int]:
        """The tokens the session holds, in order."""
        handle = self._handle
        return _ids(lambda out, cap, n: _lib.ossrt_session_get_tokens(handle, out, cap, n), self.num_tokens)

    def generate(self, max_tokens: int, *, sampler: Sampler | None = None, stop: Iterable[int] = ()) -> list[int]:
        """Generates up to max_tokens tokens, appending each: arg-max (lowest id on ties) without a sampler, else
        drawn by it. Stops after any id in stop. Returns the ids generated.
        Raises InvalidState (nothing appended yet), ContextOverflow, Cancelled, OutOfMemory, InvalidArgument (a
        bias id outside the vocabulary); the exception's generated_tokens holds the ids generated before it."""
        if max_tokens < 0:
            raise InvalidArgument(f"max_tokens is {max_tokens}")
        stops, out, n = _int32_array(stop), _int32_buffer(max_tokens), _size()
        if sampler is None:
            status = _lib.ossrt_session_generate_greedy(self._handle, max_tokens, stops, len(stops), out,
                                                        max_tokens, ctypes.byref(n))
        else:
            status = _lib.ossrt_session_generate(self._handle, sampler._handle, max_tokens, stops, len(stops), out,
                                                 max_tokens, ctypes.byref(n))
        generated = out[:n.value]
        try:
            _check(status)
        except OssrtError as error:
            error.generated_tokens = generated  # type: ignore[attr-defined]
            raise
        return generated

    def sample(self, sampler: Sampler) -> int:
        """Draws the next token from the current logits without appending it (a custom decode loop: sample,
        inspect, append). Raises InvalidState (no logits), InvalidArgument (a bias id outside the vocabulary)."""
        token = _i32()
        _check(_lib.ossrt_session_sample(self._handle, sampler._handle, ctypes.byref(token)))
        return token.value

    def fork(self) -> Session:
        """A new, independent session holding a copy of this one's tokens, logits and KV cache (same options).
        Raises OutOfMemory, InvalidState (busy or closed)."""
        fork = Session.__new__(Session)
        fork._model, fork._progress = self._model, self._progress  # the C fork calls the same progress callback
        handle = _vp()
        fork._adopt(_lib.ossrt_session_fork(self._handle, ctypes.byref(handle)), handle)
        return fork

    def cancel(self) -> None:
        """Asks the call running on this session to stop at its next layer boundary; callable from any thread. The
        session stays valid at its last completed chunk or token. append, generate, sync_prefix and truncate then
        raise Cancelled; a chat turn returns normally with finish_reason CANCELLED. A call that starts afterwards is
        not affected; with no call running this does nothing. Never fails."""
        if self._ptr is not None:
            _lib.ossrt_session_cancel(self._ptr)

    def reset(self) -> None:
        """Drops every token."""
        _check(_lib.ossrt_session_reset(self._handle))

    def sync_prefix(self, tokens: Iterable[int]) -> int:
        """Makes the session hold exactly tokens: keeps the longest common prefix, drops the rest and prefills the
        suffix (at least the last token, so logits() predicts what follows). Returns how many tokens were kept
        without recomputation. Raises InvalidToken / ContextOverflow (nothing changes), Cancelled (the session
        holds the kept prefix and the completed chunks), OutOfMemory."""
        packed, reused = _int32_array(tokens), _size()
        _check(_lib.ossrt_session_sync_prefix(self._handle, packed, len(packed), ctypes.byref(reused)))
        return reused.value

    def truncate(self, n_keep: int) -> None:
        """Keeps the first n_keep tokens (free for up to max_batch_tokens + rewind_tokens dropped; more re-prefills
        the sliding-window span). No logits until the next append unless re-prefilled.
        Raises InvalidArgument (n_keep above the tokens held), Cancelled / OutOfMemory during a re-prefill."""
        if n_keep < 0:
            raise InvalidArgument(f"n_keep is {n_keep}")
        _check(_lib.ossrt_session_truncate(self._handle, n_keep))

    def state_size(self) -> int:
        """The bytes save_state() needs now."""
        size = _size()
        _check(_lib.ossrt_session_state_size(self._handle, ctypes.byref(size)))
        return size.value

    def save_state(self) -> bytes:
        """The session's tokens, logits and KV cache as a blob (magic "OSSRTSES", format version, model
        fingerprint) for restore_state on a session of the same model."""
        handle = self._handle
        return _bytes(lambda out, cap, n: _lib.ossrt_session_save_state(handle, out, cap, n), self.state_size())

    def restore_state(self, state: bytes | bytearray | memoryview) -> None:
        """Replaces the session's state by a saved one. Raises InvalidArgument (not a state blob, another format
        version, truncated), InvalidState (saved from another model), ContextOverflow (more tokens than this
        session's context length); the session is then unchanged."""
        data = bytes(state)
        _check(_lib.ossrt_session_restore_state(self._handle, data, len(data)))

    def save_state_file(self, path: str | os.PathLike[str]) -> None:
        """save_state() into a file. Raises IoError (or NotFound, PermissionDenied) naming the path."""
        _check(_lib.ossrt_session_save_state_file(self._handle, os.fsencode(path)))

    def restore_state_file(self, path: str | os.PathLike[str]) -> None:
        """restore_state() from a file. Raises as restore_state, and IoError (or NotFound, PermissionDenied) naming
        the path."""
        _check(_lib.ossrt_session_restore_state_file(self._handle, os.fsencode(path)))

    def memory(self) -> SessionMemory:
        """What the session holds now."""
        memory = _output(_SessionMemory, _lib.ossrt_session_memory_init)
        _check(_lib.ossrt_session_get_memory(self._handle, ctypes.byref(memory)))
        return _record(SessionMemory, memory)

    def chat(self, conversation: Conversation, sampler: Sampler | None = None, *, max_tokens: int | None = None,
             reasoning_budget: int | None = None, stop_tokens: Iterable[int] = (),
             auto_drop_analysis: bool | None = None, on_event: Callable[[Event], object] | None = None,
             response_format: str | dict[str, Any] | None = None, response_format_name: str | None = None,
             strict_tools: Iterable[str] = ()) -> ChatResult:
        """One harmony assistant turn: renders the conversation as a prompt, prefills only what the session does not
        hold yet, samples (sampler None: Sampler() defaults, temperature 1) until <|return|> or <|call|> (or a
        token in stop_tokens), and appends the assistant's messages to the conversation (a message cut short is
        kept as it stands). Add the next user message or a tool result, then call again.

        The reasoning effort is the conversation's (Conversation.set_reasoning_effort). max_tokens default 4096;
        reasoning_budget: analysis tokens at most (default 0: unlimited). on_event(Event) runs on this thread
        for every parser event; returning something truthy ends the turn (finish_reason CANCELLED); it must not
        call into the session. A cancel or a full context is a finish reason, not an exception.

        Structured output: response_format, a JSON schema (text or a dict), is rendered into the developer message
        under "# Response Formats" as "## {response_format_name}" (default "response"; the conversation is not
        changed) and enforced on the final answer only (analysis and headers stay free; <|return|> comes exactly
        when the JSON is complete). strict_tools names function tools of the conversation ("get_weather") whose
        arguments must follow their parameters schema. result.constrained_tokens counts the tokens sampled so.
        Raises InvalidArgument (a conversation harmony cannot render, a model without harmony's vocabulary, bad
        options, an unsupported schema: "response_format: schema at byte N: ...", a strict tool the conversation
        does not declare), InvalidState (busy or closed), InvalidToken, OutOfMemory (the conversation is then unchanged),
        or what on_event raised (the turn ended there, its messages appended)."""
        options = _options(_ChatOptions, _lib.ossrt_chat_options_init, max_tokens=max_tokens, reasoning_budget=reasoning_budget,
                           auto_drop_analysis=None if auto_drop_analysis is None else int(auto_drop_analysis))
        extra = _int32_array(stop_tokens)
        options.extra_stop_tokens, options.n_extra_stop_tokens = extra, len(extra)
        if response_format is not None:
            schema = response_format if isinstance(response_format, str) else json.dumps(
                response_format, separators=(",", ":"), ensure_ascii=False)
            options.response_format = _utf8(schema)
        if response_format_name is not None:
            options.response_format_name = _utf8(response_format_name)
        strict = [_utf8(name) for name in strict_tools]
        strict_array = (_str * len(strict))(*strict)  # alive until the call returns, as are the bytes it points to
        options.strict_tools, options.n_strict_tools = strict_array, len(strict)
        if on_event is not None:
            options.on_event = _EventCallback(_guarded(_cancel_flag(lambda event, _: on_event(_event(event[0]))),
                                                       1))
        result = _output(_ChatResult, _lib.ossrt_chat_result_init)
        default_sampler = Sampler() if sampler is None else None
        try:
            status = _lib.ossrt_chat_turn(self._handle, conversation._handle, (sampler or default_sampler)._handle,
                                          ctypes.byref(options), ctypes.byref(result))
        finally:
            if default_sampler is not None:
                default_sampler.close()
        _check(status)
        return _record(ChatResult, result, finish_reason=_as_enum(FinishReason, result.finish_reason),
                       tool_call=_tool_call(result))

    def chat_stream(self, conversation: Conversation, sampler: Sampler | None = None, **options: Any) -> ChatStream:
        """chat() on a worker thread, its events delivered as an iterator while the turn runs:

            with session.chat_stream(conversation, max_tokens=256) as stream:
                for event in stream:
                    ...
            stream.result  # the ChatResult

        The turn runs at most 64 unread events ahead of the consumer, then waits for it. Leaving the with block,
        close(), or dropping the stream before the turn ends cancels the turn and waits for it. Takes chat()'s
        options except on_event (InvalidArgument at once); the session is busy until the iteration ends. Iteration
        raises what chat() would."""
        return ChatStream(self, conversation, sampler, options)


class _StreamedTurn:
    """What a ChatStream's worker thread shares with it. Never the stream itself, so that dropping the last
    reference to the stream can end the turn."""
    END = object()
    # Unread events the turn may run ahead by; then it waits for the consumer (a stream dropped early has
    # generated at most about this many tokens more when it is cancelled).
    MAX_UNREAD = 64

    def __init__(self) -> None:
        self.events: queue.Queue[Any] = queue.Queue(self.MAX_UNREAD)
        self.stopping = threading.Event()
        self.result: ChatResult | None = None
        self.error: BaseException | None = None

    def run(self, session: Session, conversation: Conversation, sampler: Sampler | None,
            options: dict[str, Any]) -> None:
        try:
            if not self.stopping.is_set():
                self.result = session.chat(conversation, sampler, on_event=self.deliver, **options)
        except BaseException as error:  # handed to the consumer's thread
            self.error = error
        finally:
            self.events.put(self.END)

    def deliver(self, event: Event) -> bool:
        if self.stopping.is_set():
            return True  # ends the turn: the consumer is gone
        self.events.put(event)
        return False


class ChatStream(_Closes):
    """The events of a chat turn running on a worker thread (Session.chat_stream). Iterate it on one thread;
    result holds the ChatResult once the iteration has ended."""

    def __init__(self, session: Session, conversation: Conversation, sampler: Sampler | None,
                 options: dict[str, Any]) -> None:
        """Starts the turn (see Session.chat_stream). Raises InvalidArgument for an on_event option."""
        if "on_event" in options:
            raise InvalidArgument("chat_stream delivers the events itself: on_event is not an option here")
        self._session, self._turn, self._finished = session, _StreamedTurn(), False
        self._thread = threading.Thread(target=self._turn.run, args=(session, conversation, sampler, options),
                                        name="ossrt-chat-turn", daemon=True)
        self._thread.start()

    @property
    def result(self) -> ChatResult | None:
        """The turn's ChatResult once the iteration ended (or close() returned); None before, or when the turn
        failed (the iteration raised its error) or was closed before it started."""
        return self._turn.result if self._finished else None

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Event:
        """The next event, waiting for it. Raises StopIteration at the end of the turn, or what the turn raised."""
        if self._finished:
            raise StopIteration
        item = self._turn.events.get()
        if item is _StreamedTurn.END:
            self._join()
            if self._turn.error is not None:
                raise self._turn.error
            raise StopIteration
        return item

    def _join(self) -> None:
        self._thread.join()
        self._finished = True

    def close(self) -> None:
        """Ends the turn if it still runs (cancelled: its messages so far stay in the conversation) and waits for
        the worker thread; unread events are dropped. Idempotent; never raises."""
        if self._finished:
            return
        self._turn.stopping.set()
        self._session.cancel()
        # Waiting cannot work from the worker itself (a collection running __del__ there) or at interpreter exit
        # (the daemon worker may never run again): cancelled is all that can be done.
        if threading.current_thread() is self._thread or sys.is_finalizing():
            return
        while self._thread.is_alive():
            self._session.cancel()  # repeated: a cancel that lands before the C call starts does not stop it
            try:
                if self._turn.events.get(timeout=0.01) is _StreamedTurn.END:
                    break
            except queue.Empty:
                pass
        self._join()
