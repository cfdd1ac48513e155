// What identifies a kernel call for a recorded step's replay: every argument
// except the step's position (which a replay reads from device memory), so
// that two brackets with equal signatures ran the same kernels on the same
// buffers. Plain C++: the unit tests check which fields count.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "backend/backend.h"

namespace ossrt::cuda {

// FNV-1a over the values' bytes; each value is a scalar or a pointer, never
// a struct (whose padding bytes are indeterminate).
class CallSignature {
 public:
  explicit CallSignature(uint64_t entry) { add(entry); }

  template <class T>
  CallSignature& add(const T& value) {
    static_assert(std::is_scalar_v<T>, "hash fields, not structs with padding");
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    for (unsigned char b : bytes) hash_ = (hash_ ^ b) * 0x100000001b3ull;
    return *this;
  }
  template <class T, class... Rest>
  CallSignature& add(const T& value, const Rest&... rest) {
    add(value);
    return add(rest...);
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

// Entries are numbered so that equal arguments of different entries differ.
enum class Entry : uint64_t {
  embedding = 1,
  rmsnorm,
  matmul,
  rope,
  kv_store,
  attention,
  router,
  moe,
  embedding_q8_0,
  matmul_q8_0
};

// A matmul's arguments with its weights `w` (args.w, or the Q8_0 blocks).
inline uint64_t matmul_signature(Entry entry, const MatmulArgs& a, const void* w) {
  return CallSignature(uint64_t(entry))
      .add(a.x, a.x_stride, w, a.bias, a.y, a.y_stride, a.n, a.in, a.out, a.accumulate, a.bf16_products)
      .value();
}

inline uint64_t signature_of(const MatmulArgs& a) {
  return matmul_signature(Entry::matmul, a, a.w);
}

// first_position is left out: a replay takes it from the bracket.
inline uint64_t signature_of(const KvStoreArgs& a) {
  return CallSignature(uint64_t(Entry::kv_store))
      .add(a.k, a.v, a.src_stride, a.n, a.width, a.k_cache, a.v_cache, a.capacity, a.ring, a.kv_type, a.rows)
      .value();
}

inline uint64_t signature_of(const AttentionArgs& a) {
  return CallSignature(uint64_t(Entry::attention))
      .add(a.q, a.q_stride, a.k_cache, a.v_cache, a.capacity, a.ring, a.kv_type, a.n, a.window, a.q_heads)
      .add(a.kv_heads, a.head_dim, a.sinks, a.scale, a.out, a.out_stride, a.rows)
      .value();
}

inline uint64_t signature_of(const MoeArgs& a) {
  return CallSignature(uint64_t(Entry::moe))
      .add(a.x, a.n, a.hidden, a.intermediate, a.k, a.expert_ids, a.expert_weights, a.w1_blocks, a.w1_scales)
      .add(a.b1, a.w2_blocks, a.w2_scales, a.b2, a.swiglu_limit, a.scratch, a.y, a.bf16_products, a.q15_inputs)
      .value();
}

}  // namespace ossrt::cuda
