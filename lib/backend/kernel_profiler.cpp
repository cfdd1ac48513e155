#include "backend/kernel_profiler.h"

#include <algorithm>
#include <bitset>
#include <cstdio>
#include <type_traits>
#include <utility>
#include <vector>

namespace ossrt {

namespace {

using Clock = std::chrono::steady_clock;
using Cost = KernelProfiler::Cost;

double real(size_t v) {
  return static_cast<double>(v);
}

// What each kernel reads from memory that is not the activations (weights,
// the KV cache), and its floating-point operations.
Cost cost_of(const bf16_t*, size_t dim, const int32_t*, size_t n, float*) {
  return {{"embedding %llu", {dim}}, real(n * dim * sizeof(bf16_t)), 0};
}

Cost cost_of(const float*, const bf16_t*, size_t n, size_t dim, float, float*) {
  return {{"rmsnorm %llu", {dim}}, real(dim * sizeof(bf16_t)), real(4 * n * dim)};
}

Cost cost_of(const MatmulArgs& a) {
  const double weights = real(a.out * a.in * sizeof(bf16_t)) + (a.bias != nullptr ? real(a.out * sizeof(bf16_t)) : 0);
  return {{"matmul %llux%llu", {a.out, a.in}}, weights, 2 * real(a.n * a.in * a.out)};
}

double q8_0_bytes(size_t rows, size_t cols) {
  return real(rows * (cols / kQ8_0BlockValues) * kQ8_0BlockBytes);
}

Cost cost_of(const uint8_t*, size_t dim, const int32_t*, size_t n, float*) {
  return {{"embedding q8_0 %llu", {dim}}, q8_0_bytes(n, dim), 0};
}

Cost cost_of(const MatmulArgs& a, const uint8_t*) {
  const double weights = q8_0_bytes(a.out, a.in) + (a.bias != nullptr ? real(a.out * sizeof(bf16_t)) : 0);
  return {{"matmul q8_0 %llux%llu", {a.out, a.in}}, weights, 2 * real(a.n * a.in * a.out)};
}

Cost cost_of(float*, size_t n, size_t, size_t heads, size_t head_dim, const float*, const float*) {
  return {{"rope %llux%llu", {heads, head_dim}}, 0, real(3 * n * heads * head_dim)};
}

Cost cost_of(const KvStoreArgs& a) {
  return {{"kv store %llu", {a.width}}, real(2 * a.n * a.width * kv_element_bytes(a.kv_type)), 0};
}

// Keys are read once per call (each kv head's rows serve its query heads);
// every query multiplies q.k and p.v over the keys it sees.
Cost cost_of(const AttentionArgs& a) {
  double seen = 0;
  for (size_t t = 0; t < a.n; ++t) {
    const size_t position = a.first_position + t;
    seen += real(position + 1 - first_visible_key(position, a.window));
  }
  const size_t last = a.first_position + a.n - 1;
  const size_t keys = std::min(last + 1 - first_visible_key(a.first_position, a.window), a.capacity);
  const double row = real(a.kv_heads * a.head_dim * kv_element_bytes(a.kv_type));
  return {{"attention window %llu", {a.window}}, 2 * real(keys) * row, 4 * seen * real(a.q_heads * a.head_dim)};
}

Cost cost_of(const float*, size_t n, size_t experts, size_t k, int32_t*, float*) {
  return {{"router top-%llu of %llu", {k, experts}}, 0, real(n * experts)};
}

// Each distinct expert's weights are read once per call.
Cost cost_of(const MoeArgs& a) {
  constexpr size_t kTracked = 1024;  // more experts than any gpt-oss model has
  std::bitset<kTracked> used;
  for (size_t i = 0; i < a.n * a.k; ++i) {
    const auto id = static_cast<size_t>(a.expert_ids[i]);
    if (id < kTracked) used.set(id);
  }
  const double mxfp4 = 17.0 / 32;  // code bytes and one scale byte per 32 weights
  const double per_expert =
      3 * real(a.hidden * a.intermediate) * mxfp4 + real((2 * a.intermediate + a.hidden) * sizeof(bf16_t));
  return {{"moe %llux%llu top-%llu", {a.hidden, a.intermediate, a.k}},
          real(used.count()) * per_expert,
          2 * real(a.n * a.k) * 3 * real(a.hidden * a.intermediate)};
}

// A device backend's expert ids live in device memory: count them from a copy.
Cost device_cost_of(const Backend& inner, const MoeArgs& a) {
  if (inner.host_memory) return cost_of(a);
  std::vector<int32_t> ids(a.n * a.k);
  inner.download(inner.self, ids.data(), a.expert_ids, ids.size() * sizeof(int32_t));
  MoeArgs host = a;
  host.expert_ids = ids.data();
  return cost_of(host);
}

template <class... Args>
Cost device_cost_of(const Backend&, Args... args) {
  return cost_of(args...);
}

// One table entry: `forward` passes a memory entry through to the inner
// backend; `timed` times a kernel and files it under its cost.
template <auto Member, class Fn>
struct Entry;

template <auto Member, class R, class... Args>
struct Entry<Member, R (*)(void*, Args...)> {
  static R forward(void* self, Args... args) {
    const Backend& inner = static_cast<KernelProfiler*>(self)->inner();
    return (inner.*Member)(inner.self, args...);
  }
  static void timed(void* self, Args... args) {
    auto* profiler = static_cast<KernelProfiler*>(self);
    const Backend& inner = profiler->inner();
    // A device backend queues its kernels: time from an idle device to its
    // kernel's end (the launch included, as in a step).
    const char* ignored = nullptr;
    if (inner.synchronize != nullptr) inner.synchronize(inner.self, &ignored);
    const auto start = Clock::now();
    (inner.*Member)(inner.self, args...);
    if (inner.synchronize != nullptr) inner.synchronize(inner.self, &ignored);
    const auto elapsed = Clock::now() - start;
    profiler->record(device_cost_of(inner, args...), elapsed);
  }
};

template <auto Member>
using EntryOf = Entry<Member, std::remove_reference_t<decltype(std::declval<Backend>().*Member)>>;

}  // namespace

bool KernelProfiler::Key::operator==(const Key& other) const {
  return entry == other.entry && std::equal(std::begin(shape), std::end(shape), std::begin(other.shape));
}

KernelProfiler::KernelProfiler(const Backend& inner) noexcept : inner_(inner), table_(inner) {
  table_.self = this;
  table_.destroy = nullptr;  // the inner table belongs to whoever made it
  table_.alloc = &EntryOf<&Backend::alloc>::forward;
  table_.release = &EntryOf<&Backend::release>::forward;
  table_.upload = &EntryOf<&Backend::upload>::forward;
  table_.download = &EntryOf<&Backend::download>::forward;
  table_.copy = &EntryOf<&Backend::copy>::forward;
  if (inner.prepare_weights != nullptr) table_.prepare_weights = &EntryOf<&Backend::prepare_weights>::forward;
  table_.embedding_bf16_f32 = &EntryOf<&Backend::embedding_bf16_f32>::timed;
  table_.rmsnorm_f32_bf16w = &EntryOf<&Backend::rmsnorm_f32_bf16w>::timed;
  table_.matmul_f32_bf16w = &EntryOf<&Backend::matmul_f32_bf16w>::timed;
  table_.rope_f32 = &EntryOf<&Backend::rope_f32>::timed;
  table_.kv_store_f32 = &EntryOf<&Backend::kv_store_f32>::timed;
  table_.attention_f32 = &EntryOf<&Backend::attention_f32>::timed;
  table_.router_topk_f32 = &EntryOf<&Backend::router_topk_f32>::timed;
  table_.moe_mxfp4_f32 = &EntryOf<&Backend::moe_mxfp4_f32>::timed;
  if (inner.embedding_q8_0_f32 != nullptr) table_.embedding_q8_0_f32 = &EntryOf<&Backend::embedding_q8_0_f32>::timed;
  if (inner.matmul_f32_q8_0w != nullptr) table_.matmul_f32_q8_0w = &EntryOf<&Backend::matmul_f32_q8_0w>::timed;
  if (inner.synchronize != nullptr) table_.synchronize = &EntryOf<&Backend::synchronize>::forward;
  if (inner.tile_experts != nullptr) table_.tile_experts = &EntryOf<&Backend::tile_experts>::forward;
  // Timing each kernel needs each to run when called, not in a replayed step.
  table_.begin_step = nullptr;
  table_.end_step = nullptr;
}

void KernelProfiler::record(const Cost& cost, Clock::duration elapsed) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  Row* row = std::find_if(rows_, rows_ + used_, [&](const Row& r) { return r.key == cost.key; });
  if (row == rows_ + used_) {
    if (used_ + 1 < kMaxRows) {
      ++used_;
      row->key = cost.key;
    } else {  // the last row collects every shape beyond the table
      row = &rows_[kMaxRows - 1];
      if (used_ < kMaxRows) {
        used_ = kMaxRows;
        *row = Row{};
        row->key = Key{"other kernels", {}};
      }
    }
  }
  row->calls += 1;
  row->seconds += std::chrono::duration<double>(elapsed).count();
  row->bytes += cost.bytes;
  row->flops += cost.flops;
}

std::vector<KernelTiming> KernelProfiler::totals() const {
  std::vector<Row> rows;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    rows.assign(rows_, rows_ + used_);
  }
  std::vector<KernelTiming> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    char name[96];
    std::snprintf(name, sizeof name, r.key.entry, static_cast<unsigned long long>(r.key.shape[0]),
                  static_cast<unsigned long long>(r.key.shape[1]), static_cast<unsigned long long>(r.key.shape[2]),
                  static_cast<unsigned long long>(r.key.shape[3]));
    out.push_back({name, r.calls, r.seconds, r.bytes, r.flops});
  }
  std::sort(out.begin(), out.end(), [](const KernelTiming& a, const KernelTiming& b) { return a.seconds > b.seconds; });
  return out;
}

void KernelProfiler::reset() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  used_ = 0;
  for (Row& r : rows_) r = Row{};
}

}  // namespace ossrt
