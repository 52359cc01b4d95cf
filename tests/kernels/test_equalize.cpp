#include "reference.hpp"

#include <pinpool/kernels/cpu.hpp>

#include <gtest/gtest.h>

namespace pinpool::kernels::testing {
namespace {

test_image run_equalize(const test_image& src, std::size_t dst_pad = 0) {
  test_image dst(src.width, src.height, 1, dst_pad);
  equalize_cpu(src.cview(), dst.view());
  EXPECT_TRUE(dst.padding_intact()) << "equalize_cpu wrote past the row ends";
  return dst;
}

TEST(equalize_cpu, matches_reference_within_one) {
  for (const size2 s : test_sizes) {
    for (const std::size_t pad : {std::size_t{0}, std::size_t{7}}) {
      for (const pattern p : all_patterns) {
        SCOPED_TRACE(describe(s.width, s.height, 1, pad, p));
        const test_image src = make_image(s.width, s.height, 1, p, pad, 41);
        EXPECT_LE(compare(run_equalize(src, pad + 1), ref_equalize(src)).max_diff, 1);
      }
    }
  }
}

TEST(equalize_cpu, low_contrast_image_is_stretched) {
  // Values 100..139: the darkest maps to 0, the brightest to 255.
  test_image src(40, 25, 1);
  for (int y = 0; y < 25; ++y) {
    for (int x = 0; x < 40; ++x) src.at(x, y) = static_cast<std::uint8_t>(100 + (x + y * 40) % 40);
  }
  const test_image dst = run_equalize(src);
  EXPECT_LE(compare(dst, ref_equalize(src)).max_diff, 1);
  EXPECT_EQ(dst.at(0, 0), 0);     // value 100
  EXPECT_EQ(dst.at(39, 0), 255);  // value 139
}

TEST(equalize_cpu, single_value_image_is_copied) {
  for (const size2 s : {size2{1, 1}, size2{1, 6}, size2{33, 8}}) {
    const test_image src = make_image(s.width, s.height, 1, pattern::constant, 2);
    EXPECT_EQ(compare(run_equalize(src), src).max_diff, 0);
  }
}

TEST(equalize_cpu, two_values_map_to_zero_and_full) {
  const test_image src = make_image(30, 20, 1, pattern::two_values);
  const test_image dst = run_equalize(src);
  for (int y = 0; y < 20; ++y) {
    for (int x = 0; x < 30; ++x) EXPECT_EQ(dst.at(x, y), src.at(x, y) == 30 ? 0 : 255);
  }
}

TEST(equalize_cpu, large_random_image_in_place) {
  test_image im = make_image(640, 480, 1, pattern::random, 16, 47);
  const test_image want = ref_equalize(im);
  equalize_cpu(im.cview(), im.view());
  EXPECT_LE(compare(im, want).max_diff, 1);
  EXPECT_TRUE(im.padding_intact());
}

}  // namespace
}  // namespace pinpool::kernels::testing
