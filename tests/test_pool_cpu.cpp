// The behaviour suite on the CPU backend.
#include "pool_suite.hpp"

#include <pinpool/pinpool.hpp>

namespace {

struct cpu_env {
  static std::string skip_reason() { return ""; }
  static std::shared_ptr<pinpool::backend> make() {
    return pinpool::make_backend(pinpool::backend_kind::cpu);
  }
  static void after_test() {}
};

}  // namespace

namespace pinpool_test {
INSTANTIATE_TYPED_TEST_SUITE_P(cpu, pool_suite, cpu_env);
}  // namespace pinpool_test
