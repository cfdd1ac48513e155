// The CUDA backend's entry points for the registry (plain C++: no CUDA
// headers, so that registry.cpp compiles with the host compiler).
#pragma once

#include <cstddef>

#include "backend/backend.h"

namespace ossrt {

// Creates a backend instance on `device`: its own stream, and the weights it
// is given. Returns false with a static message if there is no such device,
// no driver, or this build has no machine code (or PTX) the GPU can run.
bool create_cuda_backend(int device, Backend& out, const char** error_message) noexcept;

// The GPUs the CUDA runtime sees (none without a driver).
size_t list_cuda_devices(BackendDevice* devices, size_t capacity) noexcept;

}  // namespace ossrt
