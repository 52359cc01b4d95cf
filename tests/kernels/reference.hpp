#pragma once
// Test images and independent, deliberately plain reference implementations of the kernels
// (double precision, direct 2-D convolution, an iterative reflect-101): no code is shared
// with kernels/.

#include <pinpool/kernels/image_view.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace pinpool::kernels::testing {

/// Sentinel written to the padding bytes at the end of each row.
constexpr std::uint8_t padding_byte = 0xA5;

/// An owned image with `pad` extra bytes at the end of every row.
struct test_image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::size_t pitch = 0;
  std::vector<std::uint8_t> bytes;

  test_image() = default;
  test_image(int w, int h, int c, std::size_t pad = 0)
      : width(w),
        height(h),
        channels(c),
        pitch(static_cast<std::size_t>(w) * c + pad),
        bytes(pitch * static_cast<std::size_t>(h), padding_byte) {}

  std::uint8_t& at(int x, int y, int c = 0) {
    return bytes[static_cast<std::size_t>(y) * pitch + static_cast<std::size_t>(x) * channels + c];
  }
  std::uint8_t at(int x, int y, int c = 0) const {
    return bytes[static_cast<std::size_t>(y) * pitch + static_cast<std::size_t>(x) * channels + c];
  }
  image_view view() { return {bytes.data(), width, height, channels, pitch}; }
  const_image_view cview() const { return {bytes.data(), width, height, channels, pitch}; }

  /// True when every padding byte still holds the sentinel.
  bool padding_intact() const {
    const std::size_t row = static_cast<std::size_t>(width) * channels;
    for (int y = 0; y < height; ++y) {
      for (std::size_t i = row; i < pitch; ++i) {
        if (bytes[static_cast<std::size_t>(y) * pitch + i] != padding_byte) return false;
      }
    }
    return true;
  }
};

enum class pattern { random, gradient, checkerboard, constant, two_values };

inline const char* name_of(pattern p) {
  switch (p) {
    case pattern::random:
      return "random";
    case pattern::gradient:
      return "gradient";
    case pattern::checkerboard:
      return "checkerboard";
    case pattern::constant:
      return "constant";
    case pattern::two_values:
      return "two_values";
  }
  return "?";
}

inline constexpr pattern all_patterns[] = {pattern::random, pattern::gradient,
                                           pattern::checkerboard, pattern::constant,
                                           pattern::two_values};

/// Fills the pixels (not the padding) of `im` with pattern `p`.
inline void fill(test_image& im, pattern p, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) {
      for (int c = 0; c < im.channels; ++c) {
        int v = 0;
        switch (p) {
          case pattern::random:
            v = byte(rng);
            break;
          case pattern::gradient:
            v = (x * 255 / std::max(1, im.width - 1) + y * 97 / std::max(1, im.height - 1) +
                 40 * c) %
                256;
            break;
          case pattern::checkerboard:
            v = ((x / 3 + y / 3) % 2) != 0 ? 250 - 20 * c : 5 + 10 * c;
            break;
          case pattern::constant:
            v = 77 + c;
            break;
          case pattern::two_values:
            v = (x * 7 + y * 3) % 5 == 0 ? 200 : 30;
            break;
        }
        im.at(x, y, c) = static_cast<std::uint8_t>(v);
      }
    }
  }
}

inline test_image make_image(int w, int h, int c, pattern p, std::size_t pad = 0,
                             unsigned seed = 1) {
  test_image im(w, h, c, pad);
  fill(im, p, seed);
  return im;
}

/// Reflect-101 by repeated mirroring, straight from its definition (...dcb|abcd|cba...).
inline int ref_reflect(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
  }
  return i;
}

inline std::uint8_t ref_saturate(double v) {
  const long r = std::lround(v);
  return static_cast<std::uint8_t>(r < 0 ? 0 : (r > 255 ? 255 : r));
}

inline test_image ref_gray(const test_image& src) {
  test_image out(src.width, src.height, 1);
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      out.at(x, y) = src.channels == 1
                         ? src.at(x, y)
                         : ref_saturate(0.299 * src.at(x, y, 0) + 0.587 * src.at(x, y, 1) +
                                        0.114 * src.at(x, y, 2));
    }
  }
  return out;
}

/// Direct (non-separable) 2-D Gaussian convolution in double.
inline test_image ref_blur(const test_image& src, double sigma) {
  const int r = static_cast<int>(std::ceil(3.0 * sigma));
  std::vector<double> g(static_cast<std::size_t>(2 * r + 1));
  double sum = 0.0;
  for (int i = -r; i <= r; ++i)
    sum += g[static_cast<std::size_t>(i + r)] = std::exp(-(i * i) / (2.0 * sigma * sigma));
  for (double& w : g) w /= sum;
  test_image out(src.width, src.height, 1);
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      double acc = 0.0;
      for (int j = -r; j <= r; ++j) {
        for (int i = -r; i <= r; ++i) {
          acc += g[static_cast<std::size_t>(j + r)] * g[static_cast<std::size_t>(i + r)] *
                 src.at(ref_reflect(x + i, src.width), ref_reflect(y + j, src.height));
        }
      }
      out.at(x, y) = ref_saturate(acc);
    }
  }
  return out;
}

/// OpenCV's 8-bit Gaussian blur arithmetic, written out independently: the normalised weights
/// quantised to 8 fractional bits from the outermost tap inwards (each rounded half up after
/// adding the error carried from the one outside it; the centre takes what makes the sum 256),
/// then a direct 2-D integer convolution with the products of the weights (16 fractional
/// bits), rounded half up.
inline std::vector<long long> ref_fixed_taps(double sigma) {
  const int r = static_cast<int>(std::ceil(3.0 * sigma));
  std::vector<double> g(static_cast<std::size_t>(r + 1));
  double sum = 0.0;
  for (int i = 0; i <= r; ++i)
    g[static_cast<std::size_t>(i)] = std::exp(-(i * i) / (2.0 * sigma * sigma));
  for (int i = 1; i <= r; ++i) sum += g[static_cast<std::size_t>(i)];
  sum = g[0] + 2.0 * sum;
  std::vector<long long> taps(static_cast<std::size_t>(2 * r + 1));
  double error = 0.0;
  long long outer = 0;
  for (int i = r; i >= 1; --i) {
    const double want = g[static_cast<std::size_t>(i)] / sum * 256.0 + error;
    const long long q = static_cast<long long>(std::floor(want + 0.5));
    error = want - static_cast<double>(q);
    taps[static_cast<std::size_t>(r + i)] = taps[static_cast<std::size_t>(r - i)] = q;
    outer += q;
  }
  taps[static_cast<std::size_t>(r)] = 256 - 2 * outer;
  return taps;
}

inline test_image ref_blur_fixed(const test_image& src, double sigma) {
  const std::vector<long long> t = ref_fixed_taps(sigma);
  const int r = static_cast<int>(t.size() / 2);
  test_image out(src.width, src.height, 1);
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      long long acc = 0;
      for (int j = -r; j <= r; ++j) {
        for (int i = -r; i <= r; ++i) {
          acc += t[static_cast<std::size_t>(j + r)] * t[static_cast<std::size_t>(i + r)] *
                 src.at(ref_reflect(x + i, src.width), ref_reflect(y + j, src.height));
        }
      }
      out.at(x, y) = static_cast<std::uint8_t>((acc + 32768) >> 16);
    }
  }
  return out;
}

inline test_image ref_sobel(const test_image& src) {
  static const int kx[3][3] = {{-1, 0, 1}, {-2, 0, 2}, {-1, 0, 1}};
  static const int ky[3][3] = {{-1, -2, -1}, {0, 0, 0}, {1, 2, 1}};
  test_image out(src.width, src.height, 1);
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      int gx = 0, gy = 0;
      for (int j = -1; j <= 1; ++j) {
        for (int i = -1; i <= 1; ++i) {
          const int v = src.at(ref_reflect(x + i, src.width), ref_reflect(y + j, src.height));
          gx += kx[j + 1][i + 1] * v;
          gy += ky[j + 1][i + 1] * v;
        }
      }
      out.at(x, y) = static_cast<std::uint8_t>(std::min(255, std::abs(gx) + std::abs(gy)));
    }
  }
  return out;
}

inline test_image ref_equalize(const test_image& src) {
  std::vector<long long> hist(256, 0);
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) ++hist[src.at(x, y)];
  }
  std::vector<long long> cdf(256, 0);
  long long running = 0;
  for (int i = 0; i < 256; ++i) cdf[i] = running += hist[i];
  int first = 0;
  while (hist[first] == 0) ++first;
  const long long total = running;
  test_image out(src.width, src.height, 1);
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      const int v = src.at(x, y);
      out.at(x, y) = hist[first] == total
                         ? static_cast<std::uint8_t>(v)
                         : ref_saturate(static_cast<double>(cdf[v] - cdf[first]) * 255.0 /
                                        static_cast<double>(total - cdf[first]));
    }
  }
  return out;
}

/// Differences between two 1-channel images of the same size.
struct diff_stats {
  int max_diff = 0;
  long long above_one = 0;  ///< pixels differing by more than 1
  long long pixels = 0;
};

inline diff_stats compare(const test_image& a, const test_image& b) {
  diff_stats d;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      const int diff = std::abs(a.at(x, y) - b.at(x, y));
      d.max_diff = std::max(d.max_diff, diff);
      if (diff > 1) ++d.above_one;
      ++d.pixels;
    }
  }
  return d;
}

inline std::string describe(int w, int h, int c, std::size_t pad, pattern p) {
  return std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(c) + " pad " +
         std::to_string(pad) + " " + name_of(p);
}

/// Sizes covering single pixels, single rows/columns, odd sizes, tiny and larger images.
struct size2 {
  int width;
  int height;
};
inline constexpr size2 test_sizes[] = {{1, 1}, {1, 9},   {9, 1},   {2, 2},    {3, 2},   {2, 3},
                                       {5, 5}, {13, 17}, {64, 48}, {101, 33}, {7, 130}, {257, 3}};

}  // namespace pinpool::kernels::testing
