#pragma once
/// @file image_view.hpp
/// @brief `image_view` / `const_image_view`: non-owning views of 8-bit interleaved images.

#include <cstddef>
#include <cstdint>

namespace pinpool::kernels {

/// @brief A writable view of an 8-bit image: `height` rows of `width` pixels of `channels`
/// interleaved samples (1 grey, 3 RGB, 4 RGBA), rows `pitch` bytes apart.
///
/// Owns nothing. The CPU launchers need host-accessible memory, the CUDA launchers
/// device-accessible memory (e.g. a chunk of a `memory_kind::device` pool).
struct image_view {
  std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int channels = 0;
  std::size_t pitch = 0;  ///< bytes from one row to the next, >= width * channels
};

/// @brief A read-only view of an 8-bit image; see `image_view`.
struct const_image_view {
  const std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int channels = 0;
  std::size_t pitch = 0;  ///< bytes from one row to the next, >= width * channels
};

/// @brief The read-only view of the same pixels.
inline const_image_view as_const(const image_view& v) noexcept {
  return {v.data, v.width, v.height, v.channels, v.pitch};
}

}  // namespace pinpool::kernels
