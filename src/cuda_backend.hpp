#pragma once
// The CUDA backend (internal): streams are cudaStream_t, events cudaEvent_t, slabs come from
// cudaMalloc / cudaHostAlloc / mmap. Host C++ over <cuda_runtime_api.h>; no nvcc.

#include <pinpool/backend.hpp>

#include <memory>
#include <string>

namespace pinpool::detail {

/// @brief Makes a CUDA backend over every device the runtime reports.
/// @throws cuda_error when no device is usable (the runtime's code, name and message).
std::shared_ptr<backend> make_cuda_backend();

/// @brief "" when at least one CUDA device is usable, else a one-line reason from the runtime,
/// e.g. "cudaGetDeviceCount: cudaErrorNoDevice: no CUDA-capable device is detected".
/// @note Does not throw for runtime failures; clears the runtime's last error.
std::string cuda_unusable_reason();

}  // namespace pinpool::detail
