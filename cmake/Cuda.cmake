# The CUDA toolkit is optional: AUTO turns the backend on only when nvcc is found.
set(OSSRT_HAVE_CUDA OFF)
if(NOT OSSRT_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(OSSRT_HAVE_CUDA ON)
  elseif(OSSRT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "OSSRT_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
if(OSSRT_HAVE_CUDA)
  # Machine code for Ampere (A100, RTX 30), Ada (RTX 40), Hopper (H100/H200)
  # and Blackwell (RTX 50), plus PTX of the newest for later GPUs.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80-real 86-real 89-real 90-real 120)
  endif()
  set(CMAKE_CUDA_STANDARD 17)
  # The runtime is linked explicitly (CUDA::cudart_static in lib/), not as an
  # implicit library that a C++ link line could not find.
  set(CMAKE_CUDA_RUNTIME_LIBRARY None)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  enable_language(CUDA)
  # Imported targets name /usr/include as a system directory; passed to nvcc it
  # breaks libstdc++'s #include_next <math.h>. It is searched anyway.
  list(APPEND CMAKE_CUDA_IMPLICIT_INCLUDE_DIRECTORIES /usr/include)
  find_package(CUDAToolkit REQUIRED)
endif()
message(STATUS "ossrt: CUDA backend: ${OSSRT_HAVE_CUDA} ${CMAKE_CUDA_ARCHITECTURES}")
