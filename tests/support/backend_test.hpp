#pragma once
// The fixture of the typed suites over every backend (pool_suite.hpp, leak_report_suite.hpp,
// raw_pointer_suite.hpp). A backend environment `Env` provides:
//   static std::string skip_reason();                  // "" when the backend is usable
//   static std::shared_ptr<pinpool::backend> make();
//   static void after_test();                          // e.g. fail on emulation rule violations

#include <pinpool/backend.hpp>

#include <gtest/gtest.h>
#include <memory>
#include <string>

namespace pinpool_test {

/// Skips the test when `Env` is unusable, else makes the backend `be_`; Env::after_test() after
/// every test that made one.
template <class Env>
class backend_test : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = Env::skip_reason();
    if (!why.empty()) GTEST_SKIP() << why;
    be_ = Env::make();
  }
  void TearDown() override {
    if (be_) Env::after_test();
  }

  std::shared_ptr<pinpool::backend> be_;
};

}  // namespace pinpool_test
