// ossrt_batch_decoder_*: translation to ossrt::BatchDecoder.
#include <memory>
#include <vector>

#include "capi_common.h"

using namespace ossrt;

extern "C" {

ossrt_status ossrt_batch_decoder_create(const ossrt_model* model, size_t max_sessions,
                                        ossrt_batch_decoder** decoder_out) {
  return capi::barrier("ossrt_batch_decoder_create", [&]() -> ossrt_status {
    if (decoder_out == nullptr) return capi::invalid_argument("ossrt_batch_decoder_create: decoder_out is NULL");
    *decoder_out = nullptr;
    if (!capi::live(model)) return capi::invalid_argument("ossrt_batch_decoder_create: model is NULL or released");
    auto decoder = BatchDecoder::create(model->model, max_sessions);
    if (!decoder.ok()) return capi::report(decoder.status());
    *decoder_out = capi::adopt(new ossrt_batch_decoder{std::move(decoder.value())});
    return capi::report(Status::success());
  });
}

void ossrt_batch_decoder_destroy(ossrt_batch_decoder* decoder) {
  capi::destroy(decoder);
}

ossrt_status ossrt_batch_decoder_step(ossrt_batch_decoder* decoder, ossrt_session* const* sessions,
                                      const int32_t* tokens, size_t count) {
  return capi::barrier("ossrt_batch_decoder_step", [&]() -> ossrt_status {
    if (!capi::live(decoder)) return capi::invalid_argument("ossrt_batch_decoder_step: decoder is NULL or released");
    if (count > 0 && (sessions == nullptr || tokens == nullptr)) {
      return capi::invalid_argument("ossrt_batch_decoder_step: sessions or tokens is NULL");
    }
    if (count == 0 || count > decoder->decoder->max_sessions()) {
      return capi::invalid_argument("ossrt_batch_decoder_step: count must be 1 to the decoder's max_sessions");
    }
    bool claimed = false;
    capi::with_live(decoder, [&](const ossrt_batch_decoder* d) { claimed = !d->busy.exchange(true); });
    if (!claimed) {
      return capi::report(Status(StatusCode::invalid_state,
                                 "ossrt_batch_decoder_step: the decoder is running a step on another thread"));
    }
    struct Release {
      const ossrt_batch_decoder* d;
      ~Release() { d->busy.store(false); }
    } release{decoder};
    // Every session is claimed for the step, as one call of its own.
    std::vector<std::unique_ptr<capi::SessionClaim>> claims;
    std::vector<Session*> rows;
    for (size_t i = 0; i < count; ++i) {
      claims.push_back(std::make_unique<capi::SessionClaim>(sessions[i], "ossrt_batch_decoder_step"));
      if (!claims.back()->ok()) return claims.back()->status();
      rows.push_back(sessions[i]->session.get());
    }
    return capi::report(decoder->decoder->step(rows, std::span<const TokenId>(tokens, count)));
  });
}

void ossrt_batch_decoder_cancel(ossrt_batch_decoder* decoder) {
  capi::with_live(decoder, [](const ossrt_batch_decoder* d) { d->decoder->cancel(); });
}

}  // extern "C"
