// ossrt_tokenizer_* and ossrt_detok_stream_*: translation to ossrt::Tokenizer.
#include <string>
#include <vector>

#include "capi_common.h"

using namespace ossrt;

namespace {

ossrt_status make_handle(ossrt_tokenizer** tokenizer_out) {
  auto tokenizer = Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) return capi::report(tokenizer.status());
  *tokenizer_out = capi::adopt(new ossrt_tokenizer{std::move(tokenizer.value())});
  return capi::report(Status::success());
}

}  // namespace

extern "C" {

void ossrt_encode_options_init(ossrt_encode_options* options) {
  if (options == nullptr) return;
  *options = ossrt_encode_options{};
  options->struct_size = sizeof(ossrt_encode_options);
  options->specials = OSSRT_SPECIALS_NONE;
}

ossrt_status ossrt_tokenizer_create(ossrt_tokenizer** tokenizer_out) {
  if (tokenizer_out == nullptr) return capi::invalid_argument("ossrt_tokenizer_create: tokenizer_out is NULL");
  *tokenizer_out = nullptr;
  return capi::barrier("ossrt_tokenizer_create", [&] { return make_handle(tokenizer_out); });
}

ossrt_status ossrt_model_get_tokenizer(const ossrt_model* model, ossrt_tokenizer** tokenizer_out) {
  if (tokenizer_out == nullptr) return capi::invalid_argument("ossrt_model_get_tokenizer: tokenizer_out is NULL");
  *tokenizer_out = nullptr;
  if (!capi::live(model)) return capi::invalid_argument("ossrt_model_get_tokenizer: model is NULL or released");
  return capi::barrier("ossrt_model_get_tokenizer", [&] { return make_handle(tokenizer_out); });
}

void ossrt_tokenizer_destroy(ossrt_tokenizer* tokenizer) {
  capi::destroy(tokenizer);
}

ossrt_status ossrt_tokenizer_encode(const ossrt_tokenizer* tokenizer, const char* text, size_t len,
                                    const ossrt_encode_options* options, int32_t* out, size_t cap, size_t* n_out) {
  if (!capi::live(tokenizer) || n_out == nullptr || (text == nullptr && len > 0) || (out == nullptr && cap > 0)) {
    return capi::invalid_argument("ossrt_tokenizer_encode: NULL argument or released handle");
  }
  if (ossrt_status st = capi::check_options(options, "ossrt_tokenizer_encode"); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_tokenizer_encode", [&] {
    ossrt_encode_options defaults;
    ossrt_encode_options_init(&defaults);
    const ossrt_encode_options o = capi::read_versioned(options, defaults);
    AllowedSpecials allowed = AllowedSpecials::none();
    if (o.specials == OSSRT_SPECIALS_ALL) {
      allowed = AllowedSpecials::all();
    } else if (o.specials == OSSRT_SPECIALS_ALLOWED) {
      if (o.allowed_ids == nullptr && o.n_allowed > 0) {
        return capi::invalid_argument("ossrt_tokenizer_encode: allowed_ids is NULL");
      }
      allowed = AllowedSpecials::only(std::vector<TokenId>(o.allowed_ids, o.allowed_ids + o.n_allowed));
    } else if (o.specials != OSSRT_SPECIALS_NONE) {
      return capi::invalid_argument("ossrt_tokenizer_encode: specials must be an OSSRT_SPECIALS_* value");
    }
    const std::string_view input(text == nullptr ? "" : text, len);
    auto ids =
        o.raw_bytes ? tokenizer->tokenizer->encode_bytes(input, allowed) : tokenizer->tokenizer->encode(input, allowed);
    if (!ids.ok()) return capi::report(ids.status());
    return capi::fill_buffer(ids.value().data(), ids.value().size(), out, cap, n_out);
  });
}

ossrt_status ossrt_tokenizer_decode(const ossrt_tokenizer* tokenizer, const int32_t* ids, size_t n, int32_t lossy,
                                    char* out, size_t cap, size_t* n_out) {
  if (!capi::live(tokenizer) || n_out == nullptr || (ids == nullptr && n > 0) || (out == nullptr && cap > 0)) {
    return capi::invalid_argument("ossrt_tokenizer_decode: NULL argument or released handle");
  }
  return capi::barrier("ossrt_tokenizer_decode", [&] {
    const std::span<const TokenId> span(ids, n);
    std::string text;
    if (lossy) {
      text = tokenizer->tokenizer->decode_lossy(span);
    } else {
      auto decoded = tokenizer->tokenizer->decode(span);
      if (!decoded.ok()) return capi::report(decoded.status());
      text = std::move(decoded.value());
    }
    return capi::fill_buffer(text.data(), text.size(), out, cap, n_out);
  });
}

ossrt_status ossrt_tokenizer_token_bytes(const ossrt_tokenizer* tokenizer, int32_t id, const char** bytes,
                                         size_t* len) {
  if (!capi::live(tokenizer) || bytes == nullptr || len == nullptr) {
    return capi::invalid_argument("ossrt_tokenizer_token_bytes: NULL argument or released handle");
  }
  auto view = tokenizer->tokenizer->token_bytes(id);
  if (!view.ok()) return capi::report(view.status());
  *bytes = view.value().data();
  *len = view.value().size();
  return capi::report(Status::success());
}

ossrt_status ossrt_tokenizer_special_id(const ossrt_tokenizer* tokenizer, ossrt_special_token token, int32_t* id) {
  if (!capi::live(tokenizer) || id == nullptr)
    return capi::invalid_argument("ossrt_tokenizer_special_id: NULL argument or released handle");
  if (token < OSSRT_SPECIAL_STARTOFTEXT || token > OSSRT_SPECIAL_CALL) {
    return capi::invalid_argument("ossrt_tokenizer_special_id: unknown ossrt_special_token value");
  }
  *id = tokenizer->tokenizer->special_id(static_cast<SpecialToken>(token));
  return capi::report(Status::success());
}

ossrt_status ossrt_tokenizer_find_special(const ossrt_tokenizer* tokenizer, const char* text, size_t len, int32_t* id) {
  if (!capi::live(tokenizer) || id == nullptr || (text == nullptr && len > 0)) {
    return capi::invalid_argument("ossrt_tokenizer_find_special: NULL argument or released handle");
  }
  auto found = tokenizer->tokenizer->find_special(std::string_view(text == nullptr ? "" : text, len));
  if (!found.ok()) return capi::report(found.status());
  *id = found.value();
  return capi::report(Status::success());
}

ossrt_status ossrt_tokenizer_vocab_size(const ossrt_tokenizer* tokenizer, size_t* vocab_size) {
  if (!capi::live(tokenizer) || vocab_size == nullptr) {
    return capi::invalid_argument("ossrt_tokenizer_vocab_size: NULL argument or released handle");
  }
  *vocab_size = tokenizer->tokenizer->vocab_size();
  return capi::report(Status::success());
}

ossrt_status ossrt_detok_stream_create(const ossrt_tokenizer* tokenizer, ossrt_detok_stream** stream_out) {
  if (stream_out == nullptr) return capi::invalid_argument("ossrt_detok_stream_create: stream_out is NULL");
  *stream_out = nullptr;
  if (!capi::live(tokenizer)) return capi::invalid_argument("ossrt_detok_stream_create: tokenizer is NULL or released");
  return capi::barrier("ossrt_detok_stream_create", [&] {
    *stream_out = capi::adopt(new ossrt_detok_stream{StreamDecoder(tokenizer->tokenizer)});
    return capi::report(Status::success());
  });
}

void ossrt_detok_stream_destroy(ossrt_detok_stream* stream) {
  capi::destroy(stream);
}

ossrt_status ossrt_detok_stream_push(ossrt_detok_stream* stream, int32_t id, char* out, size_t cap, size_t* n_out) {
  if (!capi::live(stream) || n_out == nullptr || (out == nullptr && cap > 0)) {
    return capi::invalid_argument("ossrt_detok_stream_push: NULL argument or released handle");
  }
  return capi::barrier("ossrt_detok_stream_push", [&] {
    // Work on a copy so a too-small buffer leaves the stream as it was.
    StreamDecoder next = stream->decoder;
    std::string text;
    if (Status st = next.push(id, text); !st.ok()) return capi::report(st);
    const ossrt_status status = capi::fill_buffer(text.data(), text.size(), out, cap, n_out);
    if (status == OSSRT_STATUS_OK) stream->decoder = std::move(next);
    return status;
  });
}

ossrt_status ossrt_detok_stream_finish(ossrt_detok_stream* stream, char* out, size_t cap, size_t* n_out) {
  if (!capi::live(stream) || n_out == nullptr || (out == nullptr && cap > 0)) {
    return capi::invalid_argument("ossrt_detok_stream_finish: NULL argument or released handle");
  }
  return capi::barrier("ossrt_detok_stream_finish", [&] {
    StreamDecoder next = stream->decoder;
    std::string text;
    next.finish(text);
    const ossrt_status status = capi::fill_buffer(text.data(), text.size(), out, cap, n_out);
    if (status == OSSRT_STATUS_OK) stream->decoder = std::move(next);
    return status;
  });
}

}  // extern "C"
