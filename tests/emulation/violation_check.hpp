#pragma once
// GoogleTest helpers that turn the CUDA emulation's rule violations into test failures.
//
// The emulation records a violation when code breaks a runtime rule (see cuda_emulation.hpp);
// these helpers make the test that caused it fail, naming each violation:
//
//   pinpool_emu::expect_no_violations();   // anywhere: fails the current test for each
//                                          // violation recorded so far, then clears them.
//   class my_test : public pinpool_emu::checked_test {};       // SetUp clears, TearDown checks
//   template <class T> class my_typed : public pinpool_emu::checked<my_base<T>> {};
//   pinpool_emu::expect_violation("freed while");  // exactly one, containing the text; clears
//   ::testing::AddGlobalTestEnvironment(new pinpool_emu::violation_environment);  // safety net
//
// Violations found by stream worker threads (e.g. a runtime call inside a host function) are
// recorded when the work runs: synchronise the streams before checking. TearDown runs before
// the fixture's members are destroyed, so violations of member destructors are not seen there;
// keep streams and pools in the test body (or destroy them in TearDown before the check).

#include "cuda_emulation.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace pinpool_emu {

/// @brief Adds one non-fatal failure per violation recorded so far, then clears them.
inline void expect_no_violations() {
  const std::vector<std::string> found = violations();
  clear_violations();
  for (const std::string& v : found) ADD_FAILURE() << "CUDA emulation rule violation: " << v;
}

/// @brief Expects exactly one violation, whose text contains `needle`; clears them.
inline void expect_violation(const std::string& needle) {
  const std::vector<std::string> found = violations();
  clear_violations();
  EXPECT_EQ(found.size(), 1u) << "expected one violation containing '" << needle << "'";
  for (const std::string& v : found) {
    EXPECT_NE(v.find(needle), std::string::npos) << "unexpected violation: " << v;
  }
}

/// @brief Fixture mix-in: clears violations before the test, expects none after it.
template <class Base = ::testing::Test>
class checked : public Base {
 protected:
  void SetUp() override {
    Base::SetUp();
    clear_violations();
  }
  void TearDown() override {
    expect_no_violations();
    Base::TearDown();
  }
};

using checked_test = checked<>;

/// @brief Global safety net, for a test main or a test file:
///   ::testing::AddGlobalTestEnvironment(new pinpool_emu::violation_environment);
/// Resets the emulation before the first test; at the end, fails the run for violations that no
/// test checked.
class violation_environment : public ::testing::Environment {
 public:
  void SetUp() override { reset(); }
  void TearDown() override { expect_no_violations(); }
};

}  // namespace pinpool_emu
