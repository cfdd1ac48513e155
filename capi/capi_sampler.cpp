// ossrt_sampler_*: translation to ossrt::Sampler.
#include "capi_common.h"

using namespace ossrt;

extern "C" {

void ossrt_sampler_options_init(ossrt_sampler_options* options) {
  if (options == nullptr) return;
  const SamplerOptions defaults;
  *options = ossrt_sampler_options{};
  options->struct_size = sizeof(ossrt_sampler_options);
  options->temperature = defaults.temperature;
  options->top_k = defaults.top_k;
  options->top_p = defaults.top_p;
  options->min_p = defaults.min_p;
  options->repetition_penalty = defaults.repetition_penalty;
  options->presence_penalty = defaults.presence_penalty;
  options->frequency_penalty = defaults.frequency_penalty;
  options->penalty_last_n = defaults.penalty_last_n;
  options->seed = defaults.seed;
}

ossrt_status ossrt_sampler_create(const ossrt_sampler_options* options, ossrt_sampler** sampler_out) {
  if (sampler_out == nullptr) return capi::invalid_argument("ossrt_sampler_create: sampler_out is NULL");
  *sampler_out = nullptr;
  if (ossrt_status st = capi::check_options(options, "ossrt_sampler_create"); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_sampler_create", [&] {
    ossrt_sampler_options defaults;
    ossrt_sampler_options_init(&defaults);
    const ossrt_sampler_options o = capi::read_versioned(options, defaults);
    if (o.n_bias > 0 && (o.bias_ids == nullptr || o.bias_values == nullptr)) {
      return capi::invalid_argument("ossrt_sampler_create: bias_ids or bias_values is NULL");
    }
    SamplerOptions cpp;
    cpp.temperature = o.temperature;
    cpp.top_k = static_cast<size_t>(o.top_k);
    cpp.top_p = o.top_p;
    cpp.min_p = o.min_p;
    cpp.repetition_penalty = o.repetition_penalty;
    cpp.presence_penalty = o.presence_penalty;
    cpp.frequency_penalty = o.frequency_penalty;
    cpp.penalty_last_n = static_cast<size_t>(o.penalty_last_n);
    cpp.seed = o.seed;
    for (size_t i = 0; i < o.n_bias; ++i) cpp.logit_bias.emplace_back(o.bias_ids[i], o.bias_values[i]);
    auto sampler = Sampler::create(cpp);
    if (!sampler.ok()) return capi::report(sampler.status());
    *sampler_out = capi::adopt(new ossrt_sampler{std::move(sampler.value())});
    return capi::report(Status::success());
  });
}

void ossrt_sampler_destroy(ossrt_sampler* sampler) {
  capi::destroy(sampler);
}

}  // extern "C"
