// Typed, shape-checked views of a checkpoint's tensors (docs/model.md §4),
// bound by canonical name whatever the layout (io/checkpoint.h).
// Nothing is copied: every pointer refers to mapped file bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/checkpoint.h"
#include "ossrt/status.hpp"

namespace ossrt {

using bf16_t = uint16_t;  // raw bfloat16 bits

// Expert weights in MXFP4: the input dimension is blocked in 32s.
struct Mxfp4Tensor {
  const uint8_t* blocks = nullptr;  // [experts, rows, in/32, 16] FP4 code pairs
  const uint8_t* scales = nullptr;  // [experts, rows, in/32]     E8M0 bytes
};

// A dense matrix [rows, cols]: bf16 as the checkpoints hold it, or ggml's
// Q8_0 blocks (backend.h) as GGUF files may; exactly one pointer is set.
struct DenseMatrix {
  const bf16_t* bf16 = nullptr;
  const uint8_t* q8_0 = nullptr;

  // Bytes of one row of `cols` weights in this matrix's format.
  size_t row_bytes(size_t cols) const noexcept {
    return q8_0 != nullptr ? cols / kGgmlBlockValues * kGgmlQ8_0BlockBytes : cols * sizeof(bf16_t);
  }
};

// Rows of a linear layer's weight with their biases.
struct RowBlock {
  DenseMatrix weight;            // [rows, H]
  const bf16_t* bias = nullptr;  // [rows]
};

struct LayerWeights {
  const bf16_t* attn_norm = nullptr;  // [H]
  // The attention input projection by output rows: q [D*NQ], k and v
  // [D*NKV] each. `qkv_fused`: the three lie back to back in weights and in
  // biases, as the original layout stores them (one tensor), and one matmul
  // computes them all; otherwise (Hugging Face: three tensors) one each.
  RowBlock q, k, v;
  bool qkv_fused = false;
  const bf16_t* sinks = nullptr;      // [NQ]
  DenseMatrix out_weight;             // [H, D*NQ]
  const bf16_t* out_bias = nullptr;   // [H]
  const bf16_t* mlp_norm = nullptr;   // [H]
  DenseMatrix gate_weight;            // [E, H]
  const bf16_t* gate_bias = nullptr;  // [E]
  Mxfp4Tensor mlp1;                   // [E, 2I, H/32, 16] rows alternate glu / linear
  const bf16_t* mlp1_bias = nullptr;  // [E, 2I]
  Mxfp4Tensor mlp2;                   // [E, H, I/32, 16]
  const bf16_t* mlp2_bias = nullptr;  // [E, H]
  // Whether mlp1 / mlp2 are as Backend::tile_experts left them.
  bool mlp1_tiled = false, mlp2_tiled = false;
};

struct ModelWeights {
  DenseMatrix embedding;               // [V, H]
  std::vector<LayerWeights> layers;    // [L]
  const bf16_t* final_norm = nullptr;  // [H]
  DenseMatrix unembedding;             // [V, H]
  uint64_t parameter_count = 0;
  uint64_t bytes = 0;
};

// How many dense matrices are held in each format ("bf16", "Q8_0", or
// "Q8_0 + bf16" for ModelInfo::dense_format).
struct DenseFormats {
  size_t bf16 = 0, q8_0 = 0;
  const char* name() const noexcept { return q8_0 == 0 ? "bf16" : bf16 == 0 ? "Q8_0" : "Q8_0 + bf16"; }
};
DenseFormats dense_formats(const ModelWeights& weights) noexcept;

// Bytes of one layer's experts (MXFP4 codes and scales of both matrices,
// their bf16 biases): what ModelOptions::cpu_expert_layers keeps on the host.
uint64_t expert_bytes_per_layer(const ModelConfig& config) noexcept;

// Binds every tensor the config calls for, checking presence, dtype and
// shape, and refuses tensors a checkpoint with this config cannot contain.
// Failure: tensor_mismatch, naming the tensor (as its layout names it), its
// file, and expected vs found.
Result<ModelWeights> bind_weights(const Checkpoint& checkpoint);

// Calls visit(pointer, elements, what, gathered) for every weight range of
// `w` in a fixed order; `pointer` (const bf16_t*& or const uint8_t*&, whose
// elements are bytes: MXFP4 and Q8_0 blocks) may be replaced (placement moves weights to a device). `gathered` marks
// the embedding, read by row. A fused attention input is one range for weights and one for biases (k and v then follow
// q to wherever it moved) unless `blocks_apart`, which visits q, k and v alone in every layout.
template <class Visit>
void for_each_weight(const ModelConfig& c, ModelWeights& w, bool blocks_apart, Visit&& visit) {
  const size_t H = static_cast<size_t>(c.hidden_size), V = static_cast<size_t>(c.vocab_size),
               E = static_cast<size_t>(c.num_experts), I = static_cast<size_t>(c.intermediate_size),
               D = static_cast<size_t>(c.head_dim), NQ = static_cast<size_t>(c.num_attention_heads), Q = D * NQ,
               KV = D * static_cast<size_t>(c.num_key_value_heads);
  auto dense = [&](DenseMatrix& m, size_t rows, size_t cols, const char* what, bool gathered) {
    if (m.q8_0 != nullptr) {
      visit(m.q8_0, rows * m.row_bytes(cols), what, gathered);
    } else {
      visit(m.bf16, rows * cols, what, gathered);
    }
  };
  dense(w.embedding, V, H, "embedding", true);
  for (LayerWeights& l : w.layers) {
    visit(l.attn_norm, H, "attn.norm", false);
    if (l.qkv_fused && !blocks_apart) {
      visit(l.q.weight.bf16, (Q + 2 * KV) * H, "attn.qkv.weight", false);
      visit(l.q.bias, Q + 2 * KV, "attn.qkv.bias", false);
      l.k = RowBlock{DenseMatrix{l.q.weight.bf16 + Q * H}, l.q.bias + Q};
      l.v = RowBlock{DenseMatrix{l.k.weight.bf16 + KV * H}, l.k.bias + KV};
    } else {
      dense(l.q.weight, Q, H, "attn.q.weight", false);
      visit(l.q.bias, Q, "attn.q.bias", false);
      dense(l.k.weight, KV, H, "attn.k.weight", false);
      visit(l.k.bias, KV, "attn.k.bias", false);
      dense(l.v.weight, KV, H, "attn.v.weight", false);
      visit(l.v.bias, KV, "attn.v.bias", false);
    }
    visit(l.sinks, NQ, "attn.sinks", false);
    dense(l.out_weight, H, Q, "attn.out.weight", false);
    visit(l.out_bias, H, "attn.out.bias", false);
    visit(l.mlp_norm, H, "mlp.norm", false);
    dense(l.gate_weight, E, H, "mlp.gate.weight", false);
    visit(l.gate_bias, E, "mlp.gate.bias", false);
    visit(l.mlp1.blocks, E * 2 * I * H / 2, "mlp1 blocks", false);
    visit(l.mlp1.scales, E * 2 * I * H / 32, "mlp1 scales", false);
    visit(l.mlp1_bias, E * 2 * I, "mlp1 bias", false);
    visit(l.mlp2.blocks, E * H * I / 2, "mlp2 blocks", false);
    visit(l.mlp2.scales, E * H * I / 32, "mlp2 scales", false);
    visit(l.mlp2_bias, E * H, "mlp2 bias", false);
  }
  visit(w.final_norm, H, "norm", false);
  dense(w.unembedding, V, H, "unembedding", false);
}

// Identifies a set of weights without reading them all: FNV-1a over the
// config and, per bound tensor, its size and first and last 64 bytes. The
// same weights give the same value in every layout. Reads host memory: call
// before the weights are placed on a device.
uint64_t weights_fingerprint(const ModelConfig& config, const ModelWeights& weights);

}  // namespace ossrt
