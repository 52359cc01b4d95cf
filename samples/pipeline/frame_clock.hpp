#pragma once
// Per-step timing of a frame on its stream, as the stream runs it. On a CUDA stream: timing
// events (pinpool/kernels/cuda_timing.hpp), which neither idle the stream nor wait for the
// runtime's callback thread. On a CPU stream: host functions reading the host clock (and
// marking the steps as NVTX ranges on the stream's thread). Made by
// `stage_launcher::make_clock`, which picks the one that matches its launchers.

#include <pinpool/stream.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace pinpool::pipeline {

/// @brief Times the steps of one frame at a time on one stream: a mark between consecutive
/// steps (and one before the first, one after the last), enqueued on the stream. Reused frame
/// after frame; the pipeline has at most one frame in flight per stream. Not thread-safe.
class frame_clock {
 public:
  virtual ~frame_clock() = default;

  /// @brief Starts a frame: forgets the marks of the previous one. @pre the stream has passed
  /// every mark of the previous frame (or the frame was abandoned after a stream failure).
  virtual void begin_frame() = 0;
  /// @brief Enqueues the next mark: the end of the step under way (if any) and the start of
  /// `next_step` (nullptr after the last step; a string that outlives the frame). Never blocks.
  /// @throws std::logic_error past the capacity given to make_clock; the backend's errors.
  virtual void mark(const char* next_step) = 0;
  /// @brief The marks enqueued for this frame so far.
  virtual std::size_t marks() const noexcept = 0;
  /// @brief Seconds between consecutive marks (marks() - 1 values, step by step).
  /// @pre the stream has passed every mark (e.g. after a synchronize).
  /// @throws the backend's errors (CUDA: a faulted context).
  virtual std::vector<double> step_seconds() const = 0;
  /// @brief How many of this frame's marks the stream is known to have passed, counted in
  /// order; empty when it cannot tell (CUDA: after a fault). For failure reports: never blocks,
  /// never throws.
  virtual std::optional<std::size_t> marks_passed() const noexcept = 0;
};

/// @brief Host functions on `s` stamping the host clock (for CPU streams).
std::unique_ptr<frame_clock> make_host_function_clock(stream_ref s, std::size_t capacity);

/// @brief Timing events on `s` (for CUDA streams).
/// @throws std::invalid_argument in builds without CUDA; pinpool::cuda_error when the runtime
/// cannot create the events.
std::unique_ptr<frame_clock> make_cuda_event_clock(stream_ref s, std::size_t capacity);

}  // namespace pinpool::pipeline
