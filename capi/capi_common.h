// Shared pieces of the C translation layer: handle definitions, the
// thread-local error message, and the exception barrier.
#pragma once

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "ossrt.h"
#include "ossrt/ossrt.hpp"

struct ossrt_model {
  std::shared_ptr<const ossrt::Model> model;
};

struct ossrt_session {
  std::unique_ptr<ossrt::Session> session;
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

// Records status's message for ossrt_last_error_message() and returns its code.
ossrt_status report(const Status& status) noexcept;
// Shorthand for an invalid-argument failure naming the function.
ossrt_status invalid_argument(const char* message) noexcept;

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
