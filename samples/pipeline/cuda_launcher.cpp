#include "stage_launcher.hpp"

#include <pinpool/kernels/kernels.hpp>

namespace pinpool::pipeline {
namespace {

// The CUDA launchers: kernels enqueued on the stream, temporaries from the device pool.
class cuda_launcher final : public stage_launcher {
 public:
  explicit cuda_launcher(pool& device_pool) : pool_(device_pool) {}

  void launch(kernels::stage stage, stream_ref s, const device_image& src, device_image& dst,
              float sigma) override {
    const kernels::const_image_view in = view_of(src);
    const kernels::image_view out = view_of(dst);
    switch (stage) {
      case kernels::stage::gray:
        kernels::gray_cuda(in, out, s);
        break;
      case kernels::stage::blur:
        kernels::blur_cuda(in, out, sigma, pool_, s);
        break;
      case kernels::stage::sobel:
        kernels::sobel_cuda(in, out, s);
        break;
      case kernels::stage::equalize:
        kernels::equalize_cuda(in, out, pool_, s);
        break;
    }
  }

 private:
  pool& pool_;
};

}  // namespace

std::unique_ptr<stage_launcher> make_cuda_launcher(pool& device_pool) {
  return std::make_unique<cuda_launcher>(device_pool);
}

}  // namespace pinpool::pipeline
