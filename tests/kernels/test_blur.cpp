#include "reference.hpp"

#include <pinpool/kernels/cpu.hpp>

#include <gtest/gtest.h>
#include <vector>

namespace pinpool::kernels::testing {
namespace {

test_image run_blur(const test_image& src, float sigma, std::size_t dst_pad = 0) {
  test_image dst(src.width, src.height, 1, dst_pad);
  std::vector<float> scratch(blur_scratch_bytes(src.width, src.height) / sizeof(float));
  blur_cpu(src.cview(), dst.view(), sigma, scratch.data());
  EXPECT_TRUE(dst.padding_intact()) << "blur_cpu wrote past the row ends";
  return dst;
}

/// Equal to OpenCV's fixed-point arithmetic (ref_blur_fixed), and, for the sigmas given, within
/// `gaussian_limit` of the exact Gaussian in double (what the 8-bit weights cost).
void expect_blur_close(const test_image& got, const test_image& src, float sigma,
                       int gaussian_limit = -1) {
  EXPECT_EQ(compare(got, ref_blur_fixed(src, sigma)).max_diff, 0);
  if (gaussian_limit >= 0) {
    EXPECT_LE(compare(got, ref_blur(src, sigma)).max_diff, gaussian_limit);
  }
}

TEST(blur_cpu, matches_direct_2d_convolution) {
  for (const size2 s : test_sizes) {
    for (const float sigma : {0.5f, 1.0f, 2.0f}) {
      for (const std::size_t pad : {std::size_t{0}, std::size_t{3}}) {
        for (const pattern p : all_patterns) {
          SCOPED_TRACE(describe(s.width, s.height, 1, pad, p) + " sigma " + std::to_string(sigma));
          const test_image src = make_image(s.width, s.height, 1, p, pad, 11);
          expect_blur_close(run_blur(src, sigma, pad + 1), src, sigma, 2);
        }
      }
    }
  }
}

TEST(blur_cpu, kernel_larger_than_the_image) {
  // Radius 6 over 3x2, radius 15 over 4x1 and 1x5: the reflection wraps several times.
  const struct {
    int w, h;
    float sigma;
  } cases[] = {{3, 2, 2.0f}, {2, 3, 2.0f}, {4, 1, 5.0f}, {1, 5, 5.0f}, {1, 1, 3.0f}, {6, 6, 7.3f}};
  for (const auto& c : cases) {
    for (const pattern p : all_patterns) {
      SCOPED_TRACE(describe(c.w, c.h, 1, 0, p) + " sigma " + std::to_string(c.sigma));
      const test_image src = make_image(c.w, c.h, 1, p, 0, 13);
      expect_blur_close(run_blur(src, c.sigma), src, c.sigma);
    }
  }
}

TEST(blur_cpu, odd_sigmas_on_a_larger_random_image) {
  const test_image src = make_image(97, 61, 1, pattern::random, 9, 17);
  for (const float sigma : {0.3f, 0.8f, 1.3f, 3.7f}) {
    SCOPED_TRACE("sigma " + std::to_string(sigma));
    expect_blur_close(run_blur(src, sigma), src, sigma, 2);
  }
}

TEST(blur_cpu, constant_image_stays_constant) {
  const test_image src = make_image(40, 30, 1, pattern::constant);
  const test_image dst = run_blur(src, 4.0f);
  EXPECT_EQ(compare(dst, src).max_diff, 0);
}

TEST(blur_cpu, tiny_sigma_is_the_identity) {
  const test_image src = make_image(23, 9, 1, pattern::random, 2, 19);
  EXPECT_EQ(compare(run_blur(src, 0.01f), src).max_diff, 0);
  EXPECT_EQ(compare(run_blur(src, 1e-30f), src).max_diff, 0);
}

TEST(blur_cpu, works_in_place) {
  test_image im = make_image(50, 40, 1, pattern::random, 0, 23);
  const test_image expected = run_blur(im, 1.5f);
  std::vector<float> scratch(blur_scratch_bytes(im.width, im.height) / sizeof(float));
  blur_cpu(im.cview(), im.view(), 1.5f, scratch.data());
  EXPECT_EQ(im.bytes, expected.bytes);
}

TEST(blur_cpu, largest_radius_is_accepted) {
  const test_image src = make_image(4, 3, 1, pattern::random, 0, 29);
  const float sigma = 170.6f;  // ceil(511.8) = 512
  EXPECT_EQ(blur_radius(sigma), max_blur_radius);
  expect_blur_close(run_blur(src, sigma), src, sigma);
}

TEST(blur_cpu, pipeline_sigma_weights) {
  // sigma 1.5, radius 5: the 8-bit weights OpenCV uses (68 55 28 9 2 0, sum 256), seen through a
  // rows-constant image with one column of 255: out = round(255 * w / 256) = w for w < 128.
  test_image src(21, 3, 1);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 21; ++x) src.at(x, y) = x == 10 ? 255 : 0;
  }
  const test_image out = run_blur(src, 1.5f);
  const int want[] = {68, 55, 28, 9, 2, 0};
  for (int k = 0; k <= 5; ++k) {
    EXPECT_EQ(out.at(10 + k, 1), want[k]) << "offset " << k;
    EXPECT_EQ(out.at(10 - k, 1), want[k]) << "offset " << -k;
  }
}

TEST(blur_radius, is_ceil_of_three_sigma) {
  EXPECT_EQ(blur_radius(0.1f), 1);
  EXPECT_EQ(blur_radius(1.0f), 3);
  EXPECT_EQ(blur_radius(1.5f), 5);
  EXPECT_EQ(blur_radius(2.0f), 6);
  EXPECT_EQ(blur_radius(2.1f), 7);
  EXPECT_EQ(blur_scratch_bytes(7, 3), 44u);  // 7 * 3 16-bit values, rounded up to 4 bytes
  EXPECT_EQ(blur_scratch_bytes(8, 3), 48u);
}

}  // namespace
}  // namespace pinpool::kernels::testing
