// One list of kernel ops, each run on cpu-reference and on every backend this
// machine resolves (the CPU levels; CUDA where a GPU is present) through the
// backend's own memory entries, as the model drives a device backend. The
// environment variable OSSRT_TEST_BACKENDS (comma-separated names) lists
// backends that must be present, so that a GPU machine's check cannot pass
// by skipping its device. Also: loading a model on cuda, present or not.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "ossrt/ossrt.hpp"
#include "random_inputs.hpp"
#include "util/numeric.h"

using namespace ossrt;

namespace {

// --- random inputs ---

size_t pick(std::mt19937& rng, size_t low, size_t high) {
  return std::uniform_int_distribution<size_t>(low, high)(rng);
}

using ossrt::test::random_bf16;
using ossrt::test::random_bytes;
using ossrt::test::random_floats;
using ossrt::test::random_q8_0;

// --- comparisons: whole buffers, padding included, so that a write outside
// an op's rows shows too ---

// Copies and conversions (embedding, KV store, router ids): every bit.
template <class T>
void expect_equal(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  REQUIRE(got.size() == want.size());
  size_t first = got.size();
  for (size_t i = 0; i < got.size() && first == got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(T)) != 0) first = i;
  }
  INFO(what);
  // The message is built only on failure, when `first` is an element.
  CHECK_MESSAGE(first == got.size(),
                "first difference at element " << first << ": " << +got[first] << " vs reference " << +want[first]);
}

// fp32 ops whose only freedom is rounding (RMSNorm, RoPE, the router's
// softmax): within 1e-4 of the reference output's scale.
constexpr float kRoundingTolerance = 1e-4f;
// Long fp32 sums in another order (matmul, attention, MoE; the Q15 MoE's
// integer block products agree exactly, only the blocks' float sums differ).
constexpr float kSumTolerance = 2e-4f;

// The worst element of got against want, and whether it is within
// relative * max(1, max |want|).
struct Deviation {
  size_t index = 0;
  float difference = 0, limit = 0;
  bool within() const { return difference <= limit; }
};

Deviation deviation(const std::vector<float>& got, const std::vector<float>& want, float relative) {
  REQUIRE(got.size() == want.size());
  float scale = 1;
  for (float v : want) scale = std::max(scale, std::fabs(v));
  Deviation d;
  d.limit = relative * scale;
  for (size_t i = 0; i < got.size(); ++i) {
    // A NaN where the reference has a number is the worst difference there is.
    const float difference = std::isnan(got[i]) != std::isnan(want[i]) ? INFINITY
                             : std::isnan(got[i])                      ? 0.0f
                                                                       : std::fabs(got[i] - want[i]);
    if (difference > d.difference) {
      d.difference = difference;
      d.index = i;
    }
  }
  return d;
}

void report(const Deviation& d, const std::vector<float>& got, const std::vector<float>& want,
            const std::string& what) {
  INFO(what);
  INFO("worst element " << d.index << ": " << got[d.index] << " vs reference " << want[d.index] << " (difference "
                        << d.difference << ", tolerance " << d.limit << ")");
  CHECK(d.within());
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float relative,
                  const std::string& what) {
  report(deviation(got, want, relative), got, want, what);
}

// Numerics::fast lets a backend round its fp32 inputs to bf16 (or not):
// either reference is a correct result, the nearer one is reported.
void expect_close_to_either(const std::vector<float>& got, const std::vector<float>& exact,
                            const std::vector<float>& rounded, float relative, const std::string& what) {
  const Deviation to_exact = deviation(got, exact, relative), to_rounded = deviation(got, rounded, relative);
  if (to_exact.within() || to_exact.difference <= to_rounded.difference) {
    report(to_exact, got, exact, what);
  } else {
    report(to_rounded, got, rounded, what + " (against bf16-rounded inputs)");
  }
}

// --- the backend under test's memory ---

// Host data through a backend's memory entries: buffers from its alloc,
// filled by upload; finish() synchronizes and downloads the outputs; every
// buffer is released at the end. On a host-memory backend the same calls
// copy, so every backend takes this one path.
class Staging {
 public:
  explicit Staging(const Backend& backend) : be_(backend) {}
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  ~Staging() {
    for (const Buffer& b : buffers_) be_.release(be_.self, b.device, b.bytes);
  }

  template <class T>
  T* input(const std::vector<T>& host) {
    const size_t bytes = host.size() * sizeof(T);
    void* device = be_.alloc(be_.self, bytes);
    REQUIRE_MESSAGE(device != nullptr, std::string(be_.name) << ": alloc of " << bytes << " bytes failed");
    buffers_.push_back({device, bytes});
    if (bytes > 0) be_.upload(be_.self, device, host.data(), bytes);
    return static_cast<T*>(device);
  }

  // A buffer the kernels write (or update): starts as `host`, which finish()
  // overwrites with its final contents.
  template <class T>
  T* output(std::vector<T>& host) {
    T* device = input(host);
    outputs_.push_back({device, host.data(), host.size() * sizeof(T)});
    return device;
  }

  void finish() {
    synchronize();
    for (const Output& o : outputs_) be_.download(be_.self, o.host, o.device, o.bytes);
    synchronize();  // a failed download is reported here
  }

 private:
  void synchronize() {
    if (be_.synchronize == nullptr) return;
    const char* error = "";
    REQUIRE_MESSAGE(be_.synchronize(be_.self, &error), std::string(be_.name)
                                                           << ": the device failed: " << std::string(error));
  }

  struct Buffer {
    void* device;
    size_t bytes;
  };
  struct Output {
    const void* device;
    void* host;
    size_t bytes;
  };
  const Backend& be_;
  std::vector<Buffer> buffers_;
  std::vector<Output> outputs_;
};

// Weights as the model places them: prepare_weights' copy (kept until the
// backend is released), or the host data in place on a host-memory backend.
template <class T>
const T* place_weights(const Backend& be, const std::vector<T>& host) {
  if (be.prepare_weights != nullptr) {
    if (const void* placed = be.prepare_weights(be.self, host.data(), host.size() * sizeof(T))) {
      return static_cast<const T*>(placed);
    }
  }
  REQUIRE_MESSAGE(be.host_memory, std::string(be.name) << ": prepare_weights failed");
  return host.data();
}

const Backend& ref_backend() {
  return cpu_reference_backend();
}

std::string str(size_t v) {
  return std::to_string(v);
}

// --- the ops: each builds its cases, runs them on the reference and on `be` ---

// An embedding gather: for each width in `dims` a table of 37 rows from
// make_table(dim), gathered for each count of tokens in `counts`, the table's
// first and last rows among them; gather(backend, table, dim, ids, n, out)
// calls the backend's entry. Every output bit as the reference's.
template <class MakeTable, class Gather>
void check_gather(const Backend& be, const std::string& label, std::mt19937& rng, std::span<const size_t> dims,
                  std::span<const size_t> counts, MakeTable make_table, Gather gather) {
  const Backend& ref = ref_backend();
  constexpr size_t kRows = 37;
  for (size_t dim : dims) {
    const auto table = make_table(kRows, dim);
    const auto* placed = place_weights(be, table);
    for (size_t n : counts) {
      std::vector<int32_t> ids(n);
      for (int32_t& id : ids) id = static_cast<int32_t>(pick(rng, 0, kRows - 1));
      ids[0] = kRows - 1;  // the table's last row, and its first
      if (n > 1) ids[1] = 0;
      const auto start = random_floats(n * dim, rng);
      std::vector<float> want = start, got = start;
      gather(ref, table.data(), dim, ids.data(), n, want.data());
      Staging s(be);
      gather(be, placed, dim, s.input(ids), n, s.output(got));
      s.finish();
      expect_equal(got, want, label + " dim=" + str(dim) + " n=" + str(n));
    }
  }
}

void check_embedding(const Backend& be, const std::string& label, std::mt19937& rng) {
  const size_t dims[] = {1, 2, 3, 7, 8, 64, 100, 255, 300, 2880}, counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  check_gather(
      be, label, rng, dims, counts, [&](size_t rows, size_t dim) { return random_bf16(rows * dim, rng, 4.0f); },
      [](const Backend& b, const bf16_t* table, size_t dim, const int32_t* ids, size_t n, float* out) {
        b.embedding_bf16_f32(b.self, table, dim, ids, n, out);
      });
}

void check_rmsnorm(const Backend& be, const std::string& label, std::mt19937& rng) {
  const Backend& ref = ref_backend();
  for (size_t dim : {1, 7, 64, 2880}) {
    const auto scale = random_bf16(dim, rng, 2.0f);
    const bf16_t* placed = place_weights(be, scale);
    for (size_t n = 1; n <= 5; ++n) {
      const auto x = random_floats(n * dim, rng, 3.0f);
      const auto start = random_floats(n * dim, rng);
      std::vector<float> want = start, got = start;
      ref.rmsnorm_f32_bf16w(ref.self, x.data(), scale.data(), n, dim, 1e-5f, want.data());
      Staging s(be);
      be.rmsnorm_f32_bf16w(be.self, s.input(x), placed, n, dim, 1e-5f, s.output(got));
      s.finish();
      expect_close(got, want, kRoundingTolerance, label + " dim=" + str(dim) + " n=" + str(n));
    }
  }
}

// The same matmul with its inputs rounded to bf16, as Numerics::fast allows.
std::vector<float> rounded_to_bf16(std::vector<float> x) {
  for (float& v : x) v = bf16_to_f32(f32_to_bf16(v));
  return x;
}

// A matmul case's layout: bias and accumulation, args.bf16_products, floats
// of padding after each row of x and y, and x's offset from an allocation's
// start (in floats).
struct MatmulLayout {
  bool bias, accumulate, bf16_products;
  size_t x_pad, y_pad, x_offset;
};

// Runs call(args) on `be` with args' x (the host's `x`, x_offset floats into
// its buffer), bias (placed weights or null) and y (starting as `got`, which
// receives the result) in the backend's memory.
template <class Call>
void run_matmul(const Backend& be, MatmulArgs args, const std::vector<float>& x, const MatmulLayout& l,
                const bf16_t* bias_placed, std::vector<float>& got, Call call) {
  Staging s(be);
  std::vector<float> x_staged(l.x_offset, 0.0f);
  x_staged.insert(x_staged.end(), x.begin(), x.end());
  args.x = s.input(x_staged) + l.x_offset;
  args.bias = l.bias ? bias_placed : nullptr;
  args.y = s.output(got);
  call(args);
  s.finish();
}

std::string matmul_case(const std::string& label, const MatmulArgs& a, const MatmulLayout& l) {
  return label + " n=" + str(a.n) + " in=" + str(a.in) + " out=" + str(a.out) + " x_stride=" + str(a.x_stride) +
         " y_stride=" + str(a.y_stride) + (l.bias ? " bias" : "") + (l.accumulate ? " accumulate" : "") +
         (l.bf16_products ? " bf16_products" : "") + (l.x_offset ? " x unaligned" : "");
}

void check_matmul(const Backend& be, const std::string& label, std::mt19937& rng) {
  const Backend& ref = ref_backend();
  // Each shape in four layouts: plain; bias, accumulate and padded rows of
  // an odd stride; bf16 products allowed, rows padded by 16 bytes; the same
  // rows one float off 16-byte alignment (the vectorized path's fallback for
  // that reason alone).
  using Layout = MatmulLayout;
  const Layout layouts[] = {{false, false, false, 0, 0, 0},
                            {true, true, false, 3, 3, 0},
                            {true, false, true, 4, 3, 0},
                            {false, true, true, 4, 0, 1}};
  for (size_t in : {8, 24, 100, 2880}) {
    // 1100 outputs: more than a device gives a block each (a warp each instead).
    for (size_t out : {1, 5, 64, 77, 201, 1100}) {
      if (out > 1000 && in > 100) continue;  // the reference's time
      const auto w = random_bf16(out * in, rng);
      const auto bias = random_bf16(out, rng);
      const bf16_t* w_placed = place_weights(be, w);
      const bf16_t* bias_placed = place_weights(be, bias);
      for (size_t n : {1, 2, 7, 8, 9, 33, 100}) {
        for (const Layout& l : layouts) {
          const size_t x_stride = in + l.x_pad, y_stride = out + l.y_pad;
          const auto x = random_floats(n * x_stride, rng);
          const auto start = random_floats(n * y_stride, rng);
          std::vector<float> want = start, got = start;
          MatmulArgs args{
              x.data(), x_stride,     w.data(),       l.bias ? bias.data() : nullptr, want.data(), y_stride, n, in,
              out,      l.accumulate, l.bf16_products};
          ref.matmul_f32_bf16w(ref.self, args);
          args.w = w_placed;
          run_matmul(be, args, x, l, bias_placed, got, [&](const MatmulArgs& a) { be.matmul_f32_bf16w(be.self, a); });
          const std::string what = matmul_case(label, args, l);
          if (!l.bf16_products) {
            expect_close(got, want, kSumTolerance, what);
            continue;
          }
          const auto x_rounded = rounded_to_bf16(x);
          std::vector<float> want_rounded = start;
          args = MatmulArgs{x_rounded.data(),
                            x_stride,
                            w.data(),
                            l.bias ? bias.data() : nullptr,
                            want_rounded.data(),
                            y_stride,
                            n,
                            in,
                            out,
                            l.accumulate,
                            false};
          ref.matmul_f32_bf16w(ref.self, args);
          expect_close_to_either(got, want, want_rounded, kSumTolerance, what);
        }
      }
    }
  }
}

void check_rope(const Backend& be, const std::string& label, std::mt19937& rng) {
  const Backend& ref = ref_backend();
  for (size_t head_dim : {2, 6, 64, 128}) {
    for (size_t heads : {1, 3, 8}) {
      for (size_t n = 1; n <= 5; ++n) {
        const size_t half = head_dim / 2, row_stride = heads * head_dim + (n % 2 == 0 ? 0 : 5);
        const auto angles = random_floats(n * half, rng, 100.0f);
        std::vector<float> cos(n * half), sin(n * half);
        for (size_t i = 0; i < angles.size(); ++i) {
          cos[i] = std::cos(angles[i]);
          sin[i] = std::sin(angles[i]);
        }
        const auto start = random_floats(n * row_stride, rng, 3.0f);
        std::vector<float> want = start, got = start;
        ref.rope_f32(ref.self, want.data(), n, row_stride, heads, head_dim, cos.data(), sin.data());
        Staging s(be);
        be.rope_f32(be.self, s.output(got), n, row_stride, heads, head_dim, s.input(cos), s.input(sin));
        s.finish();
        expect_close(got, want, kRoundingTolerance,
                     label + " n=" + str(n) + " heads=" + str(heads) + " head_dim=" + str(head_dim) +
                         " row_stride=" + str(row_stride));
      }
    }
  }
}

// The one layout description the KV store and attention cases share.
std::string cache_name(KvType type, bool ring, size_t capacity) {
  return std::string(type == KvType::bf16 ? " bf16" : " f32") + (ring ? " ring " : " dense ") + str(capacity);
}

void check_kv_store(const Backend& be, const std::string& label, std::mt19937& rng) {
  const Backend& ref = ref_backend();
  struct Case {
    size_t first_position, capacity;
    bool ring;
  };
  // Rings start near their end so that the rows wrap to slot 0.
  const Case cases[] = {{0, 16, false}, {5, 16, false}, {300, 512, false}, {7, 10, true}, {298, 9, true}};
  for (KvType type : {KvType::f32, KvType::bf16}) {
    for (size_t width : {1, 64, 360}) {
      for (const Case& c : cases) {
        for (size_t n = 1; n <= 9; ++n) {
          const size_t src_stride = width + 2;
          const auto k = random_floats(n * src_stride, rng, 8.0f), v = random_floats(n * src_stride, rng, 8.0f);
          // Slots the call does not write keep their (random) bytes.
          const size_t bytes = c.capacity * width * kv_element_bytes(type);
          const auto k_start = random_bytes(bytes, rng, 0, 255), v_start = random_bytes(bytes, rng, 0, 255);
          std::vector<uint8_t> k_want = k_start, v_want = v_start, k_got = k_start, v_got = v_start;
          KvStoreArgs args{k.data(),      v.data(),   src_stride, n,    c.first_position, width, k_want.data(),
                           v_want.data(), c.capacity, c.ring,     type, nullptr};
          ref.kv_store_f32(ref.self, args);
          Staging s(be);
          args.k = s.input(k);
          args.v = s.input(v);
          args.k_cache = s.output(k_got);
          args.v_cache = s.output(v_got);
          be.kv_store_f32(be.self, args);
          s.finish();
          const std::string what = label + cache_name(type, c.ring, c.capacity) + " width=" + str(width) +
                                   " first_position=" + str(c.first_position) + " n=" + str(n);
          expect_equal(k_got, k_want, what + " keys");
          expect_equal(v_got, v_want, what + " values");
        }
      }
    }
  }
}

void check_attention(const Backend& be, const std::string& label, std::mt19937& rng) {
  const Backend& ref = ref_backend();
  struct Shape {
    size_t q_heads, kv_heads, head_dim;
  };
  struct Case {
    size_t n, first_position, window, capacity;
    bool ring;
  };
  // Decode and prefill, from position 0 and deep; rings smaller than the
  // positions (they wrap) but holding window + n - 1 keys.
  const Case cases[] = {
      {1, 0, 0, 8, false},        {1, 300, 0, 512, false},   {40, 0, 0, 64, false}, {40, 300, 0, 512, false},
      {33, 300, 128, 512, false}, {5, 2, 4, 16, false},      {1, 300, 4, 6, true},  {17, 300, 4, 21, true},
      {1, 300, 128, 130, true},   {40, 300, 128, 167, true}, {40, 10, 4, 43, true},
  };
  // Head groups of 1, 2 and 8; head sizes of 64, 48 and 96.
  const Shape shapes[] = {{2, 2, 64}, {4, 2, 48}, {8, 1, 96}, {16, 2, 64}};
  for (const Shape& shape : shapes) {
    const size_t width = shape.kv_heads * shape.head_dim, q_width = shape.q_heads * shape.head_dim;
    const auto sinks = random_bf16(shape.q_heads, rng, 2.0f);
    const bf16_t* sinks_placed = place_weights(be, sinks);
    for (KvType type : {KvType::f32, KvType::bf16}) {
      for (const Case& c : cases) {
        // Every key some query sees, stored once in position order.
        const size_t first_key = first_visible_key(c.first_position, c.window), last = c.first_position + c.n;
        REQUIRE(last - first_key <= c.capacity);
        REQUIRE((c.ring || last <= c.capacity));
        const size_t stored = last - first_key;
        const auto k_rows = random_floats(stored * width, rng), v_rows = random_floats(stored * width, rng);
        const std::vector<uint8_t> empty_cache(c.capacity * width * kv_element_bytes(type));
        std::vector<uint8_t> k_ref = empty_cache, v_ref = empty_cache;
        const KvStoreArgs store{k_rows.data(), v_rows.data(), width,      stored, first_key, width,
                                k_ref.data(),  v_ref.data(),  c.capacity, c.ring, type,      nullptr};
        ref.kv_store_f32(ref.self, store);

        const size_t q_stride = q_width + 5, out_stride = q_width + 3;
        const auto q = random_floats(c.n * q_stride, rng, 2.0f);
        const auto start = random_floats(c.n * out_stride, rng);
        std::vector<float> want = start, got = start;
        AttentionArgs args{q.data(),       q_stride,      k_ref.data(),
                           v_ref.data(),   c.capacity,    c.ring,
                           type,           c.n,           c.first_position,
                           c.window,       shape.q_heads, shape.kv_heads,
                           shape.head_dim, sinks.data(),  1.0f / std::sqrt(static_cast<float>(shape.head_dim)),
                           want.data(),    out_stride,    nullptr,
                           false};
        ref.attention_f32(ref.self, args);
        {
          Staging s(be);
          KvStoreArgs device_store = store;
          device_store.k = s.input(k_rows);
          device_store.v = s.input(v_rows);
          device_store.k_cache = s.input(empty_cache);
          device_store.v_cache = s.input(empty_cache);
          be.kv_store_f32(be.self, device_store);
          args.q = s.input(q);
          args.k_cache = device_store.k_cache;
          args.v_cache = device_store.v_cache;
          args.sinks = sinks_placed;
          args.out = s.output(got);
          be.attention_f32(be.self, args);
          s.finish();
        }
        expect_close(got, want, kSumTolerance,
                     label + " heads " + str(shape.q_heads) + "/" + str(shape.kv_heads) + "x" + str(shape.head_dim) +
                         " n=" + str(c.n) + " at " + str(c.first_position) + " window " + str(c.window) +
                         cache_name(type, c.ring, c.capacity));
      }
    }
  }
}

// Batched steps (v4 KvRow): rows of different sessions, each at its own
// position in its own cache (dense or ring), give what each row gives as a
// one-session call on the reference. The KvRow array lives in the backend's
// memory and names caches there.
void check_batched_rows(const Backend& be, const std::string& label, std::mt19937& rng) {
  const Backend& ref = ref_backend();
  // 8 query heads per kv head: gpt-oss's group (the CPU's 8-head score path).
  const size_t q_heads = 16, kv_heads = 2, head_dim = 64, width = kv_heads * head_dim, q_width = q_heads * head_dim;
  const auto sinks = random_bf16(q_heads, rng, 2.0f);
  const bf16_t* sinks_placed = place_weights(be, sinks);
  struct Session {
    size_t position, capacity;
    bool ring;
  };
  // The last is long enough for a decode kernel to split its keys into chunks.
  const Session sessions[] = {
      {0, 16, false}, {37, 64, false}, {300, 130, true}, {1000, 1500, false}, {2500, 2600, false}};
  const size_t n = std::size(sessions);
  for (KvType type : {KvType::f32, KvType::bf16}) {
    for (size_t window : {size_t{0}, size_t{128}}) {
      const auto k = random_floats(n * width, rng), v = random_floats(n * width, rng);
      const auto q = random_floats(n * q_width, rng);
      // Each cache starts with random earlier keys; the batched and the
      // one-by-one runs work on copies of them.
      std::vector<std::vector<uint8_t>> k_single, v_single;
      for (const Session& session : sessions) {
        k_single.push_back(random_bytes(session.capacity * width * kv_element_bytes(type), rng, 0, 63));
        v_single.push_back(random_bytes(session.capacity * width * kv_element_bytes(type), rng, 0, 63));
      }
      auto k_batched = k_single, v_batched = v_single;
      std::vector<float> out_single(n * q_width), out_batched(n * q_width);
      for (size_t t = 0; t < n; ++t) {
        const Session& session = sessions[t];
        ref.kv_store_f32(ref.self, KvStoreArgs{k.data() + t * width, v.data() + t * width, width, 1, session.position,
                                               width, k_single[t].data(), v_single[t].data(), session.capacity,
                                               session.ring, type, nullptr});
        ref.attention_f32(ref.self, AttentionArgs{q.data() + t * q_width, q_width, k_single[t].data(),
                                                  v_single[t].data(), session.capacity, session.ring, type, 1,
                                                  session.position, window, q_heads, kv_heads, head_dim, sinks.data(),
                                                  0.125f, out_single.data() + t * q_width, q_width, nullptr, false});
      }
      Staging s(be);
      std::vector<KvRow> rows;
      for (size_t t = 0; t < n; ++t)
        rows.push_back(KvRow{sessions[t].position, s.output(k_batched[t]), s.output(v_batched[t]), sessions[t].capacity,
                             sessions[t].ring});
      const KvRow* rows_placed = s.input(rows);
      const float *k_placed = s.input(k), *v_placed = s.input(v);
      be.kv_store_f32(
          be.self, KvStoreArgs{k_placed, v_placed, width, n, 0, width, nullptr, nullptr, 0, false, type, rows_placed});
      be.attention_f32(
          be.self, AttentionArgs{s.input(q), q_width, nullptr, nullptr, 0, false, type, n, 0, window, q_heads, kv_heads,
                                 head_dim, sinks_placed, 0.125f, s.output(out_batched), q_width, rows_placed, false});
      s.finish();
      const std::string what = label + (type == KvType::bf16 ? " bf16" : " f32") + " window " + str(window);
      for (size_t t = 0; t < n; ++t) {
        expect_equal(k_batched[t], k_single[t], what + " keys of row " + str(t));
        expect_equal(v_batched[t], v_single[t], what + " values of row " + str(t));
      }
      expect_close(out_batched, out_single, kSumTolerance, what + " attention");
    }
  }
}

void check_router(const Backend& be, const std::string& label, std::mt19937& rng) {
  const Backend& ref = ref_backend();
  for (size_t experts : {4, 5, 8, 17, 32}) {
    for (size_t k = 1; k <= 4; ++k) {
      for (size_t n : {1, 2, 5, 9}) {
        // Few distinct values, so that ties are common; the last token's all equal.
        std::vector<float> logits(n * experts);
        for (float& g : logits) g = 0.5f * static_cast<float>(pick(rng, 0, 5)) - 1.0f;
        std::fill(logits.end() - static_cast<long>(experts), logits.end(), 0.25f);
        std::vector<int32_t> ids_want(n * k, -7), ids_got = ids_want;
        const auto weights_start = random_floats(n * k, rng);
        std::vector<float> weights_want = weights_start, weights_got = weights_start;
        ref.router_topk_f32(ref.self, logits.data(), n, experts, k, ids_want.data(), weights_want.data());
        Staging s(be);
        be.router_topk_f32(be.self, s.input(logits), n, experts, k, s.output(ids_got), s.output(weights_got));
        s.finish();
        const std::string what = label + " experts=" + str(experts) + " k=" + str(k) + " n=" + str(n);
        expect_equal(ids_got, ids_want, what + " ids");
        expect_close(weights_got, weights_want, kRoundingTolerance, what + " weights");
      }
    }
  }
}

void check_moe(const Backend& be, const std::string& label, std::mt19937& rng) {
  const Backend& ref = ref_backend();
  struct Shape {
    size_t hidden, intermediate;
    std::vector<size_t> tokens;
    size_t min_k = 1;
    size_t experts = 0;  // 0: k + 4 (5..8)
  };
  // 2880 inputs and 1056 activations: rows of more blocks than a warp has
  // lanes. 40 tokens and more: prefill batches, which a device backend may
  // group by expert (CUDA from 64 pairs on: moe_grouped.cu), with experts of
  // more than 64 pairs, ragged and empty ones; 2880 x 96 with 32 experts is
  // gpt-oss-20b's hidden size and expert count with a smaller intermediate
  // (2880 x 2880 takes the reference 20 s, this under a second).
  const Shape shapes[] = {{32, 32, {1, 3, 9}},   {64, 96, {1, 3, 9, 40, 100}}, {96, 64, {1, 3, 9}},
                          {2880, 64, {1, 3, 9}}, {32, 1056, {1, 3, 9}},        {2880, 96, {64}, 4, 32}};
  for (const Shape& shape : shapes) {
    const size_t H = shape.hidden, I = shape.intermediate;
    for (size_t k = shape.min_k; k <= 4; ++k) {
      const size_t E = shape.experts != 0 ? shape.experts : k + 4;
      const auto w1_blocks = random_bytes(E * 2 * I * H / 2, rng, 0, 255);
      const auto w1_scales = random_bytes(E * 2 * I * H / 32, rng, 120, 132);
      const auto b1 = random_bf16(E * 2 * I, rng, 0.5f);
      const auto w2_blocks = random_bytes(E * H * I / 2, rng, 0, 255);
      const auto w2_scales = random_bytes(E * H * I / 32, rng, 120, 132);
      const auto b2 = random_bf16(E * H, rng, 0.5f);
      MoeArgs placed{};
      placed.w1_blocks = place_weights(be, w1_blocks);
      placed.w1_scales = place_weights(be, w1_scales);
      placed.b1 = place_weights(be, b1);
      placed.w2_blocks = place_weights(be, w2_blocks);
      placed.w2_scales = place_weights(be, w2_scales);
      placed.b2 = place_weights(be, b2);
      for (size_t n : shape.tokens) {
        // k distinct experts per token, handed out in turn from a random start;
        // from 40 tokens on, slot 0 is always that start (an expert of n pairs)
        // and the other slots rotate over the other experts.
        std::vector<int32_t> ids(n * k);
        const size_t offset = pick(rng, 0, E - 1);
        for (size_t pair = 0; pair < n * k; ++pair) {
          const size_t t = pair / k, s = pair % k;
          const size_t expert = n < 40 ? offset + pair : offset + (s == 0 ? 0 : s + t % (E - k + 1));
          ids[pair] = static_cast<int32_t>(expert % E);
        }
        // Fast runs take the Q15 inputs alone: with bf16_products the CPU
        // levels round the inputs to bf16 (every group where the CPU has
        // AVX512-BF16, groups of 8 pairs or more where oneDNN has native bf16),
        // which only bf16 tolerances accept; test_cpu_kernels.cpp checks those.
        std::vector<float> weights(n * k);
        for (size_t t = 0; t < n; ++t) {
          float sum = 0;
          for (size_t s = 0; s < k; ++s) sum += (weights[t * k + s] = 0.1f + static_cast<float>(pick(rng, 0, 9)));
          for (size_t s = 0; s < k; ++s) weights[t * k + s] /= sum;
        }
        const auto x = random_floats(n * H, rng, 2.0f);
        const auto start = random_floats(n * H, rng);
        for (bool fast : {false, true}) {
          std::vector<float> scratch(n * k * 3 * I), want = start, got = start;
          MoeArgs args{x.data(),
                       n,
                       H,
                       I,
                       k,
                       ids.data(),
                       weights.data(),
                       w1_blocks.data(),
                       w1_scales.data(),
                       b1.data(),
                       w2_blocks.data(),
                       w2_scales.data(),
                       b2.data(),
                       7.0f,
                       scratch.data(),
                       want.data(),
                       false,
                       fast,
                       false,
                       false};
          ref.moe_mxfp4_f32(ref.self, args);
          {
            Staging s(be);
            args.x = s.input(x);
            args.expert_ids = s.input(ids);
            args.expert_weights = s.input(weights);
            args.w1_blocks = placed.w1_blocks;
            args.w1_scales = placed.w1_scales;
            args.b1 = placed.b1;
            args.w2_blocks = placed.w2_blocks;
            args.w2_scales = placed.w2_scales;
            args.b2 = placed.b2;
            args.scratch = s.input(scratch);
            args.y = s.output(got);
            be.moe_mxfp4_f32(be.self, args);
            s.finish();
          }
          expect_close(got, want, kSumTolerance,
                       label + " H=" + str(H) + " I=" + str(I) + " E=" + str(E) + " k=" + str(k) + " n=" + str(n) +
                           (fast ? " fast (q15_inputs)" : " exact"));
        }
      }
    }
  }
}

// Q8_0 rows of the widths a model's dense layers have, and ragged ones.
constexpr size_t kQ8_0Widths[] = {32, 64, 96, 2880};

void check_embedding_q8_0(const Backend& be, const std::string& label, std::mt19937& rng) {
  const size_t counts[] = {1, 2, 5, 9};
  check_gather(
      be, label, rng, kQ8_0Widths, counts, [&](size_t rows, size_t dim) { return random_q8_0(rows, dim, rng); },
      [](const Backend& b, const uint8_t* table, size_t dim, const int32_t* ids, size_t n, float* out) {
        b.embedding_q8_0_f32(b.self, table, dim, ids, n, out);
      });
}

// Differences relative to an output's sum |x * w| + |bias| (+ |y| when
// accumulating). Exact numerics: the reference's products, summed in another
// order (the reference sums a row's products one by one: up to 1.1e-6 seen
// at 2880 inputs). Fast: the same Q15 values and exact integer block sums,
// only the blocks' (or their lanes') scaled results summed in another order
// (up to 2.6e-7 seen); a Q15 value off by one step moves an output by about
// 1 / 16256 of its block's share.
constexpr double kQ8_0ExactTolerance = 1e-5, kQ8_0FastTolerance = 2e-6;

void check_matmul_q8_0(const Backend& be, const std::string& label, std::mt19937& rng) {
  const Backend& ref = ref_backend();
  // Each numerics (bf16_products: Numerics::fast) with and without bias and
  // accumulation; rows of x (and y) padded; x one float off 16-byte
  // alignment once per numerics.
  const MatmulLayout layouts[] = {{false, false, false, 0, 0, 0},
                                  {true, true, false, 5, 3, 1},
                                  {true, false, true, 4, 0, 0},
                                  {false, true, true, 3, 2, 1}};
  for (size_t in : kQ8_0Widths) {
    for (size_t out : {1, 7, 33, 130}) {
      const auto w = random_q8_0(out, in, rng);
      const auto bias = random_bf16(out, rng, 4.0f);
      const uint8_t* w_placed = place_weights(be, w);
      const bf16_t* bias_placed = place_weights(be, bias);
      // The weights as fp32 (the reference's embedding gather of every row), for the magnitudes.
      std::vector<int32_t> all_rows(out);
      for (size_t o = 0; o < out; ++o) all_rows[o] = static_cast<int32_t>(o);
      std::vector<float> dequantized(out * in);
      ref.embedding_q8_0_f32(ref.self, w.data(), in, all_rows.data(), out, dequantized.data());
      for (size_t n : {1, 2, 3, 5, 17, 64}) {
        for (const MatmulLayout& l : layouts) {
          const size_t x_stride = in + l.x_pad, y_stride = out + l.y_pad;
          const auto x = random_floats(n * x_stride, rng, 2.0f);
          const auto start = random_floats(n * y_stride, rng);
          std::vector<float> want = start, got = start;
          MatmulArgs args{
              x.data(), x_stride,     nullptr,        l.bias ? bias.data() : nullptr, want.data(), y_stride, n, in,
              out,      l.accumulate, l.bf16_products};
          ref.matmul_f32_q8_0w(ref.self, args, w.data());
          run_matmul(be, args, x, l, bias_placed, got,
                     [&](const MatmulArgs& a) { be.matmul_f32_q8_0w(be.self, a, w_placed); });
          const std::string what = matmul_case(label, args, l);
          // Each output against its own magnitude; the padding stays as it was.
          size_t worst = 0;
          double worst_ratio = 0;
          bool padding_kept = true;
          for (size_t t = 0; t < n; ++t) {
            for (size_t o = 0; o < y_stride; ++o) {
              const size_t i = t * y_stride + o;
              if (o >= out) {
                padding_kept = padding_kept && std::memcmp(&got[i], &start[i], sizeof(float)) == 0;
                continue;
              }
              double magnitude =
                  (l.bias ? std::fabs(bf16_to_f32(bias[o])) : 0.0) + (l.accumulate ? std::fabs(start[i]) : 0.0);
              for (size_t k = 0; k < in; ++k) magnitude += std::fabs(x[t * x_stride + k] * dequantized[o * in + k]);
              const double ratio = std::fabs(static_cast<double>(got[i]) - want[i]) / std::max(magnitude, 1e-30);
              if (!(ratio <= worst_ratio)) {  // a NaN is the worst there is
                worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
                worst = i;
              }
            }
          }
          INFO(what);
          INFO("worst element " << worst << ": " << got[worst] << " vs reference " << want[worst]
                                << " (difference relative to sum |x * w|: " << worst_ratio << ")");
          CHECK(worst_ratio <= (l.bf16_products ? kQ8_0FastTolerance : kQ8_0ExactTolerance));
          CHECK(padding_kept);
        }
      }
    }
  }
}

struct KernelOp {
  const char* name;
  // `label` names the backend and the op; the check adds the shape.
  void (*check)(const Backend& be, const std::string& label, std::mt19937& rng);
};

// Every kernel entry of the backend table.
const KernelOp kKernelOps[] = {
    {"embedding_bf16_f32", check_embedding},
    {"rmsnorm_f32_bf16w", check_rmsnorm},
    {"matmul_f32_bf16w", check_matmul},
    {"rope_f32", check_rope},
    {"kv_store_f32", check_kv_store},
    {"attention_f32", check_attention},
    {"kv_store_f32 + attention_f32, batched rows", check_batched_rows},
    {"router_topk_f32", check_router},
    {"moe_mxfp4_f32", check_moe},
    {"embedding_q8_0_f32", check_embedding_q8_0},
    {"matmul_f32_q8_0w", check_matmul_q8_0},
};

#if defined(OSSRT_TEST_AVX512_EMULATION)
}  // namespace
namespace ossrt::cpu_avx512_emulated {
void fill_kernels(Backend& table) noexcept;  // tests/unit/cpu_avx512_emulated.cpp
}  // namespace ossrt::cpu_avx512_emulated
namespace {
#endif

// --- which backends run ---

// OSSRT_TEST_BACKENDS, split at commas.
std::vector<std::string> required_backends() {
  std::vector<std::string> names;
  const char* variable = std::getenv("OSSRT_TEST_BACKENDS");
  std::string rest = variable != nullptr ? variable : "";
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string name = rest.substr(0, comma);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (!name.empty()) names.push_back(name);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  return names;
}

bool is_required(const std::string& name) {
  const std::vector<std::string> required = required_backends();
  return std::find(required.begin(), required.end(), name) != required.end();
}

// The resolved tables (a device's owns its instance until released).
struct BackendsUnderTest {
  std::vector<Backend> tables;
  BackendsUnderTest() = default;
  BackendsUnderTest(const BackendsUnderTest&) = delete;
  BackendsUnderTest& operator=(const BackendsUnderTest&) = delete;
  ~BackendsUnderTest() {
    for (Backend& table : tables) release_backend(table);
  }
};

// Every CPU level this machine runs, every device the registry resolves, and
// every required name; one that is required and does not resolve fails.
void resolve_backends_under_test(BackendsUnderTest& out) {
  std::vector<std::string> names;
  for (CpuIsa isa : {CpuIsa::avx2, CpuIsa::avx512}) {
    if (isa <= best_cpu_isa()) names.push_back(std::string("cpu-") + cpu_isa_name(isa));
  }
  names.push_back("cuda");
  for (const std::string& name : required_backends()) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  for (const std::string& name : names) {
    Backend table{};
    const char* message = "";
    if (resolve_backend(name.c_str(), table, &message)) {
      out.tables.push_back(table);
    } else if (is_required(name)) {
      FAIL_CHECK("backend " << name
                            << " is required (OSSRT_TEST_BACKENDS) but does not resolve: " << std::string(message));
    } else {
      MESSAGE("backend " << name << " is absent here: " << std::string(message));
    }
  }
}

}  // namespace

TEST_CASE("kernel ops on every backend equal cpu-reference: ragged shapes, strides, rings, fast numerics") {
  BackendsUnderTest backends;
  resolve_backends_under_test(backends);
  std::string ran;
  for (const Backend& table : backends.tables) ran += (ran.empty() ? "" : ", ") + std::string(table.name);
  MESSAGE("backends under test: " << (ran.empty() ? "none" : ran));
  for (const Backend& table : backends.tables) {
    for (size_t op = 0; op < std::size(kKernelOps); ++op) {
      std::mt19937 rng(static_cast<unsigned>(27 + op));  // the same inputs on every backend
      kKernelOps[op].check(table, std::string(table.name) + " " + kKernelOps[op].name, rng);
    }
  }
}

#if defined(OSSRT_TEST_AVX512_EMULATION)
// The AVX-512 level's Q8_0 kernels compiled on SIMDe (the other ops' AVX-512
// kernels are held to the reference in test_cpu_kernels.cpp), so that their
// logic is checked on CPUs without AVX-512 too.
TEST_CASE("Q8_0 ops of the AVX-512 kernels on SIMDe equal cpu-reference") {
  Backend table = cpu_reference_backend();
  table.name = "cpu-avx512-emulated";
  cpu_avx512_emulated::fill_kernels(table);
  for (const KernelOp& op : kKernelOps) {
    if (std::string(op.name).find("q8_0") == std::string::npos) continue;
    std::mt19937 rng(5);
    op.check(table, std::string(table.name) + " " + op.name, rng);
  }
}
#endif

TEST_CASE("the cuda backend: a model loads on it where it resolves; elsewhere device_error names cuda") {
  Backend probe{};
  const char* message = "";
  const bool present = resolve_backend("cuda", probe, &message);
  if (present) release_backend(probe);
  if (is_required("cuda")) REQUIRE_MESSAGE(present, "cuda is required (OSSRT_TEST_BACKENDS): " << std::string(message));
  ModelOptions options;
  options.backend = "cuda";
  auto model = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a", options);
  if (present) {
    REQUIRE_MESSAGE(model.ok(), model.status().to_string());
    CHECK(model.value()->info().backend == "cuda");
    // The official reference's greedy tokens, as on the CPU.
    auto session = Session::create(model.value());
    REQUIRE_MESSAGE(session.ok(), session.status().to_string());
    REQUIRE(session.value()->append(std::vector<TokenId>{714, 1108, 958, 985, 112}).ok());
    auto greedy = session.value()->generate_greedy(4);
    REQUIRE_MESSAGE(greedy.ok(), greedy.status().to_string());
    CHECK(greedy.value() == std::vector<TokenId>{35, 515, 341, 570});
    // Expert offload: half the layers' experts on the CPU, the rest on the GPU.
    ModelOptions offload = options;
    offload.cpu_expert_layers = 2;
    auto split = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a", offload);
    REQUIRE_MESSAGE(split.ok(), split.status().to_string());
    CHECK(split.value()->info().cpu_expert_layers == 2);
    auto split_session = Session::create(split.value());
    REQUIRE(split_session.ok());
    REQUIRE(split_session.value()->append(std::vector<TokenId>{714, 1108, 958, 985, 112}).ok());
    auto split_greedy = split_session.value()->generate_greedy(4);
    REQUIRE_MESSAGE(split_greedy.ok(), split_greedy.status().to_string());
    CHECK(split_greedy.value() == std::vector<TokenId>{35, 515, 341, 570});
  } else {
    REQUIRE_FALSE(model.ok());
    CHECK(model.status().code() == StatusCode::device_error);
    CHECK(model.status().message().find("cuda") != std::string::npos);
  }
  // Not a device number: refused whether or not a GPU is present.
  for (const char* bad : {"cuda:x", "cuda:-1", "cuda:", "cuda:0x"}) {
    options.backend = bad;
    auto refused = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a", options);
    INFO(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == StatusCode::device_error);
    CHECK(refused.status().message().find("cuda") != std::string::npos);
  }
}

// Decode on a device backend runs in step brackets (recorded once, replayed
// after): two sessions decoding in turn (two recordings), their caches
// growing (the calls change, so the step runs unrecorded and is recorded
// again), fast numerics too: every step's logits as the CPU reference's.
TEST_CASE("recorded decode steps on a device backend equal cpu-reference: interleaved sessions, growing caches") {
  Backend probe{};
  const char* message = "";
  if (!resolve_backend("cuda", probe, &message)) {
    MESSAGE("no device backend here: " << std::string(message));
    return;
  }
  release_backend(probe);
  ModelOptions on_device, on_cpu;
  on_device.backend = "cuda";
  on_cpu.backend = "cpu-reference";
  auto device_model = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a", on_device);
  auto cpu_model = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a", on_cpu);
  REQUIRE_MESSAGE(device_model.ok(), device_model.status().to_string());
  REQUIRE(cpu_model.ok());
  for (Numerics numerics : {Numerics::exact, Numerics::fast}) {
    SessionOptions options;
    options.numerics = numerics;
    std::vector<std::unique_ptr<Session>> device_sessions, cpu_sessions;
    for (int i = 0; i < 2; ++i) {
      auto d = Session::create(device_model.value(), options);
      auto c = Session::create(cpu_model.value(), options);
      REQUIRE(d.ok());
      REQUIRE(c.ok());
      device_sessions.push_back(std::move(d.value()));
      cpu_sessions.push_back(std::move(c.value()));
    }
    std::mt19937 rng(5);
    std::uniform_int_distribution<TokenId> token(
        0, static_cast<TokenId>(device_model.value()->info().config.vocab_size - 1));
    float worst = 0;
    for (int step = 0; step < 300; ++step) {
      const size_t s = static_cast<size_t>(step % 2);
      const TokenId next = token(rng);
      const Status appended = device_sessions[s]->append(std::span<const TokenId>(&next, 1));
      REQUIRE_MESSAGE(appended.ok(), appended.to_string());
      REQUIRE(cpu_sessions[s]->append(std::span<const TokenId>(&next, 1)).ok());
      const auto a = device_sessions[s]->logits(), b = cpu_sessions[s]->logits();
      REQUIRE(a.size() == b.size());
      for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
    }
    INFO("numerics " << (numerics == Numerics::exact ? "exact" : "fast") << ", worst logit difference " << worst);
    // Exact: fp32 throughout (the golden tolerance); fast: the same Q15
    // products, sums in another order and a bf16 cache on both sides.
    CHECK(worst < (numerics == Numerics::exact ? 1e-3f : 2e-2f));
  }
}
