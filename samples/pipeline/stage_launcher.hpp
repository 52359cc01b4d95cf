#pragma once
// Enqueues one kernel stage on a stream: CPU kernels as host functions on a CPU stream, CUDA
// kernels through their launchers. Never synchronises.

#include <pinpool/buffer.hpp>
#include <pinpool/kernels/image_view.hpp>
#include <pinpool/kernels/stage.hpp>
#include <pinpool/pool.hpp>

#include <memory>

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

class stage_launcher {
 public:
  virtual ~stage_launcher() = default;
  /// @brief Enqueues `stage` on `s`: reads `src`, writes `dst` (1 channel, same size). Scratch
  /// memory comes from `device_pool`, acquired on `s` and released on `s`.
  virtual void launch(kernels::stage stage, stream_ref s, const device_image& src,
                      device_image& dst, float sigma) = 0;
};

/// @brief Host functions calling the parallel CPU kernels (a CPU backend's streams).
std::unique_ptr<stage_launcher> make_cpu_launcher(pool& device_pool);
/// @brief The CUDA kernels (a CUDA backend's streams). Null in builds without CUDA.
std::unique_ptr<stage_launcher> make_cuda_launcher(pool& device_pool);

}  // namespace pinpool::pipeline
