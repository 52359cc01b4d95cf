// Registration hooks (pool_options::hooks): every slab is announced once before any chunk of it
// is handed out and once before it is freed; a hook that throws leaves the pool unchanged.
#include "support/checking_backend.hpp"

#include <pinpool/pinpool.hpp>

#include <algorithm>
#include <cstdint>
#include <gtest/gtest.h>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using pinpool_test::checking_backend;

/// Records what the hooks saw, by slab address.
struct hook_log {
  std::mutex mutex;
  std::map<void*, pinpool::slab_info> created;
  std::map<void*, pinpool::slab_info> destroyed;
  int creates = 0;
  int destroys = 0;

  pinpool::slab_hooks hooks() {
    return {[this](const pinpool::slab_info& s) {
              std::lock_guard<std::mutex> lock(mutex);
              ++creates;
              created[s.ptr] = s;
            },
            [this](const pinpool::slab_info& s) {
              std::lock_guard<std::mutex> lock(mutex);
              ++destroys;
              destroyed[s.ptr] = s;
            }};
  }
  bool announced(const void* p) {
    std::lock_guard<std::mutex> lock(mutex);
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    return std::any_of(created.begin(), created.end(), [&](const auto& entry) {
      const auto start = reinterpret_cast<std::uintptr_t>(entry.first);
      return a >= start && a < start + entry.second.bytes;
    });
  }
};

struct hook_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

pinpool::pool_options small_slabs(const pinpool::slab_hooks& hooks) {
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  o.slab_bytes = 1 << 20;
  o.first_slab_bytes = 1 << 20;
  o.hooks = hooks;
  return o;
}

TEST(slab_hooks, every_slab_is_announced_once_before_use_and_once_before_it_is_freed) {
  auto be = checking_backend::wrap(pinpool::make_backend(pinpool::backend_kind::cpu));
  hook_log log;
  {
    pinpool::pool p(be, small_slabs(log.hooks()));
    std::vector<pinpool::buffer> held;
    for (int i = 0; i < 3; ++i) {
      held.push_back(p.acquire(768 << 10));  // one slab each
      EXPECT_TRUE(log.announced(held.back().data())) << "a chunk of an unannounced slab";
    }
    EXPECT_EQ(log.creates, 3);
    EXPECT_EQ(static_cast<std::size_t>(log.creates), p.stats().slabs);
    for (const auto& entry : log.created) {
      EXPECT_EQ(entry.second.kind, pinpool::memory_kind::pinned_host);
      EXPECT_EQ(entry.second.device, 0);
      EXPECT_EQ(entry.second.bytes, std::size_t{1} << 20);
    }
    held.pop_back();
    EXPECT_EQ(p.trim(), std::size_t{1} << 20);
    EXPECT_EQ(log.destroys, 1);
  }  // the pool and its buffers gone: the other two slabs are freed
  EXPECT_EQ(log.destroys, 3);
  EXPECT_EQ(log.created.size(), log.destroyed.size());
  for (const auto& entry : log.created) {
    ASSERT_EQ(log.destroyed.count(entry.first), 1u) << "a slab was freed unannounced";
    EXPECT_EQ(log.destroyed[entry.first].bytes, entry.second.bytes);
  }
  EXPECT_EQ(be->leaked_slabs(), 0u);
}

TEST(slab_hooks, a_throwing_create_hook_leaves_the_pool_unchanged) {
  auto be = checking_backend::wrap(pinpool::make_backend(pinpool::backend_kind::cpu));
  bool refuse = true;
  int destroys = 0;
  pinpool::slab_hooks hooks{[&](const pinpool::slab_info&) {
                              if (refuse) throw hook_failure("registration refused");
                            },
                            [&](const pinpool::slab_info&) { ++destroys; }};
  pinpool::pool p(be, small_slabs(hooks));
  EXPECT_THROW(p.acquire(4096), hook_failure);
  pinpool::pool_stats st = p.stats();
  EXPECT_EQ(st.bytes_reserved, 0u);
  EXPECT_EQ(st.slabs, 0u);
  EXPECT_EQ(st.outstanding_buffers, 0u);
  EXPECT_EQ(be->leaked_slabs(), 0u) << "the refused slab went back to the backend";
  EXPECT_EQ(destroys, 0) << "a slab never announced is not destroyed through the hook";
  refuse = false;
  pinpool::buffer b = p.acquire(4096);
  EXPECT_EQ(p.stats().slabs, 1u);

  pinpool::pool_options o = small_slabs(hooks);
  o.initial_bytes = 1 << 20;
  refuse = true;
  EXPECT_THROW(pinpool::pool(be, o), hook_failure) << "the constructor's slab too";
}

TEST(slab_hooks, a_throwing_destroy_hook_is_logged_and_the_slab_still_freed) {
  auto be = checking_backend::wrap(pinpool::make_backend(pinpool::backend_kind::cpu));
  std::vector<std::string> messages;
  pinpool::log_sink previous =
      pinpool::set_log_sink([&](const std::string& m) { messages.push_back(m); });
  pinpool::slab_hooks hooks{
      nullptr, [](const pinpool::slab_info&) { throw hook_failure("deregistration failed"); }};
  pinpool::pool_options o = small_slabs(hooks);
  o.name = "hooked";
  {
    pinpool::pool p(be, o);
    p.acquire(4096).reset();
    EXPECT_EQ(p.trim(), std::size_t{1} << 20);
  }
  pinpool::set_log_sink(previous);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("'hooked'"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find("deregistration failed"), std::string::npos) << messages[0];
  EXPECT_EQ(be->leaked_slabs(), 0u);
}

}  // namespace
