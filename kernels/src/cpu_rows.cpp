// The row functions of cpu_rows.hpp: plain loops over a row that GCC and Clang vectorise
// (kernels/CMakeLists.txt's PINPOOL_KERNELS_VEC_REPORT prints GCC's -fopt-info-vec for this
// file). No intrinsics: with GCC on x86-64 each function is compiled twice, for the baseline
// (SSE2) and for AVX2, and the loader picks the clone the CPU runs (target_clones, an ifunc);
// elsewhere it is compiled once for the target's baseline.

#include "cpu_rows.hpp"

#include <algorithm>
#include <cstring>

// GCC only: Clang 14 accepts the attribute but emitted no AVX2 clone here (checked with nm).
#if defined(__x86_64__) && defined(__ELF__) && !defined(PINPOOL_KERNELS_NO_CLONES) && \
    defined(__GNUC__) && !defined(__clang__)
#define PINPOOL_ROW_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PINPOOL_ROW_CLONES
#endif

#if defined(__GNUC__)
#define PINPOOL_RESTRICT __restrict__
#define PINPOOL_INLINE inline __attribute__((always_inline))
#else
#define PINPOOL_RESTRICT
#define PINPOOL_INLINE inline
#endif

namespace pinpool::kernels::detail {
namespace {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;

// ---- gray ---------------------------------------------------------------------------------

/// gray_pixel's (9798 R + 19235 G + 3735 B + 2^14) >> 15 in 16-bit lanes: each weight is
/// 256 hi + lo, so the sum is 256 A + B + 2^14 with A = 38 R + 75 G + 14 B (<= 32385) and
/// B = 70 R + 35 G + 151 B (<= 65280), and (256 A + B + 2^14) >> 15 == (A + (B >> 8) + 64) >> 7
/// (no partial result above 16 bits). test_rows.cpp checks it on all 2^24 colours.
template <int Channels>
PINPOOL_INLINE void gray_colour(const u8* PINPOOL_RESTRICT in, u8* PINPOOL_RESTRICT out,
                                int width) {
  for (int x = 0; x < width; ++x) {
    const u16 r = in[x * Channels], g = in[x * Channels + 1], b = in[x * Channels + 2];
    const auto a = static_cast<u16>(r * 38 + g * 75 + b * 14);
    const auto lo = static_cast<u16>(r * 70 + g * 35 + b * 151);
    out[x] = static_cast<u8>(static_cast<u16>(a + (lo >> 8) + 64) >> 7);
  }
}

// ---- blur, vertical ------------------------------------------------------------------------

/// out[x] for x in [0, width) with reach R known at compile time (rows[R + k]: offset k).
/// 16-bit arithmetic is exact: every partial sum is at most the total, <= 255 * 256.
template <int R>
PINPOOL_INLINE void blur_v_fixed(const u8* const* rows, const u16* weights, int width,
                                 u16* PINPOOL_RESTRICT out) {
  u16 w[R + 1];
  for (int k = 0; k <= R; ++k) w[k] = weights[k];
  const u8* p[2 * R + 1];
  for (int k = 0; k <= 2 * R; ++k) p[k] = rows[k];
  for (int x = 0; x < width; ++x) {
    u16 sum = static_cast<u16>(w[0] * p[R][x]);
    for (int k = 1; k <= R; ++k) {
      sum = static_cast<u16>(sum + w[k] * static_cast<u16>(p[R - k][x] + p[R + k][x]));
    }
    out[x] = sum;
  }
}

/// As blur_v_fixed for any reach: one tap pair at a time over the row.
PINPOOL_INLINE void blur_v_any(const u8* const* rows, const u16* weights, int reach, int width,
                               u16* PINPOOL_RESTRICT out) {
  const u16 w0 = weights[0];
  const u8* c = rows[reach];
  for (int x = 0; x < width; ++x) out[x] = static_cast<u16>(w0 * c[x]);
  for (int k = 1; k <= reach; ++k) {
    const u16 w = weights[k];
    const u8* a = rows[reach - k];
    const u8* b = rows[reach + k];
    for (int x = 0; x < width; ++x) {
      out[x] = static_cast<u16>(out[x] + w * static_cast<u16>(a[x] + b[x]));
    }
  }
}

// ---- blur, horizontal ---------------------------------------------------------------------

/// out[x] for x in [begin, end), every tap inside the row, reach R known at compile time. The
/// sums run in float, which is exact here: every value is an integer below 2^24 (each product
/// and partial sum is at most the total, <= 255 * 256 * 256 < 2^24), so no rounding happens
/// and the result equals the 32-bit integer sum; float multiplies are cheaper than 32-bit
/// integer ones. The row is widened to float a block at a time.
template <int R>
PINPOOL_INLINE void blur_h_fixed(const u16* PINPOOL_RESTRICT in, const u16* weights, int begin,
                                 int end, u8* PINPOOL_RESTRICT out) {
  constexpr int block = 512;
  float w[R + 1];
  for (int k = 0; k <= R; ++k) w[k] = weights[k];
  float f[block + 2 * R];
  for (int x0 = begin; x0 < end; x0 += block) {
    const int n = std::min(block, end - x0);
    const u16* src = in + x0 - R;
    for (int i = 0; i < n + 2 * R; ++i) f[i] = static_cast<float>(src[i]);
    const float* c = f + R;
    for (int i = 0; i < n; ++i) {
      float sum = w[0] * c[i];
      for (int k = 1; k <= R; ++k) sum += w[k] * (c[i - k] + c[i + k]);
      out[x0 + i] = blur_round(static_cast<u32>(static_cast<std::int32_t>(sum)));
    }
  }
}

/// As blur_h_fixed for any reach: blocks of pixels, one tap pair at a time.
PINPOOL_INLINE void blur_h_any(const u16* PINPOOL_RESTRICT in, const u16* weights, int reach,
                               int begin, int end, u8* PINPOOL_RESTRICT out) {
  constexpr int block = 256;
  u32 acc[block];
  for (int x0 = begin; x0 < end; x0 += block) {
    const int n = std::min(block, end - x0);
    const u16* c = in + x0;
    const u32 w0 = weights[0];
    for (int i = 0; i < n; ++i) acc[i] = w0 * c[i];
    for (int k = 1; k <= reach; ++k) {
      const u32 w = weights[k];
      for (int i = 0; i < n; ++i) acc[i] += w * (static_cast<u32>(c[i - k]) + c[i + k]);
    }
    for (int i = 0; i < n; ++i) out[x0 + i] = blur_round(acc[i]);
  }
}

// ---- sobel --------------------------------------------------------------------------------

PINPOOL_INLINE int absolute(int v) {
  return v < 0 ? -v : v;
}

}  // namespace

PINPOOL_ROW_CLONES
void gray_row(const std::uint8_t* in, int channels, std::uint8_t* out, int width) {
  switch (channels) {
    case 3:
      gray_colour<3>(in, out, width);
      return;
    case 4:
      gray_colour<4>(in, out, width);
      return;
    default:
      if (in != out) std::memmove(out, in, static_cast<std::size_t>(width));
      return;
  }
}

PINPOOL_ROW_CLONES
void blur_vertical_row(const std::uint8_t* const* rows, int width, const gaussian_taps& g,
                       std::uint16_t* out) {
  const int reach = blur_reach(g);
  const u8* const* centred = rows + (g.radius - reach);  // the rows within the reach
  switch (reach) {
    case 0:
      blur_v_any(centred, g.weight, 0, width, out);
      break;
    case 1:
      blur_v_fixed<1>(centred, g.weight, width, out);
      break;
    case 2:
      blur_v_fixed<2>(centred, g.weight, width, out);
      break;
    case 3:
      blur_v_fixed<3>(centred, g.weight, width, out);
      break;
    case 4:
      blur_v_fixed<4>(centred, g.weight, width, out);
      break;
    case 5:
      blur_v_fixed<5>(centred, g.weight, width, out);
      break;
    case 6:
      blur_v_fixed<6>(centred, g.weight, width, out);
      break;
    case 7:
      blur_v_fixed<7>(centred, g.weight, width, out);
      break;
    case 8:
      blur_v_fixed<8>(centred, g.weight, width, out);
      break;
    default:
      blur_v_any(centred, g.weight, reach, width, out);
      break;
  }
}

PINPOOL_ROW_CLONES
void blur_horizontal_row(const std::uint16_t* in, int width, const gaussian_taps& g,
                         std::uint8_t* out) {
  const int reach = blur_reach(g);
  const int begin = std::min(reach, width);        // first pixel whose taps are all inside
  const int end = std::max(begin, width - reach);  // one past the last
  const u16_row samples{in};
  for (int x = 0; x < begin; ++x) out[x] = blur_round(gaussian_sum(samples, x, width, g));
  switch (reach) {
    case 0:
      blur_h_any(in, g.weight, 0, begin, end, out);
      break;
    case 1:
      blur_h_fixed<1>(in, g.weight, begin, end, out);
      break;
    case 2:
      blur_h_fixed<2>(in, g.weight, begin, end, out);
      break;
    case 3:
      blur_h_fixed<3>(in, g.weight, begin, end, out);
      break;
    case 4:
      blur_h_fixed<4>(in, g.weight, begin, end, out);
      break;
    case 5:
      blur_h_fixed<5>(in, g.weight, begin, end, out);
      break;
    case 6:
      blur_h_fixed<6>(in, g.weight, begin, end, out);
      break;
    case 7:
      blur_h_fixed<7>(in, g.weight, begin, end, out);
      break;
    case 8:
      blur_h_fixed<8>(in, g.weight, begin, end, out);
      break;
    default:
      blur_h_any(in, g.weight, reach, begin, end, out);
      break;
  }
  for (int x = end; x < width; ++x) out[x] = blur_round(gaussian_sum(samples, x, width, g));
}

PINPOOL_ROW_CLONES
void sobel_row(const std::uint8_t* up, const std::uint8_t* mid, const std::uint8_t* down, int width,
               std::uint8_t* out) {
  if (width < 3) {
    for (int x = 0; x < width; ++x) out[x] = sobel_of_rows(up, mid, down, width, x);
    return;
  }
  out[0] = sobel_of_rows(up, mid, down, width, 0);
  u8* PINPOOL_RESTRICT o = out;
  for (int x = 1; x < width - 1; ++x) {
    // sobel_of_rows' arithmetic without the reflection (checked equal in test_rows.cpp).
    const int gx =
        (up[x + 1] + 2 * mid[x + 1] + down[x + 1]) - (up[x - 1] + 2 * mid[x - 1] + down[x - 1]);
    const int gy = (down[x - 1] + 2 * down[x] + down[x + 1]) - (up[x - 1] + 2 * up[x] + up[x + 1]);
    const int magnitude = absolute(gx) + absolute(gy);
    o[x] = static_cast<u8>(magnitude > 255 ? 255 : magnitude);
  }
  out[width - 1] = sobel_of_rows(up, mid, down, width, width - 1);
}

void lut_row(const std::uint8_t* in, const std::uint8_t* lut, int width, std::uint8_t* out) {
  // A table look-up per pixel (no vector gather of bytes): 8 pixels read and written as one
  // 64-bit word each (in == out is allowed: the word is read before it is written).
  int x = 0;
  for (; x + 8 <= width; x += 8) {
    std::uint64_t v = 0;
    std::memcpy(&v, in + x, 8);
    std::uint64_t r = 0;
    for (int i = 0; i < 8; ++i)
      r |= static_cast<std::uint64_t>(lut[(v >> (8 * i)) & 255]) << (8 * i);
    std::memcpy(out + x, &r, 8);
  }
  for (; x < width; ++x) out[x] = apply_lut(lut, in[x]);
}

void histogram_rows(const std::uint8_t* in, std::size_t pitch, int width, int height,
                    std::uint64_t* counts) {
  // Four tables, so that runs of one value do not wait on each other's increments; 8 pixels
  // read as one 64-bit word; 32-bit counts suffice (at most equalize_max_pixels = 2^31 - 1).
  u32 tables[4][256] = {};
  for (int y = 0; y < height; ++y) {
    const u8* row = in + static_cast<std::size_t>(y) * pitch;
    int x = 0;
    for (; x + 8 <= width; x += 8) {
      std::uint64_t v = 0;
      std::memcpy(&v, row + x, 8);
      ++tables[0][v & 255];
      ++tables[1][(v >> 8) & 255];
      ++tables[2][(v >> 16) & 255];
      ++tables[3][(v >> 24) & 255];
      ++tables[0][(v >> 32) & 255];
      ++tables[1][(v >> 40) & 255];
      ++tables[2][(v >> 48) & 255];
      ++tables[3][v >> 56];
    }
    for (; x < width; ++x) ++tables[0][row[x]];
  }
  for (int i = 0; i < 256; ++i) {
    counts[i] +=
        static_cast<std::uint64_t>(tables[0][i]) + tables[1][i] + tables[2][i] + tables[3][i];
  }
}

}  // namespace pinpool::kernels::detail
