// The single-source rule: the CPU launchers' vectorised row functions (kernels/src/cpu_rows.hpp)
// compute exactly what the per-pixel bodies the CUDA kernels run (kernels/src/pixel_ops.hpp)
// compute, on every width from 1 up past the vector lengths, every radius with a fixed-radius
// loop and some without, every border case; and the launchers equal those bodies applied pixel
// by pixel over whole images (bands, in place, padded rows).

#include "cpu_rows.hpp"
#include "launcher_support.hpp"
#include "pixel_ops.hpp"
#include "reference.hpp"

#include <pinpool/kernels/cpu.hpp>

#include <cstdint>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

namespace pinpool::kernels::testing {
namespace {

namespace d = pinpool::kernels::detail;

std::vector<int> widths() {
  std::vector<int> w;
  for (int i = 1; i <= 80; ++i) w.push_back(i);
  for (const int i : {95, 96, 97, 127, 128, 129, 255, 256, 257, 511, 1000, 1921}) w.push_back(i);
  return w;
}

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

/// Sigmas whose radius ceil(3 sigma) is 1..12 (1..8 have a fixed-radius loop) and 17, 40.
std::vector<float> sigmas() {
  std::vector<float> s;
  for (int r = 1; r <= 12; ++r) s.push_back(static_cast<float>(r) / 3.0f - 0.05f);
  s.push_back(1.5f);
  s.push_back(17.0f / 3.0f - 0.01f);
  s.push_back(13.2f);
  return s;
}

TEST(cpu_rows, gray_row_equals_gray_pixel) {
  for (const int channels : {1, 3, 4}) {
    for (const int w : widths()) {
      const auto in = random_bytes(static_cast<std::size_t>(w) * channels, 3u + w);
      std::vector<std::uint8_t> out(static_cast<std::size_t>(w) + 1, 0xA5);
      d::gray_row(in.data(), channels, out.data(), w);
      for (int x = 0; x < w; ++x) {
        ASSERT_EQ(out[x],
                  d::gray_pixel(in.data() + static_cast<std::size_t>(x) * channels, channels))
            << "channels " << channels << " width " << w << " x " << x;
      }
      EXPECT_EQ(out[w], 0xA5) << "wrote past the row";
    }
  }
}

TEST(cpu_rows, gray_row_equals_gray_pixel_on_every_colour) {
  // All 2^24 RGB triples: 256 rows of 65536 pixels (R fixed per row), as RGB and as RGBA.
  for (const int channels : {3, 4}) {
    std::vector<std::uint8_t> in(std::size_t{65536} * channels, 0);
    std::vector<std::uint8_t> out(65536);
    for (int r = 0; r < 256; ++r) {
      for (int i = 0; i < 65536; ++i) {
        std::uint8_t* px = in.data() + static_cast<std::size_t>(i) * channels;
        px[0] = static_cast<std::uint8_t>(r);
        px[1] = static_cast<std::uint8_t>(i >> 8);
        px[2] = static_cast<std::uint8_t>(i & 255);
      }
      d::gray_row(in.data(), channels, out.data(), 65536);
      for (int i = 0; i < 65536; ++i) {
        ASSERT_EQ(out[static_cast<std::size_t>(i)],
                  d::gray_pixel(in.data() + static_cast<std::size_t>(i) * channels, channels))
            << "channels " << channels << " rgb " << r << " " << (i >> 8) << " " << (i & 255);
      }
    }
  }
}

TEST(cpu_rows, blur_vertical_row_equals_blur_vertical_at) {
  for (const float sigma : sigmas()) {
    const d::gaussian_taps taps = d::make_gaussian_taps("test", sigma);
    const int r = taps.radius;
    for (const int w : {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 257, 300}) {
      for (const int h : {1, 2, 3, r, r + 1, 2 * r + 1, 2 * r + 3}) {
        if (h < 1) continue;
        auto img =
            random_bytes(static_cast<std::size_t>(w) * h, static_cast<unsigned>(w * 131 + h));
        if (h == 3) std::fill(img.begin(), img.end(), std::uint8_t{255});  // the largest sums
        std::vector<const std::uint8_t*> rows(static_cast<std::size_t>(2 * r + 1));
        std::vector<std::uint16_t> out(static_cast<std::size_t>(w) + 1, 0xBEEF);
        for (int y = 0; y < h; ++y) {
          for (int k = -r; k <= r; ++k) {
            rows[static_cast<std::size_t>(k + r)] =
                img.data() + static_cast<std::size_t>(d::reflect_101(y + k, h)) * w;
          }
          d::blur_vertical_row(rows.data(), w, taps, out.data());
          for (int x = 0; x < w; ++x) {
            ASSERT_EQ(out[x],
                      d::blur_vertical_at(img.data(), static_cast<std::size_t>(w), h, x, y, taps))
                << "sigma " << sigma << " radius " << r << " " << w << "x" << h << " at " << x
                << "," << y;
          }
          EXPECT_EQ(out[w], 0xBEEF) << "wrote past the row";
        }
      }
    }
  }
}

TEST(cpu_rows, blur_horizontal_row_equals_blur_horizontal_at) {
  for (const float sigma : sigmas()) {
    const d::gaussian_taps taps = d::make_gaussian_taps("test", sigma);
    for (const int w : widths()) {
      for (const bool largest : {false, true}) {
        std::mt19937 rng(static_cast<unsigned>(w * 7 + 1));
        std::vector<std::uint16_t> in(static_cast<std::size_t>(w));
        for (auto& v : in)
          v = static_cast<std::uint16_t>(largest ? 255 * 256 : rng() % (255 * 256 + 1));
        std::vector<std::uint8_t> out(static_cast<std::size_t>(w) + 1, 0xA5);
        d::blur_horizontal_row(in.data(), w, taps, out.data());
        for (int x = 0; x < w; ++x) {
          ASSERT_EQ(out[x], d::blur_horizontal_at(in.data(), w, x, 0, taps))
              << "sigma " << sigma << " radius " << taps.radius << " width " << w << " x " << x;
        }
        EXPECT_EQ(out[w], 0xA5) << "wrote past the row";
      }
    }
  }
}

TEST(cpu_rows, blur_reach_skips_only_zero_weights) {
  const d::gaussian_taps taps = d::make_gaussian_taps("test", 1.5f);
  EXPECT_EQ(taps.radius, 5);
  EXPECT_EQ(taps.weight[5], 0);  // 68 55 28 9 2 0
  EXPECT_EQ(d::blur_reach(taps), 4);
  EXPECT_EQ(d::blur_reach(d::make_gaussian_taps("test", 1e-6f)), 0);  // 256 0
}

TEST(cpu_rows, sobel_row_equals_sobel_at) {
  for (const int w : widths()) {
    for (const int h : {1, 2, 3, 4}) {
      auto img = random_bytes(static_cast<std::size_t>(w) * h, 11u + w * 7 + h);
      if (w % 5 == 0) {  // extremes: saturated magnitudes
        for (std::size_t i = 0; i < img.size(); ++i) img[i] = (i % 2) != 0 ? 255 : 0;
      }
      std::vector<std::uint8_t> out(static_cast<std::size_t>(w) + 1, 0xA5);
      const auto row = [&](int y) { return img.data() + static_cast<std::size_t>(y) * w; };
      for (int y = 0; y < h; ++y) {
        d::sobel_row(row(d::reflect_101(y - 1, h)), row(y), row(d::reflect_101(y + 1, h)), w,
                     out.data());
        for (int x = 0; x < w; ++x) {
          ASSERT_EQ(out[x], d::sobel_at(img.data(), static_cast<std::size_t>(w), w, h, x, y))
              << w << "x" << h << " at " << x << "," << y;
        }
        EXPECT_EQ(out[w], 0xA5) << "wrote past the row";
      }
    }
  }
}

TEST(cpu_rows, lut_row_and_histogram_rows) {
  std::uint8_t lut[256];
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
  for (const int w : widths()) {
    const auto in = random_bytes(static_cast<std::size_t>(w) * 3, 5u + w);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(w) + 1, 0xA5);
    d::lut_row(in.data(), lut, w, out.data());
    for (int x = 0; x < w; ++x) ASSERT_EQ(out[x], d::apply_lut(lut, in[x])) << w << " " << x;
    EXPECT_EQ(out[w], 0xA5);
    auto in_place = in;
    d::lut_row(in_place.data(), lut, w, in_place.data());
    for (int x = 0; x < w; ++x) ASSERT_EQ(in_place[x], lut[in[x]]) << "in place " << w;

    // Two rows of w pixels, `w + 1` bytes apart (the byte between rows is not counted).
    std::uint64_t counts[256] = {};
    counts[7] = 5;  // adds to what is there
    d::histogram_rows(in.data(), static_cast<std::size_t>(w) + 1, w, 2, counts);
    std::uint64_t want[256] = {};
    want[7] = 5;
    for (int x = 0; x < w; ++x) {
      ++want[in[x]];
      ++want[in[static_cast<std::size_t>(w) + 1 + x]];
    }
    for (int i = 0; i < 256; ++i) ASSERT_EQ(counts[i], want[i]) << "width " << w << " bin " << i;
  }
}

// ---- the launchers against the per-pixel bodies over whole images --------------------------

/// The blur as the CUDA launcher computes it: blur_vertical_at for every pixel into a full
/// 16-bit image, then blur_horizontal_at for every pixel.
test_image blur_per_pixel(const test_image& src, float sigma) {
  const d::gaussian_taps taps = d::make_gaussian_taps("test", sigma);
  std::vector<std::uint16_t> tmp(static_cast<std::size_t>(src.width) * src.height);
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      tmp[static_cast<std::size_t>(y) * src.width + x] =
          d::blur_vertical_at(src.bytes.data(), src.pitch, src.height, x, y, taps);
    }
  }
  test_image out(src.width, src.height, 1);
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      out.at(x, y) = d::blur_horizontal_at(tmp.data(), src.width, x, y, taps);
    }
  }
  return out;
}

TEST(cpu_rows, blur_cpu_equals_the_per_pixel_bodies) {
  const size2 sizes[] = {{1, 1},   {1, 40},  {40, 1},  {2, 2},    {3, 5},    {11, 11},
                         {12, 10}, {33, 17}, {64, 64}, {97, 211}, {300, 97}, {17, 400}};
  for (const size2 s : sizes) {
    for (const float sigma : {0.5f, 1.5f, 2.9f, 4.0f}) {
      for (const std::size_t pad : {std::size_t{0}, std::size_t{5}}) {
        SCOPED_TRACE(std::to_string(s.width) + "x" + std::to_string(s.height) + " sigma " +
                     std::to_string(sigma) + " pad " + std::to_string(pad));
        const test_image src = make_image(s.width, s.height, 1, pattern::random, pad, 41);
        const test_image want = blur_per_pixel(src, sigma);
        std::vector<std::uint8_t> scratch(blur_scratch_bytes(s.width, s.height));
        test_image dst(s.width, s.height, 1, pad);
        blur_cpu(src.cview(), dst.view(), sigma, scratch.data());
        EXPECT_EQ(compare(dst, want).max_diff, 0);
        EXPECT_TRUE(dst.padding_intact());
        test_image in_place = src;
        blur_cpu(in_place.cview(), in_place.view(), sigma, scratch.data());
        EXPECT_EQ(compare(in_place, want).max_diff, 0) << "in place";
        EXPECT_TRUE(in_place.padding_intact());
      }
    }
  }
}

TEST(cpu_rows, sobel_gray_equalize_cpu_equal_the_per_pixel_bodies) {
  for (const size2 s : {size2{1, 1}, size2{2, 7}, size2{3, 3}, size2{65, 33}, size2{301, 129}}) {
    SCOPED_TRACE(std::to_string(s.width) + "x" + std::to_string(s.height));
    const test_image grey = make_image(s.width, s.height, 1, pattern::random, 3, 43);
    test_image out(s.width, s.height, 1, 2);
    sobel_cpu(grey.cview(), out.view());
    for (int y = 0; y < s.height; ++y) {
      for (int x = 0; x < s.width; ++x) {
        ASSERT_EQ(out.at(x, y),
                  d::sobel_at(grey.bytes.data(), grey.pitch, s.width, s.height, x, y));
      }
    }
    EXPECT_TRUE(out.padding_intact());
    for (const int channels : {3, 4}) {
      const test_image colour = make_image(s.width, s.height, channels, pattern::random, 1, 47);
      gray_cpu(colour.cview(), out.view());
      for (int y = 0; y < s.height; ++y) {
        for (int x = 0; x < s.width; ++x) {
          ASSERT_EQ(out.at(x, y),
                    d::gray_pixel(colour.bytes.data() + static_cast<std::size_t>(y) * colour.pitch +
                                      static_cast<std::size_t>(x) * channels,
                                  channels));
        }
      }
    }
    EXPECT_TRUE(out.padding_intact());
  }
}

}  // namespace
}  // namespace pinpool::kernels::testing
