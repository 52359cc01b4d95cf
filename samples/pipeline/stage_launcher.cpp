#include "stage_launcher.hpp"

#include <exception>
#include <stdexcept>
#include <string>

namespace pinpool::pipeline {

void stage_launcher::launch(kernels::stage stage, stream_ref s, const device_image& src,
                            device_image& dst, const kernels::stage_params& params) const {
  const kernels::stage_info& row = kernels::stage_info_of(stage);
  row.validate(params);
  const std::size_t scratch_bytes = row.scratch_bytes(src.width, src.height);
  const buffer scratch = scratch_bytes > 0 ? pool_.acquire(scratch_bytes, s) : buffer{};
  const kernels::const_image_view in = view_of(src);
  const kernels::image_view out = view_of(dst);
  void* tmp = scratch.data();
  if (on_device_) {
    row.cuda(in, out, params, tmp, pool_, s);
  } else {
    s.launch_host_func([&row, in, out, params, tmp] {
      try {
        row.cpu(in, out, params, tmp);
      } catch (const std::exception& e) {  // reported by the stream: name the stage
        throw std::runtime_error(std::string("stage ") + row.name + ": " + e.what());
      }
    });
  }
}  // scratch is released on s, after the stage

std::unique_ptr<frame_clock> stage_launcher::make_clock(stream_ref s, std::size_t capacity) const {
  if (on_device_) return make_cuda_event_clock(s, capacity);
  return make_host_function_clock(s, capacity);
}

stage_launcher make_stage_launcher(const backend& be, pool& device_pool) {
  const bool on_device = be.kind() == backend_kind::cuda;
  for (const kernels::stage_info& row : kernels::stage_table()) {
    if (on_device && row.cuda == nullptr) {
      throw std::invalid_argument(std::string("pinpool-pipeline: stage ") + row.name +
                                  " has no CUDA launcher in this build (PINPOOL_CUDA=OFF)");
    }
  }
  return stage_launcher(device_pool, on_device);
}

}  // namespace pinpool::pipeline
