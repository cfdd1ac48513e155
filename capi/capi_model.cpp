// ossrt_model_*: translation to ossrt::Model.
#include "capi_common.h"

using namespace ossrt;

namespace ossrt::capi {

ossrt_status model_options_from(const ossrt_model_options* options, const char* where, ModelOptions& cpp) {
  ossrt_model_options defaults;
  ossrt_model_options_init(&defaults);
  const ossrt_model_options o = read_versioned(options, defaults);
  if (o.backend != nullptr) cpp.backend = o.backend;
  if (o.runtime != nullptr) {
    if (!live(o.runtime)) return invalid_argument((std::string(where) + ": options->runtime is released").c_str());
    cpp.runtime = o.runtime->runtime;
  }
  cpp.preload = o.preload != 0;
  cpp.weights_in_memory = o.weights_in_memory != 0;
  cpp.validate_weights = o.validate_weights != 0;
  cpp.cpu_expert_layers = o.cpu_expert_layers > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(o.cpu_expert_layers);
  cpp.memory_budget_bytes = o.memory_budget_bytes;
  if (o.progress != nullptr) {
    cpp.progress = [callback = o.progress, user_data = o.progress_user_data](uint64_t done, uint64_t total) {
      return callback(done, total, user_data) == 0;
    };
  }
  return OSSRT_STATUS_OK;
}

}  // namespace ossrt::capi

extern "C" {

void ossrt_model_options_init(ossrt_model_options* options) {
  if (options == nullptr) return;
  *options = ossrt_model_options{};
  options->struct_size = sizeof(ossrt_model_options);
}

ossrt_status ossrt_model_estimate(const char* directory, const ossrt_model_options* model_options,
                                  const ossrt_session_options* session_options, ossrt_memory_estimate* estimate) {
  if (ossrt_status st = capi::check_output(estimate, "ossrt_model_estimate", "estimate", 2); st != OSSRT_STATUS_OK)
    return st;
  if (directory == nullptr) return capi::invalid_argument("ossrt_model_estimate: directory is NULL");
  if (ossrt_status st = capi::check_options(model_options, "ossrt_model_estimate"); st != OSSRT_STATUS_OK) return st;
  if (ossrt_status st = capi::check_options(session_options, "ossrt_model_estimate"); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_model_estimate", [&] {
    ModelOptions model_cpp;
    SessionOptions session_cpp;
    if (ossrt_status st = capi::model_options_from(model_options, "ossrt_model_estimate", model_cpp);
        st != OSSRT_STATUS_OK)
      return st;
    if (ossrt_status st = capi::session_options_from(session_options, "ossrt_model_estimate", session_cpp);
        st != OSSRT_STATUS_OK)
      return st;
    auto result = estimate_memory(directory, model_cpp, session_cpp);
    if (!result.ok()) return capi::report(result.status());
    const MemoryEstimate& e = result.value();
    ossrt_memory_estimate out{};
    out.struct_size = sizeof out;
    out.weight_bytes = e.weight_bytes;
    out.backend_weight_bytes = e.backend_weight_bytes;
    out.host_weight_bytes = e.host_weight_bytes;
    out.kv_bytes_per_token = e.kv_bytes_per_token;
    out.kv_ring_bytes = e.kv_ring_bytes;
    out.kv_bytes = e.kv_bytes;
    out.scratch_bytes = e.scratch_bytes;
    out.session_bytes = e.session_bytes;
    out.backend_bytes = e.backend_bytes;
    out.total_bytes = e.total_bytes;
    capi::copy_versioned(out, estimate);
    return capi::report(Status::success());
  });
}

void ossrt_memory_estimate_init(ossrt_memory_estimate* estimate) {
  capi::init_output(estimate);
}

ossrt_status ossrt_model_load(const char* directory, const ossrt_model_options* options, ossrt_model** model_out) {
  if (model_out == nullptr) return capi::invalid_argument("ossrt_model_load: model_out is NULL");
  *model_out = nullptr;
  if (directory == nullptr) return capi::invalid_argument("ossrt_model_load: directory is NULL");
  if (ossrt_status st = capi::check_options(options, "ossrt_model_load"); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_model_load", [&] {
    ModelOptions cpp;
    if (ossrt_status st = capi::model_options_from(options, "ossrt_model_load", cpp); st != OSSRT_STATUS_OK) return st;
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
  // Static strings (the header's promise): they outlive the model.
  out.layout = capi::static_name(m.layout, {"original", "Hugging Face", "GGUF"});
  out.dense_format = capi::static_name(m.dense_format, {"bf16", "Q8_0", "Q8_0 + bf16"});
  out.converted_bytes = m.converted_bytes;
  out.tiled_expert_matrices = m.tiled_expert_matrices;
  capi::copy_versioned(out, info);
  return capi::report(Status::success());
}

}  // extern "C"
