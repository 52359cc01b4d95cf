// Timing marks on a CUDA stream: events with timing enabled (cudaEventCreate), recorded on the
// stream and compared with cudaEventElapsedTime. Host code only (no kernel).

#include "cuda_support.hpp"

#include <pinpool/kernels/cuda_timing.hpp>

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace pinpool::kernels {
namespace {

cudaEvent_t as_event(void* e) {
  return static_cast<cudaEvent_t>(e);
}

void check_index(const char* who, std::size_t i, std::size_t size) {
  if (i >= size) {
    throw std::invalid_argument(std::string("pinpool::kernels::cuda_marks::") + who + ": mark " +
                                std::to_string(i) + " out of range (" + std::to_string(size) +
                                " marks)");
  }
}

}  // namespace

cuda_marks::cuda_marks(int device, std::size_t count) : device_(device) {
  if (count == 0) throw std::invalid_argument("pinpool::kernels::cuda_marks: count is 0");
  const detail::device_scope on(device);
  events_.reserve(count);
  try {
    for (std::size_t i = 0; i < count; ++i) {
      cudaEvent_t e = nullptr;
      PINPOOL_CUDA_TRY(cudaEventCreate(&e));  // timing enabled (cudaEventDefault)
      events_.push_back(e);
    }
  } catch (...) {
    for (void* e : events_) PINPOOL_CUDA_TRY_NOTHROW(cudaEventDestroy(as_event(e)));
    throw;
  }
}

cuda_marks::~cuda_marks() {
  for (void* e : events_) PINPOOL_CUDA_TRY_NOTHROW(cudaEventDestroy(as_event(e)));
}

void cuda_marks::record(std::size_t i, stream_ref s) {
  check_index("record", i, events_.size());
  const cudaStream_t stream = detail::cuda_stream_of("cuda_marks::record", s);
  if (s.device() != device_) {
    throw std::invalid_argument("pinpool::kernels::cuda_marks::record: marks of device " +
                                std::to_string(device_) + ", stream of device " +
                                std::to_string(s.device()));
  }
  const detail::device_scope on(device_);
  PINPOOL_CUDA_TRY(cudaEventRecord(as_event(events_[i]), stream));
}

float cuda_marks::elapsed_ms(std::size_t from, std::size_t to) const {
  check_index("elapsed_ms", from, events_.size());
  check_index("elapsed_ms", to, events_.size());
  float ms = 0.0f;
  PINPOOL_CUDA_TRY(cudaEventElapsedTime(&ms, as_event(events_[from]), as_event(events_[to])));
  return ms;
}

std::optional<std::size_t> cuda_marks::passed(std::size_t recorded) const noexcept {
  // A not-ready answer is not the thread's last error (CUDA 13): asking leaves an unchecked
  // error of the application's alone.
  const std::size_t n = recorded < events_.size() ? recorded : events_.size();
  for (std::size_t i = 0; i < n; ++i) {
    const cudaError_t status = cudaEventQuery(as_event(events_[i]));
    if (status == cudaSuccess) continue;
    if (status == cudaErrorNotReady) return i;
    pinpool::detail::clear_if_last(status);
    return std::nullopt;  // a faulted context: every query reports its error
  }
  return n;
}

}  // namespace pinpool::kernels
