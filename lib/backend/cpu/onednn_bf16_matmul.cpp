// oneDNN's C API (no exceptions), one matmul primitive per shape, cached for
// the process: the shapes a model meets are few (tile heights times expert
// token counts), and creating a primitive costs far more than running one.
#include "backend/cpu/onednn_bf16_matmul.h"

#include <oneapi/dnnl/dnnl.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <tuple>

#include "backend/cpu/cpu_features.h"

namespace ossrt {

struct Bf16Matmul::Impl {
  dnnl_primitive_t primitive = nullptr;
  dnnl_memory_desc_t a, b, c, scratch;
  size_t scratch_size = 0;
};

namespace {

dnnl_engine_t cpu_engine() noexcept {
  // Kept for the process: primitives and thread streams refer to it.
  static const dnnl_engine_t engine = [] {
    dnnl_engine_t e = nullptr;
    return dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success ? e : nullptr;
  }();
  return engine;
}

// Streams are not shared between threads; each thread keeps one.
dnnl_stream_t thread_stream() noexcept {
  struct Holder {
    dnnl_stream_t stream = nullptr;
    ~Holder() {
      if (stream != nullptr) dnnl_stream_destroy(stream);
    }
  };
  thread_local Holder holder;
  if (holder.stream == nullptr && cpu_engine() != nullptr &&
      dnnl_stream_create(&holder.stream, cpu_engine(), dnnl_stream_default_flags) != dnnl_success) {
    holder.stream = nullptr;
  }
  return holder.stream;
}

bool native_bf16() noexcept {
  static const bool native = [] {
    onednn_allow_amx();
    const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
    const auto bf16 = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_bf16);
    // Faster than fp32 (see the header): with AMX, or where vdpbf16ps is.
    const auto amx = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_amx);
    const bool faster = (isa & amx) == amx || bf16_dot_products_pay();
    return (isa & bf16) == bf16 && faster && cpu_engine() != nullptr;
  }();
  return native;
}

// A primitive for the shape, or null. With `keep`, the primitive descriptor
// goes there instead of being destroyed (it owns the implementation's name).
Bf16Matmul::Impl* create(size_t m, size_t n, size_t k, size_t ldc, dnnl_primitive_desc_t* keep) noexcept {
  auto impl = std::unique_ptr<Bf16Matmul::Impl>(new (std::nothrow) Bf16Matmul::Impl);
  if (impl == nullptr) return nullptr;
  const auto dim = [](size_t v) { return static_cast<dnnl_dim_t>(v); };
  const dnnl_dims_t a_dims = {dim(m), dim(k)}, a_strides = {dim(k), 1};
  const dnnl_dims_t b_dims = {dim(k), dim(n)}, b_strides = {1, dim(k)};  // b^T: element (l, j) at j * k + l
  const dnnl_dims_t c_dims = {dim(m), dim(n)}, c_strides = {dim(ldc), 1};
  dnnl_matmul_desc_t desc;
  if (dnnl_memory_desc_init_by_strides(&impl->a, 2, a_dims, dnnl_bf16, a_strides) != dnnl_success ||
      dnnl_memory_desc_init_by_strides(&impl->b, 2, b_dims, dnnl_bf16, b_strides) != dnnl_success ||
      dnnl_memory_desc_init_by_strides(&impl->c, 2, c_dims, dnnl_f32, c_strides) != dnnl_success ||
      dnnl_matmul_desc_init(&desc, &impl->a, &impl->b, nullptr, &impl->c) != dnnl_success) {
    return nullptr;
  }
  // User scratchpad: concurrent runs of one primitive each bring their own.
  dnnl_primitive_attr_t attr = nullptr;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return nullptr;
  dnnl_primitive_desc_t pd = nullptr;
  const bool described = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success &&
                         dnnl_primitive_desc_create(&pd, &desc, attr, cpu_engine(), nullptr) == dnnl_success;
  dnnl_primitive_attr_destroy(attr);
  if (!described) return nullptr;
  const dnnl_memory_desc_t* scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  bool created = scratch != nullptr;
  if (created) {
    impl->scratch = *scratch;
    impl->scratch_size = dnnl_memory_desc_get_size(scratch);
    created = dnnl_primitive_create(&impl->primitive, pd) == dnnl_success;
  }
  if (keep != nullptr) {
    *keep = pd;
  } else {
    dnnl_primitive_desc_destroy(pd);
  }
  return created ? impl.release() : nullptr;
}

constexpr size_t kScratchAlignment = 64;

}  // namespace

void onednn_allow_amx() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    const CpuFeatures& f = cpu_features();
    if (!f.amx_tile || !f.amx_bf16) return;
    if (std::getenv("DNNL_MAX_CPU_ISA") != nullptr || std::getenv("ONEDNN_MAX_CPU_ISA") != nullptr) return;
    dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx512_core_amx);  // refused once oneDNN has dispatched: fine
  });
}

const Bf16Matmul* Bf16Matmul::get(size_t m, size_t n, size_t k, size_t ldc) noexcept {
  if (!native_bf16() || m == 0 || n == 0 || k == 0 || ldc < n) return nullptr;
  using Key = std::tuple<size_t, size_t, size_t, size_t>;
  static std::mutex mutex;
  static auto* cache = new (std::nothrow) std::map<Key, std::unique_ptr<Bf16Matmul>>;  // kept for the process
  std::lock_guard<std::mutex> lock(mutex);
  if (cache == nullptr) return nullptr;
  try {
    std::unique_ptr<Bf16Matmul>& entry = (*cache)[Key{m, n, k, ldc}];
    if (entry == nullptr) {
      Impl* impl = create(m, n, k, ldc, nullptr);
      if (impl == nullptr) {
        cache->erase(Key{m, n, k, ldc});
        return nullptr;
      }
      entry = std::make_unique<Bf16Matmul>(impl, impl->scratch_size > 0 ? impl->scratch_size + kScratchAlignment : 0);
    }
    return entry.get();
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

bool Bf16Matmul::run(const bf16_t* a, const bf16_t* b, float* c, void* scratch) const noexcept {
  dnnl_stream_t stream = thread_stream();
  if (stream == nullptr) return false;
  dnnl_memory_t memory[4] = {nullptr, nullptr, nullptr, nullptr};
  const auto wrap = [&](dnnl_memory_t& mem, const dnnl_memory_desc_t& md, const void* data) {
    return dnnl_memory_create(&mem, &md, cpu_engine(), const_cast<void*>(data)) == dnnl_success;
  };
  const auto aligned = (reinterpret_cast<uintptr_t>(scratch) + kScratchAlignment - 1) & ~(kScratchAlignment - 1);
  bool ok = wrap(memory[0], impl_->a, a) && wrap(memory[1], impl_->b, b) && wrap(memory[2], impl_->c, c) &&
            (impl_->scratch_size == 0 || wrap(memory[3], impl_->scratch, reinterpret_cast<void*>(aligned)));
  if (ok) {
    const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, memory[0]},
                                    {DNNL_ARG_WEIGHTS, memory[1]},
                                    {DNNL_ARG_DST, memory[2]},
                                    {DNNL_ARG_SCRATCHPAD, memory[3]}};
    const int count = impl_->scratch_size == 0 ? 3 : 4;
    ok = dnnl_primitive_execute(impl_->primitive, stream, count, args) == dnnl_success &&
         dnnl_stream_wait(stream) == dnnl_success;
  }
  for (dnnl_memory_t mem : memory) {
    if (mem != nullptr) dnnl_memory_destroy(mem);
  }
  return ok;
}

const char* onednn_bf16_implementation() noexcept {
  // A probe at a prefill-like shape, kept for the process with its
  // descriptor, which owns the name.
  static dnnl_primitive_desc_t descriptor = nullptr;
  static const Bf16Matmul::Impl* const probe = native_bf16() ? create(128, 64, 2880, 64, &descriptor) : nullptr;
  const char* name = nullptr;
  if (probe == nullptr || dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name) != dnnl_success) {
    return nullptr;
  }
  return name;
}

}  // namespace ossrt
