// The behaviour suite on the real CUDA runtime. Without a usable device every test skips and
// says why (the runtime's own reason).
#include "leak_report_suite.hpp"
#include "pool_suite.hpp"
#include "raw_pointer_suite.hpp"

#include <pinpool/pinpool.hpp>

namespace {

struct gpu_env {
  static std::string skip_reason() {
    try {
      pinpool::make_backend(pinpool::backend_kind::cuda);
      return "";
    } catch (const std::exception& e) {
      return std::string("no usable CUDA device: ") + e.what();
    }
  }
  static std::shared_ptr<pinpool::backend> make() {
    return pinpool::make_backend(pinpool::backend_kind::cuda);
  }
  static void after_test() {}
};

}  // namespace

namespace pinpool_test {
INSTANTIATE_TYPED_TEST_SUITE_P(gpu, pool_suite, gpu_env);
INSTANTIATE_TYPED_TEST_SUITE_P(gpu, raw_pointer_suite, gpu_env);
INSTANTIATE_TYPED_TEST_SUITE_P(gpu, leak_report_suite, gpu_env);
}  // namespace pinpool_test
