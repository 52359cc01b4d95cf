#pragma once
// Host-side helpers of the CUDA launchers and timing marks (builds with PINPOOL_CUDA only):
// the current device for a scope, and the cudaStream_t of a pinpool stream.

#include "cuda_check.hpp"  // PINPOOL_CUDA_TRY, from the library's src/

#include <pinpool/backend.hpp>

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace pinpool::kernels::detail {

/// Makes `device` current for the scope, restoring the previous one.
class device_scope {
 public:
  explicit device_scope(int device) {
    PINPOOL_CUDA_TRY(cudaGetDevice(&previous_));
    if (previous_ != device) PINPOOL_CUDA_TRY(cudaSetDevice(device));
  }
  ~device_scope() {
    int current = previous_;
    if (cudaGetDevice(&current) == cudaSuccess && current != previous_) {
      PINPOOL_CUDA_TRY_NOTHROW(cudaSetDevice(previous_));
    }
  }
  device_scope(const device_scope&) = delete;
  device_scope& operator=(const device_scope&) = delete;

 private:
  int previous_ = 0;
};

/// The cudaStream_t behind `s`.
/// @throws std::invalid_argument naming `who` when `s` is not a stream of a CUDA backend.
inline cudaStream_t cuda_stream_of(const char* who, const stream_ref& s) {
  if (s.get_backend().kind() != backend_kind::cuda) {
    throw std::invalid_argument(std::string("pinpool::kernels::") + who + ": stream of the " +
                                s.get_backend().name() + " backend (needs a CUDA stream)");
  }
  return static_cast<cudaStream_t>(s.native_handle());
}

}  // namespace pinpool::kernels::detail
