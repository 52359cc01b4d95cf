#pragma once
// The CPU launchers' row functions: whole rows at a time, in loops the compiler vectorises
// (checked with -fopt-info-vec, see kernels/CMakeLists.txt), for the pixels whose neighbourhood
// lies inside the image; the pixels near the borders go through the per-pixel bodies of
// pixel_ops.hpp, which the CUDA kernels run. Every row function computes exactly what the
// per-pixel body computes (tests/kernels/test_rows.cpp checks that on every size and border
// case). Host compiler only.

#include "pixel_ops.hpp"

#include <cstddef>
#include <cstdint>

namespace pinpool::kernels::detail {

/// out[x] = gray_pixel(in + x * channels, channels) for x in [0, width).
void gray_row(const std::uint8_t* in, int channels, std::uint8_t* out, int width);

/// out[x] = the vertical pass at x (blur_vertical_at) for x in [0, width): `rows` are the 2 r + 1
/// source rows the output row reads, rows[k + r] the one at offset k (reflected rows already
/// resolved by the caller).
void blur_vertical_row(const std::uint8_t* const* rows, int width, const gaussian_taps& g,
                       std::uint16_t* out);

/// out[x] = blur_horizontal_at over the vertical result `in` (one row), x in [0, width).
void blur_horizontal_row(const std::uint16_t* in, int width, const gaussian_taps& g,
                         std::uint8_t* out);

/// out[x] = the 3x3 Sobel magnitude of row `mid` given the rows above and below (reflected rows
/// resolved by the caller), reflect-101 at the left and right ends.
void sobel_row(const std::uint8_t* up, const std::uint8_t* mid, const std::uint8_t* down, int width,
               std::uint8_t* out);

/// out[x] = lut[in[x]] for x in [0, width).
void lut_row(const std::uint8_t* in, const std::uint8_t* lut, int width, std::uint8_t* out);

/// Adds the values of the `height` rows of `width` pixels at `in` (`pitch` bytes apart) to the
/// 256-bin histogram `counts`.
void histogram_rows(const std::uint8_t* in, std::size_t pitch, int width, int height,
                    std::uint64_t* counts);

}  // namespace pinpool::kernels::detail
