// The backend boundary: one versioned table of memory entries and typed
// kernels. The model calls nothing else, so a new backend (fast CPU, CUDA)
// plugs in by filling a table; no model types cross it, only plain pointers,
// counts and strides. Buffers the model passes to kernels come from the
// backend's own alloc (device memory for a device backend); weights come from
// prepare_weights.
//
// Version rules: entries are only appended; a backend sets api_version and
// struct_size to what it was built against. Kernel entries may be null in a
// backend whose memory is host memory: the reference kernel is used instead.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ossrt {

// 2: release takes the size given to alloc (a backend may map large buffers
// itself and needs the size to unmap them). 3: MoeArgs::q15_inputs.
// 4: device backends: kernels run asynchronously in call order, synchronize
// waits and reports a device failure, a resolved table may own an instance
// (self) that release_backend destroys, and a step bracket lets a device
// record a forward step once and replay it (CUDA graphs). 5: dense weights
// in ggml's Q8_0 (GGUF files): embedding_q8_0_f32, matmul_f32_q8_0w.
// 6: AttentionArgs::bf16_products. 7: experts in a backend's own layout:
// tile_experts, MoeArgs::w1_tiled and w2_tiled.
inline constexpr uint32_t kBackendApiVersion = 7;

using bf16_t = uint16_t;  // raw bfloat16 bits

// y[t, o] (+)= sum_i x[t, i] * w[o, i] + bias[o]
struct MatmulArgs {
  const float* x;  // [n, in], rows x_stride apart
  size_t x_stride;
  const bf16_t* w;     // [out, in]
  const bf16_t* bias;  // [out] or null
  float* y;            // [n, out], rows y_stride apart
  size_t y_stride;
  size_t n, in, out;
  bool accumulate;  // add to y instead of overwriting it
  // Numerics::fast: the backend may round x to bf16 (products and sums stay
  // fp32) where that runs on faster units.
  bool bf16_products;
};

// ggml's Q8_0, a dense weight format of GGUF files: each run of 32 weights
// along a row is one block, an fp16 scale d (2 bytes, little-endian, at any
// alignment) then 32 int8 codes q; weight j = d * q[j]. A row of `in` weights
// is in/32 blocks back to back.
inline constexpr size_t kQ8_0BlockValues = 32;
inline constexpr size_t kQ8_0BlockBytes = 34;

// A cache slot holds one position: a ring reuses its slots, a dense cache
// holds every position at its own index.
constexpr size_t kv_slot(size_t position, size_t capacity, bool ring) {
  return ring ? position % capacity : position;
}

// The first key a query at `position` sees: window = 0 is dense, otherwise
// the query sees keys j with position - window < j <= position.
constexpr size_t first_visible_key(size_t position, size_t window) {
  return window > 0 && position + 1 > window ? position + 1 - window : 0;
}

// Element type of a KV cache: fp32 (exact mode) or bf16 (half the memory and
// the attention reads, rounded to nearest even).
enum class KvType : uint8_t { f32, bf16 };

inline size_t kv_element_bytes(KvType type) {
  return type == KvType::bf16 ? sizeof(bf16_t) : sizeof(float);
}

// One row of a batched step (rows of several sessions in one forward pass):
// the row's own position and KV cache. An array of these lives in backend
// memory (a device reads it per step).
struct KvRow {
  size_t position;
  void* k_cache;  // [capacity, width] elements of the args' kv_type
  void* v_cache;
  size_t capacity;
  bool ring;
};

// Copies the new tokens' keys and values into the cache at kv_slot(position),
// converted to the cache's element type.
struct KvStoreArgs {
  const float* k;  // [n, width], rows src_stride apart
  const float* v;
  size_t src_stride;
  size_t n, first_position, width;
  void* k_cache;  // [capacity, width] elements of kv_type
  void* v_cache;
  size_t capacity;
  bool ring;
  KvType kv_type;
  // v4, batched steps: null, or one KvRow per row (row t at rows[t].position
  // in rows[t]'s cache; first_position and the cache fields above unused).
  const KvRow* rows;
};

// Causal GQA attention with per-head sinks for n queries at positions
// first_position..first_position+n-1 over keys already in the cache.
// Query head h reads kv head h / (q_heads / kv_heads). window = 0: dense;
// otherwise query p sees keys j with p - window < j <= p.
struct AttentionArgs {
  const float* q;  // [n, q_heads * head_dim], rows q_stride apart (RoPE applied)
  size_t q_stride;
  const void* k_cache;  // [capacity, kv_heads * head_dim] elements of kv_type
  const void* v_cache;
  size_t capacity;
  bool ring;
  KvType kv_type;
  size_t n, first_position, window;
  size_t q_heads, kv_heads, head_dim;
  const bf16_t* sinks;  // [q_heads] logit of the "attend to nothing" column
  float scale;          // applied to q.k, not to the sink
  float* out;           // [n, q_heads * head_dim], rows out_stride apart
  size_t out_stride;
  // v4, batched steps: null, or one KvRow per row (query t at rows[t].position
  // over rows[t]'s cache, which holds its keys up to that position; the
  // first_position and cache fields above unused).
  const KvRow* rows;

  // Numerics::fast with a bf16 cache: the backend may round the queries to
  // bf16 for the score products (each product then exact in fp32, the sums
  // fp32), as the bf16 reference run does; the values stay fp32 products.
  bool bf16_products;
};

// Mixture of experts with MXFP4 weights for n tokens, k experts each:
// y[t] += sum_s weight[t,s] * (W2[e] . swiglu(W1[e] . x[t] + b1[e]) + b2[e]).
struct MoeArgs {
  const float* x;  // [n, hidden]
  size_t n, hidden, intermediate, k;
  const int32_t* expert_ids;    // [n, k]
  const float* expert_weights;  // [n, k]
  const uint8_t* w1_blocks;     // [E, 2I, hidden/32, 16], rows alternate glu / linear
  const uint8_t* w1_scales;     // [E, 2I, hidden/32]
  const bf16_t* b1;             // [E, 2I]
  const uint8_t* w2_blocks;     // [E, hidden, I/32, 16]
  const uint8_t* w2_scales;     // [E, hidden, I/32]
  const bf16_t* b2;             // [E, hidden]
  float swiglu_limit;
  float* scratch;  // [n, k, 3I] floats: mlp1 output then activation
  float* y;        // [n, hidden], accumulated into
  // Numerics::fast: the backend may round the inputs of its expert products
  // to bf16 (products and sums stay fp32) where that runs on faster units
  // (the CPU levels: every group on CPUs with AVX512-BF16, groups of 8
  // tokens or more where oneDNN has native bf16 products).
  bool bf16_products;
  // Numerics::fast: every backend (the reference too) quantizes each token's
  // input and each (token, expert)'s SwiGLU activation to Q15 blocks
  // (util/q15.h) and multiplies those, each block's products summed exactly
  // as integers, wherever bf16_products does not round them to bf16 instead;
  // decode's expert products then run on integer units.
  bool q15_inputs;
  // v7: w1 / w2 (blocks and scales) as tile_experts left them.
  bool w1_tiled, w2_tiled;
};

struct Backend {
  uint32_t struct_size;
  uint32_t api_version;
  const char* name;
  void* self;        // backend state passed to every entry
  bool host_memory;  // alloc returns host-addressable memory

  // --- memory (required) ---
  void* (*alloc)(void* self, size_t bytes);              // zero-filled; null on failure
  void (*release)(void* self, void* ptr, size_t bytes);  // bytes as given to alloc; null ptr is a no-op
  void (*upload)(void* self, void* dst, const void* host_src, size_t bytes);
  void (*download)(void* self, void* host_dst, const void* src, size_t bytes);
  void (*copy)(void* self, void* dst, const void* src, size_t bytes);
  // Makes `bytes` of weights at `host` usable by kernels. Null entry, or a
  // null result on a host_memory backend: the host pointer is used in place.
  const void* (*prepare_weights)(void* self, const void* host, size_t bytes);

  // --- kernels (optional when host_memory) ---
  // out[t] = table[ids[t]] widened to fp32; ids already validated.
  void (*embedding_bf16_f32)(void* self, const bf16_t* table, size_t dim, const int32_t* ids, size_t n, float* out);
  // y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * scale
  void (*rmsnorm_f32_bf16w)(void* self, const float* x, const bf16_t* scale, size_t n, size_t dim, float eps, float* y);
  void (*matmul_f32_bf16w)(void* self, const MatmulArgs& args);
  // Half-split rotation in place of `heads` heads per row; cos/sin [n, head_dim/2].
  void (*rope_f32)(void* self, float* x, size_t n, size_t row_stride, size_t heads, size_t head_dim, const float* cos,
                   const float* sin);
  void (*kv_store_f32)(void* self, const KvStoreArgs& args);
  void (*attention_f32)(void* self, const AttentionArgs& args);
  // Per token: the k largest logits (descending, lower id first on ties) and
  // the softmax over those k values.
  void (*router_topk_f32)(void* self, const float* logits, size_t n, size_t experts, size_t k, int32_t* ids,
                          float* weights);
  void (*moe_mxfp4_f32)(void* self, const MoeArgs& args);

  void (*destroy)(void* self);  // optional

  // --- v4 ---
  // Waits until every call made so far has finished. Returns false once the
  // device has failed (the failure is sticky: every later call fails too)
  // and points *error at a static description. Null on backends whose
  // entries finish before they return.
  bool (*synchronize)(void* self, const char** error);

  // Step bracket (optional; both or neither). The kernel calls between
  // begin_step and end_step form one forward step at `position` (the
  // first_position of every KvStoreArgs / AttentionArgs inside it). A
  // device may record the step and replay the recording for a later
  // bracket with the same `key` whose calls have the same arguments except
  // their positions, which it then takes from this bracket's `position`.
  // The caller promises: the same key means the same sequence of calls;
  // no memory entry (alloc, upload, download, copy, release, synchronize)
  // inside the bracket. end_step(run = false) drops the step's calls
  // (cancel); run = true queues them. One bracket at a time per instance:
  // other threads' calls wait for its end.
  void (*begin_step)(void* self, uint64_t key, size_t position);
  void (*end_step)(void* self, bool run);

  // --- v5: dense weights in Q8_0 (required of a device backend) ---
  // out[t] = row ids[t] of `table` ([rows, dim/32] Q8_0 blocks) as fp32;
  // ids already validated, dim a multiple of 32.
  void (*embedding_q8_0_f32)(void* self, const uint8_t* table, size_t dim, const int32_t* ids, size_t n, float* out);
  // matmul_f32_bf16w with the weights `w` in Q8_0 ([out, in/32] blocks;
  // args.w unused, args.in a multiple of 32). Exact numerics: fp32 products
  // of x and d * q, fp32 sums. args.bf16_products (Numerics::fast): every
  // backend, the reference too, quantizes each x row to Q15 blocks
  // (util/q15.h) and sums each block's products q * v exactly as integers,
  // so y[t, o] = sum over blocks of float(integer sum) * (x scale * d), then
  // + bias; only the order of those float sums differs between backends.
  void (*matmul_f32_q8_0w)(void* self, const MatmulArgs& args, const uint8_t* w);

  // --- v7: experts in the backend's own layout (optional, host memory) ---
  // Reorders `experts` MXFP4 matrices of `rows` rows of `count` blocks
  // (blocks [experts, rows, count, 16], scales [experts, rows, count], in
  // memory the caller may write) in place into the layout this backend's
  // moe_mxfp4_f32 reads fastest, and returns true: every call on them then
  // says so (MoeArgs::w1_tiled or w2_tiled). Returns false, nothing changed, where the
  // backend (or this CPU) has no such layout or no memory for its scratch.
  // Thread-safe; the bytes must not be read while it runs.
  bool (*tile_experts)(void* self, uint8_t* blocks, uint8_t* scales, size_t experts, size_t rows, size_t count);
};

// The scalar reference implementation of every entry (host memory).
const Backend& cpu_reference_backend() noexcept;

// Looks a backend up by name ("cpu" is the best CPU backend of this build,
// "cuda" / "cuda:N" a GPU) and fills its null kernel entries from the
// reference. A device backend's table owns an instance (a context on its
// device): give it to release_backend when done. Returns false if the name
// is unknown, the device is absent or unusable, or the table's version/size
// is not one this build understands; *error_message is then a static string.
bool resolve_backend(const char* name, Backend& out, const char** error_message) noexcept;

// Whether `name` asks for a GPU ("cuda", "cuda:N", any name starting with
// "cuda"): a refusal of such a name is a device error, not the caller's.
bool names_device_backend(const char* name) noexcept;

class Status;  // ossrt/status.hpp (kept out of the device code's includes)

// resolve_backend as a Status naming the backend: device_error for a GPU
// name this build or machine cannot serve, invalid_argument otherwise.
Status resolve_backend_status(const char* name, Backend& out) noexcept;

// Destroys what resolve_backend created for this table (no-op for the CPU
// backends) and clears it. Every buffer from its alloc must be released first.
void release_backend(Backend& backend) noexcept;

// A device a backend can run on, as `ossrt info` lists it.
struct BackendDevice {
  char name[32];          // the backend name that selects it, e.g. "cuda:0"
  char description[128];  // e.g. "NVIDIA H200, compute capability 9.0"
  uint64_t memory_bytes;  // total device memory
  uint64_t free_bytes;    // free when listed
};

// Fills up to `capacity` devices of this build and machine (GPUs only; the
// CPU is always there) and returns how many exist. Never fails: a build
// without CUDA, or no driver, lists none.
size_t list_backend_devices(BackendDevice* devices, size_t capacity) noexcept;

}  // namespace ossrt
