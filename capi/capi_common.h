// Shared pieces of the C translation layer: handle definitions, the
// thread-local error message, and the exception barrier.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "ossrt.h"
#include "ossrt/ossrt.hpp"

struct ossrt_model {
  std::shared_ptr<const ossrt::Model> model;
};

struct ossrt_session {
  std::unique_ptr<ossrt::Session> session;
  // Set while a call runs on the session: a second call from another thread
  // (or from inside a callback) is refused instead of corrupting its state.
  mutable std::atomic<bool> busy{false};
  mutable std::atomic<std::thread::id> owner{};  // the thread of the running call
  // ossrt_session_destroy during a call: another thread cancels the call and
  // waits here for it to end; the call's own thread (destroy from a callback)
  // leaves the deletion to the end of the call (destroy_pending).
  mutable std::atomic<int> waiters{0};
  mutable std::mutex mutex;
  mutable std::condition_variable idle;
  mutable bool destroy_pending = false;  // only touched by the owner thread
  // The call the last chat turn ended with: ossrt_chat_result's tool_call_*
  // pointers borrow its strings until the next turn (or destroy).
  ossrt::harmony::ToolCall last_tool_call;
};

struct ossrt_batch_decoder {
  std::unique_ptr<ossrt::BatchDecoder> decoder;
  // Set while a step runs: a second step from another thread is refused
  // (the decoder's scratch serves one step at a time).
  mutable std::atomic<bool> busy{false};
};

struct ossrt_runtime {
  std::shared_ptr<ossrt::Runtime> runtime;
};

struct ossrt_tokenizer {
  std::shared_ptr<const ossrt::Tokenizer> tokenizer;
};

struct ossrt_sampler {
  ossrt::Sampler sampler;
};

struct ossrt_detok_stream {
  ossrt::StreamDecoder decoder;
};

struct ossrt_conversation {
  ossrt::harmony::Conversation messages;
};

struct ossrt_harmony_parser {
  ossrt::harmony::StreamParser parser;
  std::vector<ossrt::harmony::ParseEvent> queue;
  size_t next = 0;
  ossrt::harmony::ParseEvent current;  // the event last handed out; its strings back the C pointers
};

namespace ossrt::capi {

// The registry of live handles: every handle *_create hands out is recorded
// with its type until *_destroy, so an entry point given a released handle (or
// one of another type, or garbage) refuses it with a status instead of
// touching freed memory. Best effort: it cannot tell a released handle from a
// new one that reuses the same address and type.
void register_handle(const void* handle, const void* kind);  // throws std::bad_alloc
bool unregister_handle(const void* handle, const void* kind) noexcept;
bool is_live_handle(const void* handle, const void* kind) noexcept;
// Runs fn() while `handle` is registered, holding off its unregistration
// (so destroy cannot free it meanwhile); false, without running fn, if it is not live.
bool with_live_handle(const void* handle, const void* kind, void (*fn)(const void*, void*), void* context) noexcept;

// One distinct address per handle type.
template <class Handle>
const void* handle_kind() noexcept {
  static const char tag = 0;
  return &tag;
}

template <class Handle>
bool live(const Handle* handle) noexcept {
  return handle != nullptr && is_live_handle(handle, handle_kind<Handle>());
}

// Records a new handle; deletes it if recording fails.
template <class Handle>
Handle* adopt(Handle* handle) {
  try {
    register_handle(handle, handle_kind<Handle>());
  } catch (...) {
    delete handle;
    throw;
  }
  return handle;
}

// Runs fn(handle) while the handle is live and cannot be destroyed; false if it is not live.
template <class Handle, class Fn>
bool with_live(const Handle* handle, Fn&& fn) noexcept {
  if (handle == nullptr) return false;
  return with_live_handle(
      handle, handle_kind<Handle>(),
      [](const void* h, void* f) { (*static_cast<Fn*>(f))(static_cast<const Handle*>(h)); }, &fn);
}

// Deletes a live handle; NULL, released and foreign pointers are ignored.
template <class Handle>
void destroy(Handle* handle) noexcept {
  if (handle != nullptr && unregister_handle(handle, handle_kind<Handle>())) delete handle;
}

// The literal among `names` equal to `text` ("" if none): C fields promised
// static take these rather than pointers into a model's strings.
inline const char* static_name(const std::string& text, std::initializer_list<const char*> names) noexcept {
  for (const char* name : names) {
    if (text == name) return name;
  }
  return "";
}

// Records status's message for ossrt_last_error_message() and returns its code.
ossrt_status report(const Status& status) noexcept;
// Shorthand for an invalid-argument failure naming the function.
ossrt_status invalid_argument(const char* message) noexcept;

// The C option structs as C++ options (read through their struct_size, over
// the defaults). OK, or INVALID_ARGUMENT naming `where` (a released runtime,
// a numerics value outside the enum).
ossrt_status model_options_from(const ossrt_model_options* options, const char* where, ModelOptions& cpp);
ossrt_status session_options_from(const ossrt_session_options* options, const char* where, SessionOptions& cpp);

// Copies `items` into a caller buffer with the required-size idiom.
template <class T>
ossrt_status fill_buffer(const T* items, size_t count, T* out, size_t cap, size_t* n_out) noexcept {
  *n_out = count;
  if (count > cap) {
    return report(Status(StatusCode::buffer_too_small,
                         "buffer holds " + std::to_string(cap) + ", needed " + std::to_string(count)));
  }
  if (count > 0) std::memcpy(out, items, count * sizeof(T));
  return report(Status::success());
}

// Claims a session for the duration of one call (see ossrt_session::busy).
class SessionClaim {
 public:
  SessionClaim(const ossrt_session* session, const char* where) noexcept;
  ~SessionClaim();
  SessionClaim(const SessionClaim&) = delete;
  SessionClaim& operator=(const SessionClaim&) = delete;
  bool ok() const noexcept { return status_ == OSSRT_STATUS_OK; }
  ossrt_status status() const noexcept { return status_; }

 private:
  const ossrt_session* session_ = nullptr;
  ossrt_status status_ = OSSRT_STATUS_OK;
};

// A parser event as the C ABI shows it; its pointers borrow from `event`.
ossrt_harmony_event c_event(const harmony::ParseEvent& event) noexcept;

// Runs body (returning ossrt_status), converting escaping exceptions.
template <class Body>
ossrt_status barrier(const char* where, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return report(Status(StatusCode::out_of_memory, std::string(where) + ": out of memory"));
  } catch (...) {
    return report(Status(StatusCode::internal, std::string(where) + ": unexpected exception"));
  }
}

// Copies min(caller_size, sizeof(T)) bytes of `value` over `out`, preserving
// the caller's struct_size, so older callers with shorter structs keep working.
template <class T>
void copy_versioned(const T& value, T* out) noexcept {
  const uint32_t caller_size = out->struct_size;
  const size_t n = caller_size < sizeof(T) ? caller_size : sizeof(T);
  std::memcpy(static_cast<void*>(out), &value, n);
  out->struct_size = caller_size;
}

// One field of a C option struct: bytes [begin, end).
struct FieldSpan {
  size_t begin, end;
  const char* name;
};

// The fields of each option and output struct (capi_struct_layouts.cpp).
std::span<const FieldSpan> fields_of(const ossrt_model_options*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_session_options*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_sampler_options*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_encode_options*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_system_options*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_render_options*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_chat_options*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_model_info*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_session_memory*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_harmony_event*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_chat_result*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_device_info*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_memory_estimate*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_scheduler_options*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_generation_request*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_generation_progress*) noexcept;
std::span<const FieldSpan> fields_of(const ossrt_step_report*) noexcept;

// OK when struct_size covers the first `required` fields (struct_size itself
// at least) and ends on a field boundary (older headers' structs end on one;
// anything else would read or write part of a pointer); otherwise reports
// INVALID_ARGUMENT naming `argument` and the field it misses or cuts.
ossrt_status check_struct_size(const char* where, const char* argument, uint32_t struct_size,
                               std::span<const FieldSpan> fields, size_t required = 1) noexcept;

// Option structs must come from their _init function (or set struct_size):
// 0 means a forgotten _init and is refused rather than guessed at. NULL is OK.
template <class T>
ossrt_status check_options(const T* in, const char* where) noexcept {
  return in == nullptr ? OSSRT_STATUS_OK : check_struct_size(where, "options", in->struct_size, fields_of(in));
}

// An output struct must not be NULL and must have room for its first
// `required` fields (struct_size and what every caller reads).
template <class T>
ossrt_status check_output(const T* out, const char* where, const char* argument, size_t required) noexcept {
  if (out == nullptr) {
    char message[160];
    std::snprintf(message, sizeof message, "%s: %s is NULL", where, argument);
    return invalid_argument(message);
  }
  return check_struct_size(where, argument, out->struct_size, fields_of(out), required);
}

// Zeroes an output struct and sets its struct_size (the *_init functions).
template <class T>
void init_output(T* out) noexcept {
  if (out == nullptr) return;
  *out = T{};
  out->struct_size = sizeof(T);
}

// Reads min(struct_size, sizeof(T)) bytes of the caller's options over the defaults.
template <class T>
T read_versioned(const T* in, const T& defaults) noexcept {
  T value = defaults;
  if (in != nullptr) {
    const size_t n = in->struct_size < sizeof(T) ? in->struct_size : sizeof(T);
    std::memcpy(static_cast<void*>(&value), in, n);
  }
  return value;
}

}  // namespace ossrt::capi
