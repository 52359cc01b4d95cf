#pragma once
/// @file cuda_timing.hpp
/// @brief Timing marks on a CUDA stream of pinpool (builds with PINPOOL_CUDA=ON only): CUDA
/// events with timing enabled, recorded between the work of the stream and read with
/// cudaEventElapsedTime. Recording a mark neither idles the stream nor involves a host thread
/// (a host function would do both). Used by the sample pipeline's per-step timing.

#ifndef PINPOOL_KERNELS_HAS_CUDA
#error "pinpool/kernels/cuda_timing.hpp needs pinpool::kernels built with PINPOOL_CUDA=ON"
#endif

#include <pinpool/stream.hpp>

#include <cstddef>
#include <optional>
#include <vector>

namespace pinpool::kernels {

/// @brief A fixed number of timing marks on one device, reusable: record mark 0, 1, ... on a
/// stream, then, once the stream has passed them, read the time between two of them. Not
/// thread-safe (one user at a time).
class cuda_marks {
 public:
  /// @brief Creates `count` timing events on `device` (cudaEventCreate: timing enabled).
  /// @throws std::invalid_argument when `count` is 0; pinpool::cuda_error when the runtime fails.
  cuda_marks(int device, std::size_t count);
  /// @brief Destroys the events (pending records are allowed). Never throws.
  ~cuda_marks();
  cuda_marks(const cuda_marks&) = delete;
  cuda_marks& operator=(const cuda_marks&) = delete;

  std::size_t size() const noexcept { return events_.size(); }
  int device() const noexcept { return device_; }

  /// @brief Records mark `i` on `s`, after the work enqueued there so far (cudaEventRecord).
  /// @throws std::invalid_argument when `i` >= size(), `s` is not a stream of a CUDA backend or
  /// not of this device; pinpool::cuda_error when the runtime fails.
  void record(std::size_t i, stream_ref s);

  /// @brief Milliseconds between marks `from` and `to` (cudaEventElapsedTime; resolution about
  /// half a microsecond). @pre both were recorded and the stream has passed them.
  /// @throws std::invalid_argument for an index out of range; pinpool::cuda_error otherwise (e.g.
  /// cudaErrorNotReady for a mark not passed yet, or the context's error after a fault).
  float elapsed_ms(std::size_t from, std::size_t to) const;

  /// @brief How many of marks 0 .. `recorded` - 1 the device has passed, counting in order up
  /// to the first one not passed. Never blocks or throws. Empty when it cannot tell: the calling
  /// thread has an unchecked error (which is left for its owner), or the query failed (a faulted
  /// context reports its error for every event).
  std::optional<std::size_t> passed(std::size_t recorded) const noexcept;

 private:
  int device_;
  std::vector<void*> events_;  // cudaEvent_t
};

}  // namespace pinpool::kernels
