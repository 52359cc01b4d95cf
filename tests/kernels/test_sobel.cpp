#include "reference.hpp"

#include <pinpool/kernels/cpu.hpp>

#include <gtest/gtest.h>

namespace pinpool::kernels::testing {
namespace {

test_image run_sobel(const test_image& src, std::size_t dst_pad = 0) {
  test_image dst(src.width, src.height, 1, dst_pad);
  sobel_cpu(src.cview(), dst.view());
  EXPECT_TRUE(dst.padding_intact()) << "sobel_cpu wrote past the row ends";
  return dst;
}

TEST(sobel_cpu, equals_reference_exactly) {
  for (const size2 s : test_sizes) {
    for (const std::size_t pad : {std::size_t{0}, std::size_t{6}}) {
      for (const pattern p : all_patterns) {
        SCOPED_TRACE(describe(s.width, s.height, 1, pad, p));
        const test_image src = make_image(s.width, s.height, 1, p, pad, 31);
        EXPECT_EQ(compare(run_sobel(src, pad + 2), ref_sobel(src)).max_diff, 0);
      }
    }
  }
}

TEST(sobel_cpu, vertical_edge_values) {
  // Columns 0 0 0 255 255 255: |gx| = 4 * 255 saturated next to the edge, 0 elsewhere.
  test_image src(6, 4, 1);
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 6; ++x) src.at(x, y) = x < 3 ? 0 : 255;
  }
  const test_image dst = run_sobel(src);
  for (int y = 0; y < 4; ++y) {
    EXPECT_EQ(dst.at(0, y), 0);
    EXPECT_EQ(dst.at(1, y), 0);
    EXPECT_EQ(dst.at(2, y), 255);
    EXPECT_EQ(dst.at(3, y), 255);
    EXPECT_EQ(dst.at(5, y), 0);
  }
}

TEST(sobel_cpu, small_gradient_is_not_saturated) {
  // v = 10 x: gx = 4 * 20 = 80 inside; at the borders reflect-101 mirrors, so gx = 0.
  test_image src(5, 3, 1);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 5; ++x) src.at(x, y) = static_cast<std::uint8_t>(10 * x);
  }
  const test_image dst = run_sobel(src);
  for (int y = 0; y < 3; ++y) {
    EXPECT_EQ(dst.at(0, y), 0);
    EXPECT_EQ(dst.at(2, y), 80);
    EXPECT_EQ(dst.at(4, y), 0);
  }
}

TEST(sobel_cpu, single_pixel_and_constant_give_zero) {
  const test_image one = make_image(1, 1, 1, pattern::random, 0, 37);
  EXPECT_EQ(run_sobel(one).at(0, 0), 0);
  const test_image flat = make_image(12, 9, 1, pattern::constant, 1);
  const test_image dst = run_sobel(flat);
  for (int y = 0; y < 9; ++y) {
    for (int x = 0; x < 12; ++x) EXPECT_EQ(dst.at(x, y), 0);
  }
}

}  // namespace
}  // namespace pinpool::kernels::testing
