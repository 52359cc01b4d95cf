// The CUDA launchers (builds with PINPOOL_CUDA only). Their argument checks are tested
// everywhere (they run before any CUDA call); the comparisons with the CPU launchers (outputs
// poisoned beforehand, up to 8K frames) and the timing marks need a usable device and skip with
// the runtime's reason otherwise.

#include "reference.hpp"

#include <pinpool/kernels/cpu.hpp>
#include <pinpool/kernels/cuda.hpp>
#include <pinpool/kernels/cuda_timing.hpp>
#include <pinpool/pinpool.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pinpool::kernels::testing {
namespace {

void expect_invalid(const std::function<void()>& call, const std::string& part) {
  try {
    call();
    ADD_FAILURE() << "no exception; expected one mentioning '" << part << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

pool_options device_options() {
  pool_options opt;
  opt.kind = memory_kind::device;
  opt.slab_bytes = std::size_t{8} << 20;
  return opt;
}

TEST(cuda_launchers, check_arguments_before_any_cuda_call) {
  auto cpu = make_backend(backend_kind::cpu);
  stream s = cpu->create_stream();
  pool device_pool(cpu, device_options());
  pool_options pinned_opt;
  pinned_opt.kind = memory_kind::pinned_host;
  pool pinned_pool(cpu, pinned_opt);
  test_image rgb = make_image(6, 4, 3, pattern::random), grey(6, 4, 1), out(6, 4, 1);
  std::vector<float> scratch(24);

  expect_invalid([&] { gray_cuda(rgb.cview(), rgb.view(), s); }, "gray_cuda: dst.channels is 3");
  expect_invalid([&] { blur_cuda(grey.cview(), out.view(), 0.0f, scratch.data(), s); },
                 "blur_cuda: sigma is 0");
  expect_invalid([&] { blur_cuda(grey.cview(), out.view(), 1.0f, nullptr, s); },
                 "blur_cuda: scratch is null");
  expect_invalid([&] { sobel_cuda(rgb.cview(), out.view(), s); }, "sobel_cuda: src.channels is 3");
  expect_invalid([&] { equalize_cuda(grey.cview(), test_image(5, 4, 1).view(), device_pool, s); },
                 "equalize_cuda: dst is 5 x 4");
  expect_invalid([&] { equalize_cuda(grey.cview(), out.view(), pinned_pool, s); },
                 "memory_kind::device");
  expect_invalid([&] { blur_cuda(grey.cview(), out.view(), 1.0f, pinned_pool, s); },
                 "memory_kind::device");
  // More pixels than CUB's int offsets count (46341^2 > 2^31 - 1): refused before anything is
  // read (the views point at one byte) or enqueued.
  std::uint8_t one = 0;
  expect_invalid(
      [&] {
        equalize_cuda({&one, 46341, 46341, 1, 46341}, {&one, 46341, 46341, 1, 46341}, device_pool,
                      s);
      },
      "equalize_cuda: src is 46341 x 46341 = 2147488281 pixels, more than "
      "equalize_max_pixels");
  // Valid images, but a CPU backend's stream.
  expect_invalid([&] { gray_cuda(rgb.cview(), out.view(), s); }, "needs a CUDA stream");
  expect_invalid([&] { sobel_cuda(grey.cview(), out.view(), s); }, "needs a CUDA stream");
  expect_invalid([&] { blur_cuda(grey.cview(), out.view(), 1.0f, scratch.data(), s); },
                 "needs a CUDA stream");
  expect_invalid([&] { blur_cuda(grey.cview(), out.view(), 1.0f, device_pool, s); },
                 "needs a CUDA stream");
  expect_invalid([&] { equalize_cuda(grey.cview(), out.view(), device_pool, s); },
                 "needs a CUDA stream");
  s.synchronize();
  EXPECT_EQ(device_pool.stats().bytes_in_use, 0u);
}

/// A byte that a correct result cannot be mistaken for: some pixel of `expected` differs from
/// it by more than `tolerance` (0xA5 unless `expected` is all within `tolerance` of it; then
/// 0x5A, 75 away).
std::uint8_t poison_for(const test_image& expected, int tolerance) {
  for (const std::uint8_t poison : {std::uint8_t{0xA5}, std::uint8_t{0x5A}}) {
    for (int y = 0; y < expected.height; ++y) {
      for (int x = 0; x < expected.width; ++x) {
        if (std::abs(expected.at(x, y) - poison) > tolerance) return poison;
      }
    }
  }
  ADD_FAILURE() << "no usable poison byte";
  return 0xA5;
}

/// Images in device-pool chunks, filled from and read back to host test images. Outputs are
/// poisoned, never filled with the expected result: a kernel that writes nothing, or misses
/// pixels, fails the comparison.
class cuda_kernels : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      backend_ = make_backend(backend_kind::cuda);
    } catch (const std::exception& e) {
      GTEST_SKIP() << "no usable CUDA device: " << e.what();
    }
    stream_ = std::make_unique<stream>(backend_->create_stream());
    pool_ = std::make_unique<pool>(backend_, device_options());
    pool_options pinned;
    pinned.kind = memory_kind::pinned_host;
    pinned_ = std::make_unique<pool>(backend_, pinned);
  }

  struct device_image {
    buffer mem;
    image_view view;
  };

  device_image allocate(const test_image& like) {
    device_image d{pool_->acquire(like.bytes.size(), *stream_), {}};
    d.view = {static_cast<std::uint8_t*>(d.mem.data()), like.width, like.height, like.channels,
              like.pitch};
    return d;
  }

  /// Copies `bytes` to `d` through a pinned staging chunk (released behind the copy).
  void fill_from(device_image& d, const std::uint8_t* bytes) {
    const std::size_t n = d.view.pitch * static_cast<std::size_t>(d.view.height);
    buffer staging = pinned_->acquire(n);
    std::memcpy(staging.data(), bytes, n);
    stream_->memcpy_async(d.mem.data(), staging.data(), n);
    staging.set_stream(*stream_);
  }

  device_image upload(const test_image& im) {
    device_image d = allocate(im);
    fill_from(d, im.bytes.data());
    return d;
  }

  /// An output of `expected`'s layout whose every byte (padding included) is `poison`.
  device_image poisoned(const test_image& expected, std::uint8_t poison) {
    device_image d = allocate(expected);
    const std::vector<std::uint8_t> bytes(expected.bytes.size(), poison);
    fill_from(d, bytes.data());
    return d;
  }

  test_image download(const device_image& d) {
    test_image im(d.view.width, d.view.height, d.view.channels,
                  d.view.pitch - static_cast<std::size_t>(d.view.width) * d.view.channels);
    stream_->memcpy_async(im.bytes.data(), d.mem.data(), im.bytes.size());
    stream_->synchronize();
    return im;
  }

  /// The pixels of `d` are within `tolerance` of `expected`'s; its padding still holds `poison`
  /// (kernels never write padding).
  void expect_result(const device_image& d, const test_image& expected, std::uint8_t poison,
                     int tolerance, const char* what) {
    SCOPED_TRACE(what);
    const test_image got = download(d);
    const diff_stats diff = compare(got, expected);
    EXPECT_LE(diff.max_diff, tolerance)
        << diff.above_one << " of " << diff.pixels << " pixels differ by more than 1";
    bool padding_intact = true;
    const std::size_t row = static_cast<std::size_t>(got.width) * got.channels;
    for (int y = 0; y < got.height; ++y) {
      for (std::size_t i = row; i < got.pitch; ++i) {
        padding_intact &= got.bytes[static_cast<std::size_t>(y) * got.pitch + i] == poison;
      }
    }
    EXPECT_TRUE(padding_intact) << "a kernel wrote into the padding";
  }

  /// Runs every launcher on `src` and compares with the CPU launchers.
  void check_against_cpu(const test_image& src) {
    const int w = src.width, h = src.height;
    test_image grey(w, h, 1, 2), blurred(w, h, 1, 2), edges(w, h, 1, 2), equalized(w, h, 1, 2);
    std::vector<float> scratch(blur_scratch_bytes(w, h) / sizeof(float));
    gray_cpu(src.cview(), grey.view());
    blur_cpu(grey.cview(), blurred.view(), 1.6f, scratch.data());
    sobel_cpu(grey.cview(), edges.view());
    equalize_cpu(grey.cview(), equalized.view());

    // The device's grey image is the input of the other three; each output is poisoned.
    const std::uint8_t p_grey = poison_for(grey, 0), p_blurred = poison_for(blurred, 1),
                       p_edges = poison_for(edges, 0), p_equalized = poison_for(equalized, 0);
    device_image d_src = upload(src), d_grey = poisoned(grey, p_grey),
                 d_blurred = poisoned(blurred, p_blurred), d_edges = poisoned(edges, p_edges),
                 d_equalized = poisoned(equalized, p_equalized);
    const stream_ref sr = *stream_;
    gray_cuda(as_const(d_src.view), d_grey.view, sr);
    blur_cuda(as_const(d_grey.view), d_blurred.view, 1.6f, *pool_, sr);
    sobel_cuda(as_const(d_grey.view), d_edges.view, sr);
    equalize_cuda(as_const(d_grey.view), d_equalized.view, *pool_, sr);
    expect_result(d_grey, grey, p_grey, 0, "gray");
    expect_result(d_blurred, blurred, p_blurred, 0, "blur");  // integer arithmetic: exact
    expect_result(d_edges, edges, p_edges, 0, "sobel");
    expect_result(d_equalized, equalized, p_equalized, 0, "equalize");
  }

  std::shared_ptr<backend> backend_;
  std::unique_ptr<stream> stream_;
  std::unique_ptr<pool> pool_;
  std::unique_ptr<pool> pinned_;
};

TEST_F(cuda_kernels, match_the_cpu_launchers) {
  for (const size2 s : test_sizes) {
    for (const int channels : {1, 3, 4}) {
      SCOPED_TRACE(describe(s.width, s.height, channels, 3, pattern::random));
      check_against_cpu(make_image(s.width, s.height, channels, pattern::random, 3, 71));
    }
  }
}

// 4K and 8K frames: grids of 120 x 270 and 240 x 540 blocks, and CUB over 8.3 M and 33 M pixels.
TEST_F(cuda_kernels, match_the_cpu_launchers_at_4k_and_8k) {
  for (const size2 s : {size2{3840, 2160}, size2{7680, 4320}}) {
    SCOPED_TRACE(describe(s.width, s.height, 3, 3, pattern::random));
    check_against_cpu(make_image(s.width, s.height, 3, pattern::random, 3, 72));
  }
}

// The timing marks the sample pipeline uses on CUDA streams: recorded around a kernel, passed
// once the stream has run, elapsed times non-negative and additive.
TEST_F(cuda_kernels, timing_marks_measure_stream_work) {
  const test_image src = make_image(640, 480, 1, pattern::random);
  const test_image expected(640, 480, 1);
  device_image d_src = upload(src), d_out = poisoned(expected, 0xA5);
  cuda_marks marks(stream_->device(), 3);
  EXPECT_THROW(marks.record(3, *stream_), std::invalid_argument);
  marks.record(0, *stream_);
  sobel_cuda(as_const(d_src.view), d_out.view, *stream_);
  marks.record(1, *stream_);
  blur_cuda(as_const(d_src.view), d_out.view, 2.0f, *pool_, *stream_);
  marks.record(2, *stream_);
  stream_->synchronize();
  EXPECT_EQ(marks.passed(3), std::optional<std::size_t>(3));
  const float a = marks.elapsed_ms(0, 1), b = marks.elapsed_ms(1, 2),
              total = marks.elapsed_ms(0, 2);
  EXPECT_GE(a, 0.0f);
  EXPECT_GE(b, 0.0f);
  EXPECT_NEAR(a + b, total, 0.01f);
}

}  // namespace
}  // namespace pinpool::kernels::testing
