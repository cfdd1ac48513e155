// The reference backend's table.
#include "backend/cpu_ref/kernels.h"

namespace ossrt {

namespace {
void host_copy(void* self, void* dst, const void* src, size_t bytes) {
  cpu_ref::copy_bytes(self, dst, src, bytes);
}
}  // namespace

const Backend& cpu_reference_backend() noexcept {
  static const Backend table = {
      .struct_size = sizeof(Backend),
      .api_version = kBackendApiVersion,
      .name = "cpu-reference",
      .self = nullptr,
      .host_memory = true,
      .alloc = cpu_ref::alloc,
      .release = cpu_ref::release,
      .upload = host_copy,
      .download = host_copy,
      .copy = host_copy,
      .prepare_weights = nullptr,
      .embedding_bf16_f32 = cpu_ref::embedding_bf16_f32,
      .rmsnorm_f32_bf16w = cpu_ref::rmsnorm_f32_bf16w,
      .matmul_f32_bf16w = cpu_ref::matmul_f32_bf16w,
      .rope_f32 = cpu_ref::rope_f32,
      .kv_store_f32 = cpu_ref::kv_store_f32,
      .attention_f32 = cpu_ref::attention_f32,
      .router_topk_f32 = cpu_ref::router_topk_f32,
      .moe_mxfp4_f32 = cpu_ref::moe_mxfp4_f32,
      .destroy = nullptr,
      .synchronize = nullptr,
      .begin_step = nullptr,
      .end_step = nullptr,
      .embedding_q8_0_f32 = cpu_ref::embedding_q8_0_f32,
      .matmul_f32_q8_0w = cpu_ref::matmul_f32_q8_0w,
      .tile_experts = nullptr,  // plain rows only
  };
  return table;
}

}  // namespace ossrt
