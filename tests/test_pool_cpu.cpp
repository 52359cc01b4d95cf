// The behaviour suite on the CPU backend, wrapped in the checking backend: after each test no
// violation (every slab freed matches one allocated) and, the test's pools and streams being
// gone, no slab, event or stream left alive.
#include "leak_report_suite.hpp"
#include "pool_suite.hpp"
#include "raw_pointer_suite.hpp"
#include "support/checking_backend.hpp"

#include <pinpool/pinpool.hpp>

#include <memory>

namespace {

struct cpu_env {
  static std::weak_ptr<pinpool_test::checking_backend>& current() {
    static std::weak_ptr<pinpool_test::checking_backend> be;
    return be;
  }
  static std::string skip_reason() { return ""; }
  static std::shared_ptr<pinpool::backend> make() {
    auto be =
        pinpool_test::checking_backend::wrap(pinpool::make_backend(pinpool::backend_kind::cpu));
    current() = be;
    return be;
  }
  static void after_test() {
    const auto be = current().lock();
    ASSERT_NE(be, nullptr);
    EXPECT_EQ(be->violation_count(), 0u) << be->report();
    EXPECT_EQ(be->leaked_slabs(), 0u) << be->report();
    EXPECT_EQ(be->live_events(), 0u) << be->report();
    EXPECT_EQ(be->live_streams(), 0u) << be->report();
  }
};

}  // namespace

namespace pinpool_test {
INSTANTIATE_TYPED_TEST_SUITE_P(cpu, pool_suite, cpu_env);
INSTANTIATE_TYPED_TEST_SUITE_P(cpu, raw_pointer_suite, cpu_env);
INSTANTIATE_TYPED_TEST_SUITE_P(cpu, leak_report_suite, cpu_env);
}  // namespace pinpool_test
