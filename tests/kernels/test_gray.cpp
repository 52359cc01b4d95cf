#include "reference.hpp"

#include <pinpool/kernels/cpu.hpp>

#include <gtest/gtest.h>

namespace pinpool::kernels::testing {
namespace {

test_image run_gray(const test_image& src, std::size_t dst_pad = 0) {
  test_image dst(src.width, src.height, 1, dst_pad);
  gray_cpu(src.cview(), dst.view());
  EXPECT_TRUE(dst.padding_intact()) << "gray_cpu wrote past the row ends";
  return dst;
}

TEST(gray_cpu, matches_reference_within_one) {
  for (const size2 s : test_sizes) {
    for (const int channels : {1, 3, 4}) {
      for (const std::size_t pad : {std::size_t{0}, std::size_t{5}}) {
        for (const pattern p : all_patterns) {
          SCOPED_TRACE(describe(s.width, s.height, channels, pad, p));
          const test_image src = make_image(s.width, s.height, channels, p, pad, 7);
          const diff_stats d = compare(run_gray(src, pad + 3), ref_gray(src));
          EXPECT_LE(d.max_diff, 1);
        }
      }
    }
  }
}

TEST(gray_cpu, uses_opencv_fixed_point_weights) {
  // Pure channels and white: 0.299 * 255 = 76.2, 0.587 * 255 = 149.7, 0.114 * 255 = 29.1.
  test_image src(4, 1, 3);
  const std::uint8_t px[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  for (int x = 0; x < 4; ++x) {
    for (int c = 0; c < 3; ++c) src.at(x, 0, c) = px[x][c];
  }
  const test_image dst = run_gray(src);
  EXPECT_EQ(dst.at(0, 0), 76);
  EXPECT_EQ(dst.at(1, 0), 150);
  EXPECT_EQ(dst.at(2, 0), 29);
  EXPECT_EQ(dst.at(3, 0), 255);
}

TEST(gray_cpu, rounds_like_opencv_4) {
  // Exact values 53.499, 150.501, 69.501: OpenCV 4's 15-bit weights give 53, 151, 69 (the
  // 14-bit weights 4899/9617/1868 would give 54, 150, 70).
  test_image src(3, 1, 3);
  const std::uint8_t px[3][3] = {{79, 14, 190}, {39, 234, 13}, {4, 95, 110}};
  for (int x = 0; x < 3; ++x) {
    for (int c = 0; c < 3; ++c) src.at(x, 0, c) = px[x][c];
  }
  const test_image dst = run_gray(src);
  EXPECT_EQ(dst.at(0, 0), 53);
  EXPECT_EQ(dst.at(1, 0), 151);
  EXPECT_EQ(dst.at(2, 0), 69);
}

TEST(gray_cpu, ignores_alpha) {
  test_image a = make_image(31, 7, 4, pattern::random, 0, 3);
  test_image b = a;
  for (int y = 0; y < b.height; ++y) {
    for (int x = 0; x < b.width; ++x)
      b.at(x, y, 3) = static_cast<std::uint8_t>(255 - a.at(x, y, 3));
  }
  EXPECT_EQ(run_gray(a).bytes, run_gray(b).bytes);
}

TEST(gray_cpu, copies_a_grey_image) {
  const test_image src = make_image(19, 11, 1, pattern::random, 4, 5);
  const test_image dst = run_gray(src);
  EXPECT_EQ(compare(dst, src).max_diff, 0);
}

}  // namespace
}  // namespace pinpool::kernels::testing
