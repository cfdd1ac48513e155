// Scalar reference kernels: the plain, obviously-correct form of every
// backend entry. Other backends are tested against these.
#pragma once

#include "backend/backend.h"

namespace ossrt::cpu_ref {

void* alloc(void* self, size_t bytes);
void release(void* self, void* ptr, size_t bytes);
void copy_bytes(void* self, void* dst, const void* src, size_t bytes);

void embedding_bf16_f32(void* self, const bf16_t* table, size_t dim, const int32_t* ids, size_t n, float* out);
void rmsnorm_f32_bf16w(void* self, const float* x, const bf16_t* scale, size_t n, size_t dim, float eps, float* y);
void matmul_f32_bf16w(void* self, const MatmulArgs& args);
void rope_f32(void* self, float* x, size_t n, size_t row_stride, size_t heads, size_t head_dim, const float* cos,
              const float* sin);
void kv_store_f32(void* self, const KvStoreArgs& args);
void attention_f32(void* self, const AttentionArgs& args);
void router_topk_f32(void* self, const float* logits, size_t n, size_t experts, size_t k, int32_t* ids, float* weights);
void moe_mxfp4_f32(void* self, const MoeArgs& args);
void embedding_q8_0_f32(void* self, const uint8_t* table, size_t dim, const int32_t* ids, size_t n, float* out);
void matmul_f32_q8_0w(void* self, const MatmulArgs& args, const uint8_t* w);

}  // namespace ossrt::cpu_ref
