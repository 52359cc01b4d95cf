// The CUDA launchers (builds with PINPOOL_CUDA only). Their argument checks are tested
// everywhere (they run before any CUDA call); the comparisons with the CPU launchers need a
// usable device and skip with the runtime's reason otherwise.

#include "reference.hpp"

#include <pinpool/kernels/cpu.hpp>
#include <pinpool/kernels/cuda.hpp>
#include <pinpool/pinpool.hpp>

#include <functional>
#include <gtest/gtest.h>
#include <memory>
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

/// Images in device-pool chunks, filled from and read back to host test images.
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
  }

  struct device_image {
    buffer mem;
    image_view view;
  };

  device_image upload(const test_image& im) {
    device_image d{pool_->acquire(im.bytes.size(), *stream_), {}};
    d.view = {static_cast<std::uint8_t*>(d.mem.data()), im.width, im.height, im.channels, im.pitch};
    stream_->memcpy_async(d.mem.data(), im.bytes.data(), im.bytes.size());
    return d;
  }

  test_image download(const device_image& d) {
    test_image im(d.view.width, d.view.height, d.view.channels,
                  d.view.pitch - static_cast<std::size_t>(d.view.width) * d.view.channels);
    stream_->memcpy_async(im.bytes.data(), d.mem.data(), im.bytes.size());
    stream_->synchronize();
    return im;
  }

  std::shared_ptr<backend> backend_;
  std::unique_ptr<stream> stream_;
  std::unique_ptr<pool> pool_;
};

TEST_F(cuda_kernels, match_the_cpu_launchers) {
  for (const size2 s : test_sizes) {
    for (const int channels : {1, 3, 4}) {
      SCOPED_TRACE(describe(s.width, s.height, channels, 3, pattern::random));
      const test_image src = make_image(s.width, s.height, channels, pattern::random, 3, 71);
      test_image grey(s.width, s.height, 1, 2), blurred(s.width, s.height, 1, 2),
          edges(s.width, s.height, 1, 2), equalized(s.width, s.height, 1, 2);
      std::vector<float> scratch(blur_scratch_bytes(s.width, s.height) / sizeof(float));
      gray_cpu(src.cview(), grey.view());
      blur_cpu(grey.cview(), blurred.view(), 1.6f, scratch.data());
      sobel_cpu(grey.cview(), edges.view());
      equalize_cpu(grey.cview(), equalized.view());

      device_image d_src = upload(src), d_grey = upload(grey), d_blurred = upload(blurred),
                   d_edges = upload(edges), d_equalized = upload(equalized);
      const stream_ref sr = *stream_;
      gray_cuda(as_const(d_src.view), d_grey.view, sr);
      blur_cuda(as_const(d_grey.view), d_blurred.view, 1.6f, *pool_, sr);
      sobel_cuda(as_const(d_grey.view), d_edges.view, sr);
      equalize_cuda(as_const(d_grey.view), d_equalized.view, *pool_, sr);
      EXPECT_EQ(download(d_grey).bytes, grey.bytes);
      EXPECT_LE(compare(download(d_blurred), blurred).max_diff, 1);  // FMA contraction
      EXPECT_EQ(download(d_edges).bytes, edges.bytes);
      EXPECT_EQ(download(d_equalized).bytes, equalized.bytes);
    }
  }
}

}  // namespace
}  // namespace pinpool::kernels::testing
