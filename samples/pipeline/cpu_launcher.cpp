#include "stage_launcher.hpp"

#include <pinpool/kernels/kernels.hpp>

namespace pinpool::pipeline {
namespace {

class cpu_launcher final : public stage_launcher {
 public:
  explicit cpu_launcher(pool& device_pool) : pool_(device_pool) {}

  void launch(kernels::stage stage, stream_ref s, const device_image& src, device_image& dst,
              float sigma) override {
    const kernels::const_image_view in = view_of(src);
    const kernels::image_view out = view_of(dst);
    switch (stage) {
      case kernels::stage::gray:
        s.launch_host_func([in, out] { kernels::gray_cpu(in, out); });
        break;
      case kernels::stage::blur: {
        buffer scratch = pool_.acquire(kernels::blur_scratch_bytes(in.width, in.height), s);
        auto* tmp = static_cast<float*>(scratch.data());
        s.launch_host_func([in, out, sigma, tmp] { kernels::blur_cpu(in, out, sigma, tmp); });
        break;  // scratch is released on s, after the blur
      }
      case kernels::stage::sobel:
        s.launch_host_func([in, out] { kernels::sobel_cpu(in, out); });
        break;
      case kernels::stage::equalize:
        s.launch_host_func([in, out] { kernels::equalize_cpu(in, out); });
        break;
    }
  }

 private:
  pool& pool_;
};

}  // namespace

std::unique_ptr<stage_launcher> make_cpu_launcher(pool& device_pool) {
  return std::make_unique<cpu_launcher>(device_pool);
}

}  // namespace pinpool::pipeline
