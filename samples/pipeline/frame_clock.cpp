#include "frame_clock.hpp"

#include <pinpool/detail/nvtx.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#ifdef PINPOOL_KERNELS_HAS_CUDA
#include <pinpool/kernels/cuda_timing.hpp>
#endif

namespace pinpool::pipeline {
namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void too_many_marks(std::size_t capacity) {
  throw std::logic_error("pinpool-pipeline: frame_clock: more than " + std::to_string(capacity) +
                         " marks in one frame");
}

/// Host functions stamping the host clock. What they write is shared with them (never the
/// clock itself), so one that runs late, or never, touches nothing that was destroyed.
class host_function_clock final : public frame_clock {
 public:
  host_function_clock(stream_ref s, std::size_t capacity)
      : stream_(s), state_(std::make_shared<state>(capacity)) {}

  void begin_frame() override {
    marked_ = 0;
    state_->passed.store(0);
  }

  // The stamp, the end of the previous step's NVTX range and the start of the next one's
  // (start/end ranges: the stream's work may run on any thread).
  void mark(const char* next_step) override {
    if (marked_ == state_->stamps.size()) too_many_marks(state_->stamps.size());
    const std::size_t i = marked_;
    stream_.launch_host_func([st = state_, i, next_step] {
      st->stamps[i] = clock_type::now();
      if (i > 0) detail::nvtx_end(st->nvtx_step);
      if (next_step != nullptr) st->nvtx_step = detail::nvtx_start(next_step);
      st->passed.store(i + 1);
    });
    ++marked_;
  }

  std::size_t marks() const noexcept override { return marked_; }

  std::vector<double> step_seconds() const override {
    std::vector<double> seconds;
    for (std::size_t i = 0; i + 1 < marked_; ++i) {
      seconds.push_back(
          std::chrono::duration<double>(state_->stamps[i + 1] - state_->stamps[i]).count());
    }
    return seconds;
  }

  std::optional<std::size_t> marks_passed() const noexcept override {
    return state_->passed.load();
  }

 private:
  struct state {
    explicit state(std::size_t capacity) : stamps(capacity) {}
    std::vector<clock_type::time_point> stamps;  // never resized while host functions run
    std::uint64_t nvtx_step = 0;                 // the NVTX range of the step under way
    std::atomic<std::size_t> passed{0};          // stamps taken in this frame
  };

  stream_ref stream_;
  std::shared_ptr<state> state_;
  std::size_t marked_ = 0;
};

#ifdef PINPOOL_KERNELS_HAS_CUDA
/// Timing events recorded on the stream (cudaEventRecord), read with cudaEventElapsedTime.
class cuda_event_clock final : public frame_clock {
 public:
  cuda_event_clock(stream_ref s, std::size_t capacity) : stream_(s), marks_(s.device(), capacity) {}

  void begin_frame() override { marked_ = 0; }

  void mark(const char* /*next_step*/) override {
    if (marked_ == marks_.size()) too_many_marks(marks_.size());
    marks_.record(marked_, stream_);
    ++marked_;
  }

  std::size_t marks() const noexcept override { return marked_; }

  std::vector<double> step_seconds() const override {
    std::vector<double> seconds;
    for (std::size_t i = 0; i + 1 < marked_; ++i) {
      seconds.push_back(static_cast<double>(marks_.elapsed_ms(i, i + 1)) / 1000.0);
    }
    return seconds;
  }

  std::optional<std::size_t> marks_passed() const noexcept override {
    return marks_.passed(marked_);
  }

 private:
  stream_ref stream_;
  kernels::cuda_marks marks_;
  std::size_t marked_ = 0;
};
#endif

}  // namespace

std::unique_ptr<frame_clock> make_host_function_clock(stream_ref s, std::size_t capacity) {
  return std::make_unique<host_function_clock>(s, capacity);
}

std::unique_ptr<frame_clock> make_cuda_event_clock(stream_ref s, std::size_t capacity) {
#ifdef PINPOOL_KERNELS_HAS_CUDA
  return std::make_unique<cuda_event_clock>(s, capacity);
#else
  static_cast<void>(s);
  static_cast<void>(capacity);
  throw std::invalid_argument("pinpool-pipeline: no CUDA timing in this build (PINPOOL_CUDA=OFF)");
#endif
}

}  // namespace pinpool::pipeline
