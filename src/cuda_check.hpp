#pragma once
// Checking of CUDA runtime calls (internal; compiled by the host compiler, no nvcc needed).
//
//   PINPOOL_CUDA_TRY(cudaMalloc(&p, n));           // throws pinpool::cuda_error on failure
//   PINPOOL_CUDA_TRY_NOTHROW(cudaFree(p));         // destructors: reports on stderr, continues
//
// After a failure both clear the runtime's last error only when it is the error being handled
// (cudaPeekAtLastError() == status), so a later check does not see it again while an unrelated
// error the application has not checked yet stays for the application to find. Sticky errors
// (e.g. cudaErrorIllegalAddress) cannot be cleared: every later call reports them.

#include <pinpool/error.hpp>
#include <pinpool/log.hpp>

#include <cuda_runtime_api.h>

#include <cstdio>

namespace pinpool::detail {

/// @brief Clears the calling thread's last error if it is `status` (the error just handled).
inline void clear_if_last(cudaError_t status) noexcept {
  if (cudaPeekAtLastError() == status) static_cast<void>(cudaGetLastError());
}

/// @brief Clears the last error (if it is `status`) and throws cuda_error for `status` (which must
/// be a failure).
[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                          int line) {
  clear_if_last(status);
  throw cuda_error(static_cast<int>(status), cudaGetErrorName(status), cudaGetErrorString(status),
                   call, file, line);
}

/// @brief Reports a failed call on stderr (one line) and clears the last error; silent for
/// cudaErrorCudartUnloading (the runtime is shutting down at process exit).
/// @return true when `status` is cudaSuccess.
inline bool report_cuda_error(cudaError_t status, const char* call, const char* file,
                              int line) noexcept {
  if (status == cudaSuccess) return true;
  clear_if_last(status);
  if (status != cudaErrorCudartUnloading) {
    ::pinpool::detail::log_message("pinpool: %s failed: %s: %s (%s:%d)", call,
                                   cudaGetErrorName(status), cudaGetErrorString(status), file,
                                   line);
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
