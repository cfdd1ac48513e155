#include "model/transformer.h"

#include <array>
#include <cmath>
#include <span>
#include <vector>

#include "util/errors.h"
#include "util/mapped_file.h"

namespace ossrt {

namespace {

constexpr float kRmsNormEps = 1e-5f;

struct Dims {
  size_t H, D, NQ, NKV, E, K, I, V, qkv;
  explicit Dims(const ModelConfig& c)
      : H(static_cast<size_t>(c.hidden_size)),
        D(static_cast<size_t>(c.head_dim)),
        NQ(static_cast<size_t>(c.num_attention_heads)),
        NKV(static_cast<size_t>(c.num_key_value_heads)),
        E(static_cast<size_t>(c.num_experts)),
        K(static_cast<size_t>(c.experts_per_token)),
        I(static_cast<size_t>(c.intermediate_size)),
        V(static_cast<size_t>(c.vocab_size)),
        qkv(D * (NQ + 2 * NKV)) {}
};

// args.y (+)= args.x W^T + args.bias, W in its format (args.w is set here).
void linear(const Backend& be, const DenseMatrix& weight, MatmulArgs args) {
  if (weight.q8_0 != nullptr) {
    args.w = nullptr;
    be.matmul_f32_q8_0w(be.self, args, weight.q8_0);
  } else {
    args.w = weight.bf16;
    be.matmul_f32_bf16w(be.self, args);
  }
}

// qkv[n, q | k | v] = t W^T + b. One matmul where the blocks lie back to back
// (original layout); otherwise (Hugging Face) one per block into its columns
// of qkv rather than a 0.7 GB copy into one tensor (gpt-oss-20b): each element
// is computed as the fused call does, t (n x H) is read three times and two
// more parallel regions start. One thread, gpt-oss shapes, Zen 4: decode 1.03
// ms either way, 128 tokens 28.1 vs 28.3 ms.
void project_qkv(const Backend& be, const Dims& d, const LayerWeights& w, const float* t, size_t n, bool fast,
                 float* qkv) {
  if (w.qkv_fused) {
    linear(be, w.q.weight, MatmulArgs{t, d.H, nullptr, w.q.bias, qkv, d.qkv, n, d.H, d.qkv, false, fast});
    return;
  }
  const size_t kv = d.NKV * d.D;
  const struct {
    const RowBlock& block;
    size_t first_column, rows;
  } blocks[] = {{w.q, 0, d.NQ * d.D}, {w.k, d.NQ * d.D, kv}, {w.v, d.NQ * d.D + kv, kv}};
  for (const auto& b : blocks) {
    linear(be, b.block.weight,
           MatmulArgs{t, d.H, nullptr, b.block.bias, qkv + b.first_column, d.qkv, n, d.H, b.rows, false, fast});
  }
}

// Where a step's keys and values live: one session's cache at consecutive
// positions from first_position, or, batched, row t in caches[t] at
// positions[t] (KvRow arrays in backend memory, one per layer).
struct StepCaches {
  KvCache* cache = nullptr;
  size_t first_position = 0;
  std::span<KvCache* const> caches;
  std::span<const size_t> positions;
  std::span<const size_t> logits_rows;  // batched: the rows whose logits are wanted
  KvRow* rows = nullptr;                // [layers][n], batched only
  bool batched() const { return cache == nullptr; }
  KvType kv_type() const { return batched() ? caches[0]->layout().type : cache->layout().type; }
};

// x += out(attention(rope(qkv(norm(x)))))
void attention_block(const Model::Impl& m, const Dims& d, size_t layer_index, const StepCaches& at, Numerics numerics,
                     Workspace& ws, size_t n) {
  const KvType kv_type = at.kv_type();
  const bool fast = numerics == Numerics::fast;
  const Backend& be = m.backend;
  const LayerWeights& w = m.weights.layers[layer_index];
  float* x = ws.residual.as();
  float* t = ws.normed.as();
  float* qkv = ws.qkv.as();
  be.rmsnorm_f32_bf16w(be.self, x, w.attn_norm, n, d.H, kRmsNormEps, t);
  project_qkv(be, d, w, t, n, fast, qkv);
  float* q = qkv;
  float* k = qkv + d.NQ * d.D;
  float* v = k + d.NKV * d.D;
  be.rope_f32(be.self, q, n, d.qkv, d.NQ, d.D, ws.rope_cos.as(), ws.rope_sin.as());
  be.rope_f32(be.self, k, n, d.qkv, d.NKV, d.D, ws.rope_cos.as(), ws.rope_sin.as());
  const size_t kv_width = d.NKV * d.D;
  // Even layers are banded: a query sees sliding_window keys, itself included.
  const size_t window = layer_index % 2 == 0 ? static_cast<size_t>(m.config().sliding_window) : 0;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d.D));
  if (at.batched()) {
    // Each row's own cache and position, for this layer.
    std::vector<KvRow> host_rows(n);
    for (size_t row = 0; row < n; ++row) {
      KvCache::Layer& layer = at.caches[row]->layer(layer_index);
      host_rows[row] = KvRow{at.positions[row], layer.k.as(), layer.v.as(), layer.capacity, layer.ring};
    }
    KvRow* rows = at.rows + layer_index * n;
    be.upload(be.self, rows, host_rows.data(), n * sizeof(KvRow));
    be.kv_store_f32(be.self, KvStoreArgs{k, v, d.qkv, n, 0, kv_width, nullptr, nullptr, 0, false, kv_type, rows});
    be.attention_f32(be.self, AttentionArgs{q, d.qkv, nullptr, nullptr, 0, false, kv_type, n, 0, window, d.NQ, d.NKV,
                                            d.D, w.sinks, scale, ws.attention.as(), d.NQ * d.D, rows, fast});
  } else {
    KvCache::Layer& cache = at.cache->layer(layer_index);
    be.kv_store_f32(be.self, KvStoreArgs{k, v, d.qkv, n, at.first_position, kv_width, cache.k.as(), cache.v.as(),
                                         cache.capacity, cache.ring, kv_type, nullptr});
    be.attention_f32(be.self, AttentionArgs{q, d.qkv, cache.k.as(), cache.v.as(), cache.capacity, cache.ring, kv_type,
                                            n, at.first_position, window, d.NQ, d.NKV, d.D, w.sinks, scale,
                                            ws.attention.as(), d.NQ * d.D, nullptr, fast});
  }
  linear(be, w.out_weight,
         MatmulArgs{ws.attention.as(), d.NQ * d.D, nullptr, w.out_bias, x, d.H, n, d.NQ * d.D, d.H, true, fast});
}

// x += sum over the top-k experts of weight * expert(norm(x))
void moe_block(const Model::Impl& m, const Dims& d, size_t layer_index, Workspace& ws, size_t n, Numerics numerics) {
  const Backend& be = m.backend;
  const LayerWeights& w = m.weights.layers[layer_index];
  float* x = ws.residual.as();
  float* t = ws.normed.as();
  be.rmsnorm_f32_bf16w(be.self, x, w.mlp_norm, n, d.H, kRmsNormEps, t);
  // The router stays exact under fast numerics: a rounded logit could flip an expert choice.
  linear(be, w.gate_weight,
         MatmulArgs{t, d.H, nullptr, w.gate_bias, ws.router_logits.as(), d.E, n, d.H, d.E, false, false});
  be.router_topk_f32(be.self, ws.router_logits.as(), n, d.E, d.K, ws.expert_ids.as<int32_t>(), ws.expert_weights.as());
  const bool fast = numerics == Numerics::fast;
  MoeArgs args{t,
               n,
               d.H,
               d.I,
               d.K,
               ws.expert_ids.as<int32_t>(),
               ws.expert_weights.as(),
               w.mlp1.blocks,
               w.mlp1.scales,
               w.mlp1_bias,
               w.mlp2.blocks,
               w.mlp2.scales,
               w.mlp2_bias,
               static_cast<float>(m.config().swiglu_limit),
               ws.moe_scratch.as(),
               x,
               fast,
               fast,
               w.mlp1_tiled,
               w.mlp2_tiled};
  if (layer_index >= m.cpu_expert_layers) {
    be.moe_mxfp4_f32(be.self, args);
    return;
  }
  // This layer's experts stay in host memory: the CPU runs them on copies of
  // the normed input, the choice and the residual, which then goes back.
  const Backend& cpu = m.expert_backend;
  be.download(be.self, ws.host_normed.data(), t, n * d.H * sizeof(float));
  be.download(be.self, ws.host_expert_ids.data(), ws.expert_ids.as(), n * d.K * sizeof(int32_t));
  be.download(be.self, ws.host_expert_weights.data(), ws.expert_weights.as(), n * d.K * sizeof(float));
  be.download(be.self, ws.host_residual.data(), x, n * d.H * sizeof(float));
  args.x = ws.host_normed.data();
  args.expert_ids = ws.host_expert_ids.data();
  args.expert_weights = ws.host_expert_weights.data();
  args.scratch = ws.host_moe_scratch.data();
  args.y = ws.host_residual.data();
  cpu.moe_mxfp4_f32(cpu.self, args);
  be.upload(be.self, x, ws.host_residual.data(), n * d.H * sizeof(float));
}

// Waits for a device backend's queued work, so that a failure surfaces as
// this step's status rather than as garbage logits or a later crash.
Status finish_step(const Backend& be, StatusCode outcome) {
  const char* device_error = "";
  if (be.synchronize != nullptr && !be.synchronize(be.self, &device_error))
    return error(StatusCode::device_error, "backend %s failed: %s", be.name, device_error);
  if (outcome == StatusCode::cancelled) return error(StatusCode::cancelled, "forward pass cancelled");
  return Status::success();
}

// A recorded step's key: the session's buffers and the step's shape.
uint64_t step_key(const Workspace& ws, const KvCache& cache, size_t logits_from, Numerics numerics) {
  uint64_t key = reinterpret_cast<uintptr_t>(&ws);
  for (uint64_t part : {uint64_t(reinterpret_cast<uintptr_t>(&cache)), uint64_t(logits_from), uint64_t(numerics)})
    key = key * 0x9e3779b97f4a7c15ull + part;
  return key;
}

// The backend buffers of a workspace for T tokens, in Workspace's member
// order (token_ids .. rope_sin; the logits are sized apart).
std::array<size_t, 11> buffer_bytes(const Dims& d, size_t T) {
  return {T * sizeof(int32_t),           T * d.H * sizeof(float),        T * d.H * sizeof(float),
          T * d.qkv * sizeof(float),     T * d.NQ * d.D * sizeof(float), T * d.E * sizeof(float),
          T * d.K * sizeof(int32_t),     T * d.K * sizeof(float),        T * d.K * 3 * d.I * sizeof(float),
          T * (d.D / 2) * sizeof(float), T * (d.D / 2) * sizeof(float)};
}

}  // namespace

uint64_t Workspace::bytes_for(const ModelConfig& config, size_t max_tokens, size_t logits_rows,
                              bool cpu_experts) noexcept {
  const Dims d(config);
  const uint64_t T = max_tokens;
  uint64_t total = logits_rows * d.V * sizeof(float) + 2 * T * (d.D / 2) * sizeof(float);  // + RoPE staging
  for (size_t bytes : buffer_bytes(d, max_tokens)) total += bytes;
  if (cpu_experts) total += (2 * T * d.H + T * d.K + T * d.K * 3 * d.I) * sizeof(float) + T * d.K * sizeof(int32_t);
  return total;
}

Result<Workspace> Workspace::create(const Model::Impl& m, size_t max_tokens) {
  const Dims d(m.config());
  const Backend& be = m.backend;
  Workspace ws;
  ws.max_tokens = max_tokens;
  const size_t T = max_tokens;
  DeviceBuffer* buffers[] = {&ws.token_ids,   &ws.residual,      &ws.normed,     &ws.qkv,
                             &ws.attention,   &ws.router_logits, &ws.expert_ids, &ws.expert_weights,
                             &ws.moe_scratch, &ws.rope_cos,      &ws.rope_sin};
  const auto sizes = buffer_bytes(d, T);
  static_assert(std::size(buffers) == std::tuple_size_v<decltype(sizes)>);
  for (size_t i = 0; i < sizes.size(); ++i) {
    *buffers[i] = DeviceBuffer(be, sizes[i]);
    if (!buffers[i]->ok())
      return error(StatusCode::out_of_memory, "session workspace: cannot allocate %zu bytes", sizes[i]);
  }
  ws.host_cos.resize(T * (d.D / 2));
  ws.host_sin.resize(T * (d.D / 2));
  if (m.cpu_expert_layers > 0) {
    ws.host_normed.resize(T * d.H);
    ws.host_residual.resize(T * d.H);
    ws.host_expert_ids.resize(T * d.K);
    ws.host_expert_weights.resize(T * d.K);
    ws.host_moe_scratch.resize(T * d.K * 3 * d.I);
  }
  if (Status s = ws.reserve_logits(m, 1); !s.ok()) return s;
  return ws;
}

size_t Workspace::bytes() const noexcept {
  size_t total = (host_cos.size() + host_sin.size() + host_normed.size() + host_residual.size() +
                  host_expert_weights.size() + host_moe_scratch.size()) *
                     sizeof(float) +
                 host_expert_ids.size() * sizeof(int32_t);
  for (const DeviceBuffer* buffer : {&token_ids, &residual, &normed, &qkv, &attention, &router_logits, &expert_ids,
                                     &expert_weights, &moe_scratch, &rope_cos, &rope_sin, &logits, &kv_rows})
    total += buffer->bytes();
  return total;
}

Status Workspace::reserve_logits(const Model::Impl& m, size_t rows) {
  if (rows <= logits_rows) return Status::success();
  const size_t bytes = rows * static_cast<size_t>(m.config().vocab_size) * sizeof(float);
  DeviceBuffer buffer(m.backend, bytes);
  if (!buffer.ok())
    return error(StatusCode::out_of_memory, "session workspace: cannot allocate %zu bytes of logits", bytes);
  logits = std::move(buffer);
  logits_rows = rows;
  return Status::success();
}

Status Workspace::reserve_rows(const Model::Impl& m, size_t rows) {
  if (rows <= kv_row_count) return Status::success();
  const size_t bytes = rows * m.weights.layers.size() * sizeof(KvRow);
  DeviceBuffer buffer(m.backend, bytes);
  if (!buffer.ok()) return error(StatusCode::out_of_memory, "batch workspace: cannot allocate %zu bytes", bytes);
  kv_rows = std::move(buffer);
  kv_row_count = rows;
  return Status::success();
}

namespace {

Status forward_pass(const Model::Impl& m, const StepCaches& at, Workspace& ws, const int32_t* tokens, size_t n,
                    size_t logits_from, Numerics numerics, float* host_logits, const std::atomic<bool>& cancel) {
  const Dims d(m.config());
  const Backend& be = m.backend;
  // RoPE tables for this chunk's positions, shared by every layer.
  const size_t table_bytes = n * (d.D / 2) * sizeof(float);
  if (at.batched()) {
    for (size_t t = 0; t < n; ++t) {
      m.rope->tables(at.positions[t], 1, ws.host_cos.data() + t * (d.D / 2), ws.host_sin.data() + t * (d.D / 2));
    }
  } else {
    m.rope->tables(at.first_position, n, ws.host_cos.data(), ws.host_sin.data());
  }
  be.upload(be.self, ws.rope_cos.as(), ws.host_cos.data(), table_bytes);
  be.upload(be.self, ws.rope_sin.as(), ws.host_sin.data(), table_bytes);
  be.upload(be.self, ws.token_ids.as(), tokens, n * sizeof(int32_t));

  // The embedding is left to demand paging (model.cpp): a chunk's rows are
  // asked for together, so a cold file costs one round of reads, not n
  // (512 rows: 0.93 ms per token before, on the EPYC VM's disk).
  if (be.host_memory && n > 1)
    advise_rows_needed(m.weights.embedding.q8_0 != nullptr ? static_cast<const void*>(m.weights.embedding.q8_0)
                                                           : m.weights.embedding.bf16,
                       m.config().vocab_size, m.weights.embedding.row_bytes(d.H), tokens, n);
  // Decode steps of one session repeat the same calls at a new position: a
  // device backend records the first and replays it (one launch per token
  // instead of hundreds). The key names the buffers; the backend also checks
  // that the calls match before it replays.
  // (Not with experts on the CPU: those steps copy between host and device.)
  const bool bracket = be.begin_step != nullptr && n == 1 && m.cpu_expert_layers == 0 && !at.batched();
  if (bracket) be.begin_step(be.self, step_key(ws, *at.cache, logits_from, numerics), at.first_position);
  if (m.weights.embedding.q8_0 != nullptr) {
    be.embedding_q8_0_f32(be.self, m.weights.embedding.q8_0, d.H, ws.token_ids.as<int32_t>(), n, ws.residual.as());
  } else {
    be.embedding_bf16_f32(be.self, m.weights.embedding.bf16, d.H, ws.token_ids.as<int32_t>(), n, ws.residual.as());
  }
  for (size_t layer = 0; layer < m.weights.layers.size(); ++layer) {
    if (cancel.load(std::memory_order_relaxed)) {
      if (bracket) be.end_step(be.self, false);
      return finish_step(be, StatusCode::cancelled);
    }
    attention_block(m, d, layer, at, numerics, ws, n);
    moe_block(m, d, layer, ws, n, numerics);
  }
  size_t rows = n - logits_from;
  if (at.batched()) {
    // The wanted rows move to the front of the residual, in order: a row only
    // moves down, onto one already moved or not wanted, so none is overwritten
    // before it moves. A decode-only step wants every row and copies nothing.
    float* x = ws.residual.as();
    for (size_t j = 0; j < at.logits_rows.size(); ++j) {
      if (at.logits_rows[j] != j) be.copy(be.self, x + j * d.H, x + at.logits_rows[j] * d.H, d.H * sizeof(float));
    }
    rows = at.logits_rows.size();
    logits_from = 0;
  }
  if (rows > 0) {
    float* last = ws.residual.as() + logits_from * d.H;
    be.rmsnorm_f32_bf16w(be.self, last, m.weights.final_norm, rows, d.H, kRmsNormEps, ws.normed.as());
    // Logits exact in both modes: fast numerics round inside the layers only.
    linear(be, m.weights.unembedding,
           MatmulArgs{ws.normed.as(), d.H, nullptr, nullptr, ws.logits.as(), d.V, rows, d.H, d.V, false, false});
  }
  if (bracket) be.end_step(be.self, true);
  if (rows > 0) be.download(be.self, host_logits, ws.logits.as(), rows * d.V * sizeof(float));
  return finish_step(be, StatusCode::ok);
}

}  // namespace

Status forward_chunk(const Model::Impl& m, KvCache& cache, Workspace& ws, const int32_t* tokens, size_t n,
                     size_t first_position, size_t logits_from, Numerics numerics, float* host_logits,
                     const std::atomic<bool>& cancel) {
  StepCaches at;
  at.cache = &cache;
  at.first_position = first_position;
  return forward_pass(m, at, ws, tokens, n, logits_from, numerics, host_logits, cancel);
}

Status forward_rows(const Model::Impl& m, std::span<KvCache* const> caches, std::span<const size_t> positions,
                    std::span<const size_t> logits_rows, Workspace& ws, const int32_t* tokens, Numerics numerics,
                    float* host_logits, const std::atomic<bool>& cancel) {
  const size_t n = caches.size();
  if (Status s = ws.reserve_rows(m, n); !s.ok()) return s;
  if (Status s = ws.reserve_logits(m, logits_rows.size()); !s.ok()) return s;
  StepCaches at;
  at.caches = caches;
  at.positions = positions;
  at.logits_rows = logits_rows;
  at.rows = ws.kv_rows.as<KvRow>();
  return forward_pass(m, at, ws, tokens, n, 0, numerics, host_logits, cancel);
}

}  // namespace ossrt
