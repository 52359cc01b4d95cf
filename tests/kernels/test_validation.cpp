#include "reference.hpp"

#include <pinpool/kernels/cpu.hpp>

#include <cmath>
#include <functional>
#include <gtest/gtest.h>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pinpool::kernels::testing {
namespace {

/// Expects std::invalid_argument whose message contains every one of `parts`.
void expect_invalid(const std::function<void()>& call, std::vector<std::string> parts) {
  try {
    call();
    ADD_FAILURE() << "no exception; expected one mentioning '" << parts.front() << "'";
  } catch (const std::invalid_argument& e) {
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message: " << e.what() << "\nmissing: " << part;
    }
  }
}

using launcher = std::function<void(const_image_view, image_view)>;

std::vector<std::pair<std::string, launcher>> mono_launchers() {
  static std::vector<float> scratch(4096);
  return {
      {"blur_cpu", [](const_image_view s, image_view d) { blur_cpu(s, d, 1.0f, scratch.data()); }},
      {"sobel_cpu", [](const_image_view s, image_view d) { sobel_cpu(s, d); }},
      {"equalize_cpu", [](const_image_view s, image_view d) { equalize_cpu(s, d); }}};
}

TEST(validation, bad_views_are_rejected_by_every_launcher) {
  std::vector<std::pair<std::string, launcher>> all = mono_launchers();
  all.emplace_back("gray_cpu", [](const_image_view s, image_view d) { gray_cpu(s, d); });
  for (const auto& entry : all) {
    const std::string& name = entry.first;
    const launcher& run = entry.second;
    SCOPED_TRACE(name);
    test_image src = make_image(8, 6, 1, pattern::random);
    test_image dst(8, 6, 1);
    const_image_view s = src.cview();
    image_view d = dst.view();
    auto with_src = [&](auto change) {
      return [&, change] {
        const_image_view v = s;
        change(v);
        run(v, d);
      };
    };
    auto with_dst = [&](auto change) {
      return [&, change] {
        image_view v = d;
        change(v);
        run(s, v);
      };
    };
    expect_invalid(with_src([](auto& v) { v.data = nullptr; }), {name, "src.data is null"});
    expect_invalid(with_dst([](auto& v) { v.data = nullptr; }), {name, "dst.data is null"});
    expect_invalid(with_src([](auto& v) { v.width = 0; }), {"src is 0 x 6"});
    expect_invalid(with_src([](auto& v) { v.height = -2; }), {"src is 8 x -2"});
    expect_invalid(with_src([](auto& v) { v.channels = 2; }), {"src.channels is 2"});
    expect_invalid(with_src([](auto& v) { v.pitch = 7; }),
                   {"src.pitch is 7", "width * channels = 8"});
    expect_invalid(with_dst([](auto& v) { v.pitch = 4; }), {"dst.pitch is 4"});
    expect_invalid(with_dst([](auto& v) {
                     v.width = 7;
                     v.pitch = 8;
                   }),
                   {"dst is 7 x 6", "sizes must match"});
    expect_invalid(with_dst([](auto& v) { v.height = 5; }), {"sizes must match"});
    expect_invalid(with_dst([](auto& v) {
                     v.channels = 3;
                     v.width = 2;
                   }),
                   {"dst.channels is 3"});
    EXPECT_TRUE(dst.padding_intact());
  }
}

TEST(validation, destination_must_have_one_channel) {
  test_image src = make_image(4, 4, 3, pattern::random);
  test_image dst(4, 4, 3);
  expect_invalid([&] { gray_cpu(src.cview(), dst.view()); },
                 {"gray_cpu", "dst.channels is 3", "must be 1"});
}

TEST(validation, single_channel_kernels_reject_colour) {
  for (const auto& entry : mono_launchers()) {
    const std::string& name = entry.first;
    const launcher& run = entry.second;
    SCOPED_TRACE(name);
    for (const int channels : {3, 4}) {
      test_image src = make_image(5, 5, channels, pattern::random);
      test_image dst(5, 5, 1);
      expect_invalid([&] { run(src.cview(), dst.view()); },
                     {name, "src.channels is " + std::to_string(channels), "gray"});
    }
  }
}

TEST(validation, blur_sigma_and_scratch) {
  test_image src = make_image(5, 5, 1, pattern::random);
  test_image dst(5, 5, 1);
  std::vector<float> scratch(25);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const float sigma : {0.0f, -1.0f, nan, inf, -inf, 170.7f, 1e9f}) {
    SCOPED_TRACE(sigma);
    expect_invalid([&] { blur_cpu(src.cview(), dst.view(), sigma, scratch.data()); },
                   {"blur_cpu", "sigma is"});
    expect_invalid([&] { (void)blur_radius(sigma); }, {"blur_radius", "sigma is"});
  }
  expect_invalid([&] { blur_cpu(src.cview(), dst.view(), 170.7f, scratch.data()); },
                 {"exceeds max_blur_radius = 512"});
  expect_invalid([&] { blur_cpu(src.cview(), dst.view(), 1.0f, nullptr); },
                 {"blur_cpu", "scratch is null"});
  expect_invalid([] { (void)blur_scratch_bytes(0, 3); }, {"blur_scratch_bytes", "0 x 3"});
  expect_invalid([] { (void)blur_scratch_bytes(3, -1); }, {"blur_scratch_bytes"});
}

// CUB counts the device histogram's pixels with int offsets: the equalize launchers refuse
// more than 2^31 - 1 pixels, before reading any (the views below point at one byte).
TEST(validation, equalize_refuses_more_than_int_max_pixels) {
  static_assert(equalize_max_pixels == std::numeric_limits<int>::max());
  std::uint8_t in = 0, out = 0;
  const std::pair<int, int> sizes[] = {{65536, 32768}, {46341, 46341}, {1 << 30, 2}};
  for (const auto& [w, h] : sizes) {
    SCOPED_TRACE(std::to_string(w) + " x " + std::to_string(h));
    const std::size_t pitch = static_cast<std::size_t>(w);
    expect_invalid(
        [&] {
          equalize_cpu({&in, w, h, 1, pitch}, {&out, w, h, 1, pitch});
        },
        {"equalize_cpu", std::to_string(static_cast<long long>(w) * h) + " pixels",
         "more than equalize_max_pixels = 2147483647"});
  }
}

}  // namespace
}  // namespace pinpool::kernels::testing
