#pragma once
// Enqueues one kernel stage on a stream through the stage table (pinpool/kernels/stage.hpp):
// CPU launchers as host functions on a CPU stream, CUDA launchers on a CUDA stream. Never
// synchronises. Also makes the matching per-step clock (frame_clock.hpp).

#include "frame_clock.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/buffer.hpp>
#include <pinpool/kernels/image_view.hpp>
#include <pinpool/kernels/stage.hpp>
#include <pinpool/pool.hpp>

namespace pinpool::pipeline {

/// @brief An image in a device-pool chunk (tightly packed rows).
struct device_image {
  buffer mem;
  int width = 0;
  int height = 0;
  int channels = 0;
  std::size_t bytes() const { return static_cast<std::size_t>(width) * height * channels; }
};

inline kernels::const_image_view view_of(const device_image& im) {
  return {static_cast<const std::uint8_t*>(im.mem.data()), im.width, im.height, im.channels,
          static_cast<std::size_t>(im.width) * im.channels};
}

inline kernels::image_view view_of(device_image& im) {
  return {static_cast<std::uint8_t*>(im.mem.data()), im.width, im.height, im.channels,
          static_cast<std::size_t>(im.width) * im.channels};
}

/// @brief Runs stages through the stage table on the streams of one backend. Made by
/// `make_stage_launcher`.
class stage_launcher {
 public:
  /// @brief Enqueues `stage` on `s`: reads `src`, writes `dst` (1 channel, same size). Checks
  /// `params` first (std::invalid_argument); the stage's scratch comes from the device pool,
  /// acquired on `s` and released on `s`.
  void launch(kernels::stage stage, stream_ref s, const device_image& src, device_image& dst,
              const kernels::stage_params& params) const;

  /// @brief A clock for the frames on `s` (at most `capacity` marks per frame) that matches the
  /// launchers: timing events on a CUDA stream, host functions on a CPU stream.
  std::unique_ptr<frame_clock> make_clock(stream_ref s, std::size_t capacity) const;

 private:
  friend stage_launcher make_stage_launcher(const backend& be, pool& device_pool);
  stage_launcher(pool& device_pool, bool on_device) : pool_(device_pool), on_device_(on_device) {}

  pool& pool_;
  bool on_device_;  ///< CUDA launchers on the stream; else CPU launchers as host functions
};

/// @brief The launcher for `be`'s streams: the CUDA launchers (and timing events) for a CUDA
/// backend, else the CPU launchers (and clock stamps) as host functions on the (CPU) streams.
/// Temporaries come from `device_pool`.
/// @throws std::invalid_argument for a CUDA backend in a build without the CUDA launchers.
stage_launcher make_stage_launcher(const backend& be, pool& device_pool);

}  // namespace pinpool::pipeline
