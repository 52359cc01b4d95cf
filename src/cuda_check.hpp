#pragma once
// Checking of CUDA runtime calls (internal; compiled by the host compiler, no nvcc needed).
//
//   PINPOOL_CUDA_TRY(cudaMalloc(&p, n));           // throws pinpool::cuda_error on failure
//   PINPOOL_CUDA_TRY_NOTHROW(cudaFree(p));         // destructors: reports on stderr, continues
//
// Both clear the runtime's last error (cudaGetLastError) after a failure, so a later check does
// not see it again. Sticky errors (e.g. cudaErrorIllegalAddress) cannot be cleared: every later
// call reports them, as the runtime does.

#include <pinpool/error.hpp>

#include <cuda_runtime_api.h>

#include <cstdio>

namespace pinpool::detail {

/// @brief Clears the last error and throws cuda_error for `status` (which must be a failure).
[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                          int line) {
  cudaGetLastError();
  throw cuda_error(static_cast<int>(status), cudaGetErrorName(status), cudaGetErrorString(status),
                   call, file, line);
}

/// @brief Reports a failed call on stderr (one line) and clears the last error; silent for
/// cudaErrorCudartUnloading (the runtime is shutting down at process exit).
/// @return true when `status` is cudaSuccess.
inline bool report_cuda_error(cudaError_t status, const char* call, const char* file,
                              int line) noexcept {
  if (status == cudaSuccess) return true;
  cudaGetLastError();
  if (status != cudaErrorCudartUnloading) {
    std::fprintf(stderr, "pinpool: %s failed: %s: %s (%s:%d)\n", call, cudaGetErrorName(status),
                 cudaGetErrorString(status), file, line);
  }
  return false;
}

}  // namespace pinpool::detail

/// Evaluates `call` (a CUDA runtime call); on failure clears the last error and throws
/// pinpool::cuda_error carrying the code, its name and message, the call text and file:line.
#define PINPOOL_CUDA_TRY(call)                                                         \
  do {                                                                                 \
    const cudaError_t pinpool_status_ = (call);                                        \
    if (pinpool_status_ != cudaSuccess) {                                              \
      ::pinpool::detail::throw_cuda_error(pinpool_status_, #call, __FILE__, __LINE__); \
    }                                                                                  \
  } while (false)

/// As PINPOOL_CUDA_TRY, but never throws (for destructors and noexcept paths): prints one line
/// to stderr and continues. Evaluates to true when the call succeeded.
#define PINPOOL_CUDA_TRY_NOTHROW(call) \
  ::pinpool::detail::report_cuda_error((call), #call, __FILE__, __LINE__)
