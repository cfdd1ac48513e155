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

void Context::check_recorded_launch() {
  const cudaError_t status = cudaGetLastError();
  switch (status) {
    case cudaErrorStreamCaptureUnsupported:
    case cudaErrorStreamCaptureInvalidated:
    case cudaErrorStreamCaptureMerge:
    case cudaErrorStreamCaptureUnmatched:
    case cudaErrorStreamCaptureUnjoined:
    case cudaErrorStreamCaptureIsolation:
    case cudaErrorStreamCaptureImplicit:
    case cudaErrorCapturedEvent:
    case cudaErrorStreamCaptureWrongThread:
      return;
    default:
      check(status);
  }
}

namespace {

void* alloc(void* self, size_t bytes) {
  Context& c = context_of(self);
  const std::lock_guard<std::recursive_mutex> step(c.step_mutex);  // never inside another thread's bracket
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
  const std::lock_guard<std::recursive_mutex> step(c.step_mutex);  // never inside another thread's bracket
  c.enter();
  // Kernels queued on the buffer finish first (cudaFree waits for the device).
  c.check(cudaFree(ptr));
}

void upload(void* self, void* dst, const void* host_src, size_t bytes) {
  Context& c = context_of(self);
  const std::lock_guard<std::recursive_mutex> step(c.step_mutex);  // never inside another thread's bracket
  c.enter();
  // From pageable memory the call returns once the source is staged, so the
  // caller may reuse host_src at once.
  c.check(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, c.stream));
}

void download(void* self, void* host_dst, const void* src, size_t bytes) {
  Context& c = context_of(self);
  const std::lock_guard<std::recursive_mutex> step(c.step_mutex);  // never inside another thread's bracket
  c.enter();
  c.check(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, c.stream));
  c.check(cudaStreamSynchronize(c.stream));
}

void copy(void* self, void* dst, const void* src, size_t bytes) {
  Context& c = context_of(self);
  const std::lock_guard<std::recursive_mutex> step(c.step_mutex);  // never inside another thread's bracket
  c.enter();
  c.check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c.stream));
}

// Weights are uploaded once and live as long as the instance.
const void* prepare_weights(void* self, const void* host, size_t bytes) {
  Context& c = context_of(self);
  const std::lock_guard<std::recursive_mutex> step(c.step_mutex);  // never inside another thread's bracket
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
  const std::lock_guard<std::recursive_mutex> step(c.step_mutex);  // never inside another thread's bracket
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
  for (const Context::Recording& r : c->recordings) cudaGraphExecDestroy(r.exec);
  for (void* weights : c->placed_weights) cudaFree(weights);
  cudaFree(c->step_position);
  cudaStreamDestroy(c->stream);
  delete c;
}

__global__ void set_position_kernel(int64_t* target, int64_t value) {
  *target = value;
}

Context::Recording* find_recording(Context& c, uint64_t key) {
  for (Context::Recording& r : c.recordings)
    if (r.key == key) return &r;
  return nullptr;
}

void forget_recording(Context& c, uint64_t key) {
  for (size_t i = 0; i < c.recordings.size(); ++i) {
    if (c.recordings[i].key != key) continue;
    cudaGraphExecDestroy(c.recordings[i].exec);
    c.recordings.erase(c.recordings.begin() + static_cast<std::ptrdiff_t>(i));
    return;
  }
}

// Keeps a new recording (launched already), dropping the least recently
// used beyond a few (decode needs one per session workspace). Without host
// memory to keep it, it is destroyed (after its launch completes) and the
// next step under the key records afresh.
void keep_recording(Context& c, uint64_t key, uint64_t signature, cudaGraphExec_t exec) {
  constexpr size_t kMaxRecordings = 16;
  if (c.recordings.size() >= kMaxRecordings) {
    auto oldest = c.recordings.begin();
    for (auto it = c.recordings.begin(); it != c.recordings.end(); ++it)
      if (it->last_use < oldest->last_use) oldest = it;
    forget_recording(c, oldest->key);
  }
  try {
    c.recordings.push_back({key, signature, ++c.use_clock, exec});
  } catch (...) {
    cudaGraphExecDestroy(exec);
  }
}

// The bracket's launches one by one (no usable recording).
void run_step_calls(Context& c) {
  for (const std::function<void()>& launch : c.step_calls) {
    launch();
    c.check_launch();
  }
}

}  // namespace

void begin_step(void* self, uint64_t key, size_t position) {
  Context& c = context_of(self);
  c.step_mutex.lock();  // until end_step
  c.enter();
  // Outside the recording: every replay of it reads this step's position.
  set_position_kernel<<<1, 1, 0, c.stream>>>(c.step_position, static_cast<int64_t>(position));
  c.check_launch();
  c.step_key = key;
  c.step_signature = 0;
  c.step_calls.clear();
  if (find_recording(c, key) != nullptr) {
    c.mode = StepMode::replaying;
  } else if (cudaStreamBeginCapture(c.stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess) {
    c.mode = StepMode::recording;
  } else {
    cudaGetLastError();
    c.mode = StepMode::replaying;  // no recording: its calls run one by one at the end
  }
}

void end_step(void* self, bool run) {
  Context& c = context_of(self);
  c.enter();
  const StepMode was = c.mode;
  c.mode = StepMode::eager;
  cudaGraph_t graph = nullptr;
  if (was == StepMode::recording && cudaStreamEndCapture(c.stream, &graph) != cudaSuccess) {
    cudaGetLastError();  // the recording broke: the calls run one by one
    graph = nullptr;
  }
  if (run) {
    Context::Recording* recording = find_recording(c, c.step_key);
    cudaGraphExec_t exec = nullptr;
    if (graph != nullptr && cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess) {
      c.check(cudaGraphLaunch(exec, c.stream));
      keep_recording(c, c.step_key, c.step_signature, exec);
    } else if (graph == nullptr && recording != nullptr && recording->signature == c.step_signature) {
      recording->last_use = ++c.use_clock;
      c.check(cudaGraphLaunch(recording->exec, c.stream));
    } else {
      cudaGetLastError();
      // Another call sequence under this key: record it afresh next time.
      if (recording != nullptr) forget_recording(c, c.step_key);
      run_step_calls(c);
    }
  }
  if (graph != nullptr) cudaGraphDestroy(graph);
  c.step_calls.clear();
  c.step_mutex.unlock();
}

namespace {

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
  // Stream-ordered scratch (the experts' Q15 inputs) is freed and allocated
  // again every call: the pool keeps its memory instead of returning it to
  // the device at each synchronization (which made a decode MoE call cost
  // ~0.2 ms on an H200).
  cudaMemPool_t pool = nullptr;
  if (cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
    uint64_t keep = UINT64_MAX;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
  }
  cudaGetLastError();
  if (cudaMalloc(&context->step_position, sizeof(int64_t)) != cudaSuccess) {
    cudaGetLastError();
    cudaStreamDestroy(context->stream);
    delete context;
    *error_message = "out of device memory";
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
  out.embedding_q8_0_f32 = cuda::embedding_q8_0_f32;
  out.matmul_f32_q8_0w = cuda::matmul_f32_q8_0w;
  out.destroy = cuda::destroy;
  out.synchronize = cuda::synchronize;
  out.begin_step = cuda::begin_step;
  out.end_step = cuda::end_step;
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
