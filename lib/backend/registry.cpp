// Backend lookup by name and the fallback of missing kernel entries.
#include <cstdlib>
#include <cstring>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "util/errors.h"
#if defined(OSSRT_HAVE_CUDA)
#include "backend/cuda/cuda_backend.h"
#endif

namespace ossrt {

namespace {

template <class Entry>
void fill(Entry& entry, Entry fallback) {
  if (entry == nullptr) entry = fallback;
}

}  // namespace

bool resolve_cuda_backend(const char* name, Backend& out, const char** error_message) noexcept;

bool resolve_backend(const char* name, Backend& out, const char** error_message) noexcept {
  const Backend* found = nullptr;
  // "cpu" is the best level this CPU runs (OSSRT_CPU_ISA may lower it);
  // "cpu-<level>" asks for one level, refused if the CPU lacks it.
  if (name == nullptr || std::strcmp(name, "cpu") == 0) {
    // A misspelt OSSRT_CPU_ISA would otherwise run another level than asked.
    if (const char* error = cpu_isa_variable_error()) {
      *error_message = error;
      return false;
    }
    found = &cpu_backend(default_cpu_isa());
  } else if (std::strcmp(name, "cpu-reference") == 0 || std::strcmp(name, "cpu-scalar") == 0) {
    found = &cpu_reference_backend();
  } else if (std::strcmp(name, "cuda") == 0 || std::strncmp(name, "cuda:", 5) == 0) {
    return resolve_cuda_backend(name, out, error_message);
  } else if (std::strncmp(name, "cpu-", 4) == 0) {
    const std::optional<CpuIsa> isa = cpu_isa_from_name(name + 4);
    if (isa && *isa > best_cpu_isa()) {
      *error_message = "this CPU (or build) does not support that instruction set";
      return false;
    }
    if (isa) found = &cpu_backend(*isa);
  }
  if (found == nullptr) {
    *error_message = "unknown backend (this build has: cpu, cpu-avx2, cpu-avx512, cpu-reference, cuda, cuda:N)";
    return false;
  }
  if (found->api_version != kBackendApiVersion || found->struct_size != sizeof(Backend)) {
    *error_message = "backend table was built against a different backend API version";
    return false;
  }
  out = *found;
  if (out.host_memory) {
    const Backend& ref = cpu_reference_backend();
    fill(out.embedding_bf16_f32, ref.embedding_bf16_f32);
    fill(out.rmsnorm_f32_bf16w, ref.rmsnorm_f32_bf16w);
    fill(out.matmul_f32_bf16w, ref.matmul_f32_bf16w);
    fill(out.rope_f32, ref.rope_f32);
    fill(out.kv_store_f32, ref.kv_store_f32);
    fill(out.attention_f32, ref.attention_f32);
    fill(out.router_topk_f32, ref.router_topk_f32);
    fill(out.moe_mxfp4_f32, ref.moe_mxfp4_f32);
    fill(out.embedding_q8_0_f32, ref.embedding_q8_0_f32);
    fill(out.matmul_f32_q8_0w, ref.matmul_f32_q8_0w);
  }
  return true;
}

// A device table is complete by construction: an empty entry is refused,
// never filled from the host reference (which would read device pointers).
bool resolve_cuda_backend(const char* name, Backend& out, const char** error_message) noexcept {
#if defined(OSSRT_HAVE_CUDA)
  int device = 0;
  if (name[4] == ':') {
    char* end = nullptr;
    const long parsed = std::strtol(name + 5, &end, 10);
    if (end == name + 5 || *end != '\0' || parsed < 0 || parsed > 1024) {
      *error_message = "cuda:N needs a device number, e.g. cuda:0";
      return false;
    }
    device = static_cast<int>(parsed);
  }
  Backend table{};
  if (!create_cuda_backend(device, table, error_message)) return false;
  const bool complete = table.api_version == kBackendApiVersion && table.struct_size == sizeof(Backend) &&
                        table.embedding_bf16_f32 && table.rmsnorm_f32_bf16w && table.matmul_f32_bf16w &&
                        table.rope_f32 && table.kv_store_f32 && table.attention_f32 && table.router_topk_f32 &&
                        table.moe_mxfp4_f32 && table.embedding_q8_0_f32 && table.matmul_f32_q8_0w &&
                        table.synchronize && table.destroy &&
                        (table.begin_step == nullptr) == (table.end_step == nullptr);
  if (!complete) {
    release_backend(table);
    *error_message = "the cuda backend table is incomplete or of another version";
    return false;
  }
  out = table;
  return true;
#else
  static_cast<void>(name);
  static_cast<void>(out);
  *error_message =
      "this build has no CUDA backend (configure with -DOSSRT_CUDA=ON where the CUDA toolkit is installed)";
  return false;
#endif
}

bool names_device_backend(const char* name) noexcept {
  return name != nullptr && std::strncmp(name, "cuda", 4) == 0;
}

Status resolve_backend_status(const char* name, Backend& out) noexcept {
  const char* message = "";
  if (resolve_backend(name, out, &message)) return Status::success();
  return error(names_device_backend(name) ? StatusCode::device_error : StatusCode::invalid_argument, "backend '%s': %s",
               name != nullptr ? name : "(null)", message);
}

void release_backend(Backend& backend) noexcept {
  if (backend.destroy != nullptr) backend.destroy(backend.self);
  backend = Backend{};
}

size_t list_backend_devices(BackendDevice* devices, size_t capacity) noexcept {
#if defined(OSSRT_HAVE_CUDA)
  return list_cuda_devices(devices, capacity);
#else
  static_cast<void>(devices);
  static_cast<void>(capacity);
  return 0;
#endif
}

}  // namespace ossrt
