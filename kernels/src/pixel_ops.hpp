#pragma once
// The per-pixel bodies of the image kernels, compiled for the host (CPU launcher, g++) and for
// the device (CUDA launcher, nvcc) from this one header. Launchers only loop and index.
//
// Every function is PINPOOL_HD: `__host__ __device__` under nvcc, plain inline otherwise, so
// this header includes no CUDA header in builds without CUDA.

#include <cmath>
#include <cstddef>
#include <cstdint>

#ifndef PINPOOL_HD
#if defined(__CUDACC__)
#define PINPOOL_HD __host__ __device__
#else
#define PINPOOL_HD
#endif
#endif

namespace pinpool::kernels::detail {

/// BORDER_REFLECT_101 (...dcb|abcd|cba...) for any p, even far outside [0, len); 0 when len is
/// 1. The reflection repeats with period 2 (len - 1).
PINPOOL_HD inline int reflect_101(int p, int len) {
  if (static_cast<unsigned>(p) < static_cast<unsigned>(len)) return p;
  if (len == 1) return 0;
  const long long period = 2LL * (len - 1);
  long long q = p % period;
  if (q < 0) q += period;
  return static_cast<int>(q < len ? q : period - q);
}

/// v rounded to nearest (ties to even, as cvRound) and saturated to [0, 255].
PINPOOL_HD inline std::uint8_t round_to_u8(float v) {
  if (!(v > 0.0f)) return 0;  // also NaN
  if (v >= 255.0f) return 255;
#if defined(__CUDA_ARCH__)
  return static_cast<std::uint8_t>(__float2int_rn(v));
#else
  return static_cast<std::uint8_t>(std::lrint(v));  // default rounding mode: ties to even
#endif
}

// ---- gray -----------------------------------------------------------------------------------

/// Grey of one pixel of `channels` samples (1: copy; 3 RGB / 4 RGBA: BT.601 weights in 15-bit
/// fixed point summing to 2^15, rounded). These are the weights OpenCV 4 uses for 8-bit
/// RGB2GRAY (bit-exact with 4.6); the 14-bit set 4899/9617/1868 of older OpenCV differs by 1 on
/// about 0.2% of pixels.
PINPOOL_HD inline std::uint8_t gray_pixel(const std::uint8_t* px, int channels) {
  if (channels == 1) return px[0];
  constexpr int r_weight = 9798, g_weight = 19235, b_weight = 3735, shift = 15;
  const int sum = px[0] * r_weight + px[1] * g_weight + px[2] * b_weight + (1 << (shift - 1));
  return static_cast<std::uint8_t>(sum >> shift);
}

// ---- blur -----------------------------------------------------------------------------------

/// Maximum radius of `gaussian_taps` (= pinpool::kernels::max_blur_radius, checked in
/// launcher_support.cpp). Fixed so that the taps travel by value as a kernel argument (1 KB).
constexpr int taps_capacity = 512;

/// Fractional bits of the blur's fixed-point weights: the weights of a kernel sum to exactly
/// 1 << blur_weight_bits (OpenCV's 8-bit GaussianBlur arithmetic).
constexpr int blur_weight_bits = 8;

/// The Gaussian weights of offsets 0..radius (the kernel is symmetric) in fixed point with
/// `blur_weight_bits` fractional bits: weight[0] + 2 (weight[1] + ... + weight[radius]) == 256.
struct gaussian_taps {
  int radius = 0;
  std::uint16_t weight[taps_capacity + 1] = {};
};

/// Samples of one column of an 8-bit image, `pitch` bytes per row.
struct u8_column {
  const std::uint8_t* top;
  std::size_t pitch;
  PINPOOL_HD std::uint32_t operator()(int y) const {
    return top[static_cast<std::size_t>(y) * pitch];
  }
};

/// Samples of one row of the 16-bit vertical result.
struct u16_row {
  const std::uint16_t* row;
  PINPOOL_HD std::uint32_t operator()(int x) const { return row[x]; }
};

/// Sum over k in [-r, r] of weight[|k|] * at(reflect_101(i + k, len)), exact in 32 bits.
template <class Samples>
PINPOOL_HD inline std::uint32_t gaussian_sum(const Samples& at, int i, int len,
                                             const gaussian_taps& g) {
  const int r = g.radius;
  std::uint32_t sum = g.weight[0] * at(i);
  if (i - r >= 0 && i + r < len) {
    for (int k = 1; k <= r; ++k) sum += g.weight[k] * (at(i - k) + at(i + k));
  } else {
    for (int k = 1; k <= r; ++k) {
      sum += g.weight[k] * (at(reflect_101(i - k, len)) + at(reflect_101(i + k, len)));
    }
  }
  return sum;
}

/// Vertical pass at (x, y): the 1-D blur down the column with 8 fractional bits, exact (at most
/// 255 * 256, so it fits 16 bits). The two passes are exact integer sums, so their order does
/// not change the result; vertical first keeps the 16-bit arithmetic on the 8-bit input rows.
PINPOOL_HD inline std::uint16_t blur_vertical_at(const std::uint8_t* src, std::size_t pitch,
                                                 int height, int x, int y, const gaussian_taps& g) {
  return static_cast<std::uint16_t>(gaussian_sum(u8_column{src + x, pitch}, y, height, g));
}

/// The 8-bit result of a 2-D sum with 16 fractional bits: rounded half up.
PINPOOL_HD inline std::uint8_t blur_round(std::uint32_t sum) {
  return static_cast<std::uint8_t>((sum + (1u << (2 * blur_weight_bits - 1))) >>
                                   (2 * blur_weight_bits));
}

/// Horizontal pass at (x, y) over the vertical result (width values per row), rounded.
PINPOOL_HD inline std::uint8_t blur_horizontal_at(const std::uint16_t* tmp, int width, int x, int y,
                                                  const gaussian_taps& g) {
  const std::uint16_t* row = tmp + static_cast<std::size_t>(y) * static_cast<std::size_t>(width);
  return blur_round(gaussian_sum(u16_row{row}, x, width, g));
}

/// The largest offset with a non-zero weight (weights past it add nothing: radius 5 of sigma 1.5
/// has weight 0).
PINPOOL_HD inline int blur_reach(const gaussian_taps& g) {
  int reach = g.radius;
  while (reach > 0 && g.weight[reach] == 0) --reach;
  return reach;
}

// ---- sobel ----------------------------------------------------------------------------------

PINPOOL_HD inline int abs_int(int v) {
  return v < 0 ? -v : v;
}

/// |gx| + |gy| of OpenCV's 3x3 Sobel at column x of row `mid`, given the rows above and below
/// (already reflected), saturated; reflect-101 neighbours along the row.
PINPOOL_HD inline std::uint8_t sobel_of_rows(const std::uint8_t* up, const std::uint8_t* mid,
                                             const std::uint8_t* down, int width, int x) {
  const int xl = reflect_101(x - 1, width), xr = reflect_101(x + 1, width);
  const int gx = (up[xr] + 2 * mid[xr] + down[xr]) - (up[xl] + 2 * mid[xl] + down[xl]);
  const int gy = (down[xl] + 2 * down[x] + down[xr]) - (up[xl] + 2 * up[x] + up[xr]);
  const int magnitude = abs_int(gx) + abs_int(gy);
  return static_cast<std::uint8_t>(magnitude > 255 ? 255 : magnitude);
}

/// |gx| + |gy| of OpenCV's 3x3 Sobel at (x, y), saturated; reflect-101 neighbours.
PINPOOL_HD inline std::uint8_t sobel_at(const std::uint8_t* src, std::size_t pitch, int width,
                                        int height, int x, int y) {
  const std::uint8_t* up = src + static_cast<std::size_t>(reflect_101(y - 1, height)) * pitch;
  const std::uint8_t* mid = src + static_cast<std::size_t>(y) * pitch;
  const std::uint8_t* down = src + static_cast<std::size_t>(reflect_101(y + 1, height)) * pitch;
  return sobel_of_rows(up, mid, down, width, x);
}

// ---- equalize -------------------------------------------------------------------------------

/// The first non-zero entry of a 256-bin cumulative histogram (= the count of the first
/// non-empty bin); 0 only for an empty histogram.
template <class Count>
PINPOOL_HD inline Count first_nonzero(const Count* cdf) {
  for (int i = 0; i < 256; ++i) {
    if (cdf[i] != 0) return cdf[i];
  }
  return 0;
}

/// LUT entry i of cv::equalizeHist: 0 below the first non-empty bin, else
/// round((cdf_i - cdf_first) * 255 / (total - cdf_first)) in float as OpenCV; the identity when
/// every pixel has one value (cdf_first == total).
PINPOOL_HD inline std::uint8_t equalize_lut_at(int i, unsigned long long cdf_i,
                                               unsigned long long cdf_first,
                                               unsigned long long total) {
  if (cdf_first == total) return static_cast<std::uint8_t>(i);
  if (cdf_i < cdf_first) return 0;
  const float scale = 255.0f / static_cast<float>(total - cdf_first);
  return round_to_u8(static_cast<float>(cdf_i - cdf_first) * scale);
}

/// One output pixel of the equalisation: its LUT entry.
PINPOOL_HD inline std::uint8_t apply_lut(const std::uint8_t* lut, std::uint8_t v) {
  return lut[v];
}

}  // namespace pinpool::kernels::detail
