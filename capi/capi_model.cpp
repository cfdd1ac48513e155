// ossrt_model_*: translation to ossrt::Model.
#include "capi_common.h"

using namespace ossrt;

extern "C" {

void ossrt_model_options_init(ossrt_model_options* options) {
  if (options == nullptr) return;
  *options = ossrt_model_options{};
  options->struct_size = sizeof(ossrt_model_options);
}

ossrt_status ossrt_model_load(const char* directory, const ossrt_model_options* options, ossrt_model** model_out) {
  if (model_out == nullptr) return capi::invalid_argument("ossrt_model_load: model_out is NULL");
  *model_out = nullptr;
  if (directory == nullptr) return capi::invalid_argument("ossrt_model_load: directory is NULL");
  if (ossrt_status st = capi::check_options(options, "ossrt_model_load"); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_model_load", [&] {
    ossrt_model_options defaults;
    ossrt_model_options_init(&defaults);
    const ossrt_model_options o = capi::read_versioned(options, defaults);
    ModelOptions cpp;
    if (o.backend != nullptr) cpp.backend = o.backend;
    if (o.runtime != nullptr) {
      if (!capi::live(o.runtime)) return capi::invalid_argument("ossrt_model_load: options->runtime is released");
      cpp.runtime = o.runtime->runtime;
    }
    cpp.preload = o.preload != 0;
    cpp.weights_in_memory = o.weights_in_memory != 0;
    cpp.validate_weights = o.validate_weights != 0;
    cpp.cpu_expert_layers = o.cpu_expert_layers > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(o.cpu_expert_layers);
    if (o.progress != nullptr) {
      cpp.progress = [callback = o.progress, user_data = o.progress_user_data](uint64_t done, uint64_t total) {
        return callback(done, total, user_data) == 0;
      };
    }
    auto model = Model::load(directory, cpp);
    if (!model.ok()) return capi::report(model.status());
    *model_out = capi::adopt(new ossrt_model{std::move(model.value())});
    return capi::report(Status::success());
  });
}

void ossrt_model_destroy(ossrt_model* model) {
  capi::destroy(model);
}

void ossrt_model_info_init(ossrt_model_info* info) {
  capi::init_output(info);
}

ossrt_status ossrt_model_get_info(const ossrt_model* model, ossrt_model_info* info) {
  if (!capi::live(model)) return capi::invalid_argument("ossrt_model_get_info: model is NULL or released");
  // Every caller reads num_hidden_layers at least.
  if (ossrt_status st = capi::check_output(info, "ossrt_model_get_info", "info", 2); st != OSSRT_STATUS_OK) return st;
  const ModelInfo& m = model->model->info();
  const ModelConfig& c = m.config;
  ossrt_model_info out{};
  out.num_hidden_layers = static_cast<int32_t>(c.num_hidden_layers);
  out.num_experts = static_cast<int32_t>(c.num_experts);
  out.experts_per_token = static_cast<int32_t>(c.experts_per_token);
  out.vocab_size = static_cast<int32_t>(c.vocab_size);
  out.hidden_size = static_cast<int32_t>(c.hidden_size);
  out.intermediate_size = static_cast<int32_t>(c.intermediate_size);
  out.head_dim = static_cast<int32_t>(c.head_dim);
  out.num_attention_heads = static_cast<int32_t>(c.num_attention_heads);
  out.num_key_value_heads = static_cast<int32_t>(c.num_key_value_heads);
  out.sliding_window = static_cast<int32_t>(c.sliding_window);
  out.max_context_length = m.max_context_length;
  out.parameter_count = m.parameter_count;
  out.weight_bytes = m.weight_bytes;
  out.cpu_expert_layers = m.cpu_expert_layers;
  out.host_expert_bytes = m.host_expert_bytes;
  capi::copy_versioned(out, info);
  return capi::report(Status::success());
}

}  // extern "C"
