// The CUDA backend's table: memory on the device, every kernel entry in
// device code (the other .cu files of this folder), one stream per instance.
// Calls return once queued; synchronize waits and reports a failure.
#include <cstdio>
#include <cstring>
#include <new>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_context.cuh"

namespace ossrt {

namespace cuda {

void Context::check(cudaError_t status) {
  if (status == cudaSuccess) return;
  std::lock_guard<std::mutex> lock(mutex);
  if (failure == cudaSuccess) failure = status;
}

namespace {

void* alloc(void* self, size_t bytes) {
  Context& c = context_of(self);
  c.enter();
  void* ptr = nullptr;
  // An allocation failure is the caller's out_of_memory, not a device failure.
  if (cudaMalloc(&ptr, bytes == 0 ? 1 : bytes) != cudaSuccess) {
    cudaGetLastError();  // clear it: it is not sticky
    return nullptr;
  }
  c.check(cudaMemsetAsync(ptr, 0, bytes, c.stream));
  return ptr;
}

void release(void* self, void* ptr, size_t) {
  if (ptr == nullptr) return;
  Context& c = context_of(self);
  c.enter();
  // Kernels queued on the buffer finish first (cudaFree waits for the device).
  c.check(cudaFree(ptr));
}

void upload(void* self, void* dst, const void* host_src, size_t bytes) {
  Context& c = context_of(self);
  c.enter();
  // From pageable memory the call returns once the source is staged, so the
  // caller may reuse host_src at once.
  c.check(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, c.stream));
}

void download(void* self, void* host_dst, const void* src, size_t bytes) {
  Context& c = context_of(self);
  c.enter();
  c.check(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, c.stream));
  c.check(cudaStreamSynchronize(c.stream));
}

void copy(void* self, void* dst, const void* src, size_t bytes) {
  Context& c = context_of(self);
  c.enter();
  c.check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c.stream));
}

// Weights are uploaded once and live as long as the instance.
const void* prepare_weights(void* self, const void* host, size_t bytes) {
  Context& c = context_of(self);
  c.enter();
  void* device = nullptr;
  if (cudaMalloc(&device, bytes == 0 ? 1 : bytes) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  // On the instance's stream and waited for: a plain cudaMemcpy from pageable
  // memory may return before the data has landed, and the kernels' stream
  // does not wait for the legacy default stream.
  if (cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, c.stream) != cudaSuccess ||
      cudaStreamSynchronize(c.stream) != cudaSuccess) {
    cudaGetLastError();
    cudaFree(device);
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  try {
    c.placed_weights.push_back(device);
  } catch (const std::bad_alloc&) {
    cudaFree(device);
    return nullptr;
  }
  return device;
}

bool synchronize(void* self, const char** error) {
  Context& c = context_of(self);
  c.enter();
  c.check(cudaStreamSynchronize(c.stream));
  c.check_launch();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (c.failure == cudaSuccess) return true;
  *error = cudaGetErrorString(c.failure);
  return false;
}

void destroy(void* self) {
  auto* c = static_cast<Context*>(self);
  if (c == nullptr) return;
  c->enter();
  cudaStreamSynchronize(c->stream);
  for (void* weights : c->placed_weights) cudaFree(weights);
  cudaStreamDestroy(c->stream);
  delete c;
}

// A trivial kernel whose presence tells whether this build holds code the
// device can run.
__global__ void probe_kernel() {}

}  // namespace

}  // namespace cuda

bool create_cuda_backend(int device, Backend& out, const char** error_message) noexcept {
  int count = 0, driver = 0;
  if (const cudaError_t status = cudaGetDeviceCount(&count); status != cudaSuccess) {
    cudaGetLastError();
    // The runtime says "insufficient driver" also where there is none at all.
    const bool old_driver =
        status == cudaErrorInsufficientDriver && cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0;
    *error_message = old_driver ? "the NVIDIA driver is older than this build's CUDA runtime"
                                : "no CUDA device is available (no NVIDIA driver or GPU found)";
    return false;
  }
  if (count == 0) {
    *error_message = "no CUDA device is available (no NVIDIA driver or GPU found)";
    return false;
  }
  if (device >= count) {
    *error_message = "no CUDA device with that number (see `ossrt info` for the devices present)";
    return false;
  }
  if (cudaSetDevice(device) != cudaSuccess) {
    cudaGetLastError();
    *error_message = "the CUDA device could not be opened";
    return false;
  }
  cudaFuncAttributes attributes{};
  if (cudaFuncGetAttributes(&attributes, cuda::probe_kernel) != cudaSuccess) {
    cudaGetLastError();
    *error_message =
        "this GPU's architecture is not among those this build was compiled for "
        "(rebuild with CMAKE_CUDA_ARCHITECTURES naming it)";
    return false;
  }
  auto* context = new (std::nothrow) cuda::Context;
  if (context == nullptr) {
    *error_message = "out of host memory";
    return false;
  }
  context->device = device;
  if (cudaStreamCreateWithFlags(&context->stream, cudaStreamNonBlocking) != cudaSuccess) {
    cudaGetLastError();
    delete context;
    *error_message = "could not create a CUDA stream";
    return false;
  }
  out = Backend{};
  out.struct_size = sizeof(Backend);
  out.api_version = kBackendApiVersion;
  out.name = "cuda";
  out.self = context;
  out.host_memory = false;
  out.alloc = cuda::alloc;
  out.release = cuda::release;
  out.upload = cuda::upload;
  out.download = cuda::download;
  out.copy = cuda::copy;
  out.prepare_weights = cuda::prepare_weights;
  out.embedding_bf16_f32 = cuda::embedding_bf16_f32;
  out.rmsnorm_f32_bf16w = cuda::rmsnorm_f32_bf16w;
  out.matmul_f32_bf16w = cuda::matmul_f32_bf16w;
  out.rope_f32 = cuda::rope_f32;
  out.kv_store_f32 = cuda::kv_store_f32;
  out.attention_f32 = cuda::attention_f32;
  out.router_topk_f32 = cuda::router_topk_f32;
  out.moe_mxfp4_f32 = cuda::moe_mxfp4_f32;
  out.destroy = cuda::destroy;
  out.synchronize = cuda::synchronize;
  return true;
}

size_t list_cuda_devices(BackendDevice* devices, size_t capacity) noexcept {
  int count = 0, current = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || cudaGetDevice(&current) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  for (int d = 0; d < count && static_cast<size_t>(d) < capacity; ++d) {
    BackendDevice& out = devices[d];
    out = BackendDevice{};
    std::snprintf(out.name, sizeof out.name, "cuda:%d", d);
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, d) != cudaSuccess) {
      cudaGetLastError();
      std::snprintf(out.description, sizeof out.description, "(properties unavailable)");
      continue;
    }
    // The name is cut to leave room for the capability.
    std::snprintf(out.description, sizeof out.description, "%.96s, compute capability %d.%d", properties.name,
                  properties.major, properties.minor);
    out.memory_bytes = properties.totalGlobalMem;
    size_t free_bytes = 0, total = 0;
    if (cudaSetDevice(d) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total) == cudaSuccess) {
      out.free_bytes = free_bytes;
    } else {
      cudaGetLastError();
    }
  }
  cudaSetDevice(current);  // the caller's current device, as it was
  return static_cast<size_t>(count);
}

}  // namespace ossrt
