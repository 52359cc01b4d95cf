// event_pool: idle release events per device (src/core/event_pool.hpp), with real CPU-backend
// events behind a backend that records every destroy_event call.
#include "core/chunk.hpp"
#include "core/event_pool.hpp"
#include "core_test_support.hpp"

#include <algorithm>
#include <cstddef>
#include <gtest/gtest.h>
#include <memory>
#include <set>
#include <utility>
#include <vector>

namespace {

using pinpool::detail::chunk;
using pinpool::detail::event_pool;
using pinpool::detail::event_slot;
using pinpool_core_test::counting_backend;

struct event_pool_test : ::testing::Test {
  std::shared_ptr<counting_backend> be = std::make_shared<counting_backend>(2);
  event_pool pool{2};
  std::vector<event_slot> created;  // destroyed at the end unless the test did it

  void* make(int device) {
    void* e = be->create_event(device);
    created.push_back({e, device});
    return e;
  }
  void TearDown() override {
    // Whatever the pool still holds, then whatever the test took out and kept.
    pool.destroy_all(*be);
    std::set<void*> destroyed;
    for (const auto& d : be->destroyed()) destroyed.insert(d.first);
    for (const event_slot& e : created) {
      if (destroyed.count(e.event) == 0) be->destroy_event(e.event, e.device);
    }
  }
};

TEST_F(event_pool_test, take_from_an_empty_pool_is_null) {
  EXPECT_EQ(pool.take(0), nullptr);
  EXPECT_EQ(pool.take(1), nullptr);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST_F(event_pool_test, given_back_events_are_taken_again_on_their_device_only) {
  void* d0 = make(0);
  void* d1a = make(1);
  void* d1b = make(1);
  pool.give_back({d0, 0});
  pool.give_back({d1a, 1});
  pool.give_back({d1b, 1});
  EXPECT_EQ(pool.idle_count(), 3u);

  EXPECT_EQ(pool.take(0), d0);
  EXPECT_EQ(pool.take(0), nullptr) << "device 1's events are not device 0's";
  std::set<void*> from1;
  from1.insert(pool.take(1));
  from1.insert(pool.take(1));
  EXPECT_EQ(from1, (std::set<void*>{d1a, d1b}));
  EXPECT_EQ(pool.take(1), nullptr);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST_F(event_pool_test, a_null_event_is_ignored) {
  pool.give_back({nullptr, 0});
  pool.give_back({nullptr, 1});
  EXPECT_EQ(pool.idle_count(), 0u);
  EXPECT_EQ(pool.take(0), nullptr);
}

TEST_F(event_pool_test, an_event_can_cycle_through_the_pool) {
  void* e = make(0);
  for (int i = 0; i < 3; ++i) {
    pool.give_back({e, 0});
    ASSERT_EQ(pool.take(0), e);
    ASSERT_EQ(pool.idle_count(), 0u);
  }
}

TEST_F(event_pool_test, give_back_all_returns_a_chunks_events_and_clears_them) {
  chunk c;
  void* a = make(0);
  void* b = make(1);
  void* d = make(1);
  c.events = {{a, 0}, {b, 1}, {nullptr, 0}, {d, 1}};
  pool.give_back_all(c);
  EXPECT_TRUE(c.events.empty());
  EXPECT_EQ(pool.idle_count(), 3u) << "the null slot is ignored";
  EXPECT_EQ(pool.take(0), a);
  EXPECT_EQ(pool.take(0), nullptr);
  std::set<void*> from1{pool.take(1), pool.take(1)};
  EXPECT_EQ(from1, (std::set<void*>{b, d}));

  chunk empty;
  pool.give_back_all(empty);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST_F(event_pool_test, destroy_all_destroys_each_idle_event_on_its_device) {
  void* a = make(0);
  void* b = make(1);
  void* c = make(1);
  void* kept = make(0);  // taken out of the pool again: not the pool's to destroy
  pool.give_back({a, 0});
  pool.give_back({kept, 0});
  pool.give_back({b, 1});
  pool.give_back({c, 1});
  ASSERT_EQ(pool.take(0), kept);
  ASSERT_EQ(be->created(), 4);

  pool.destroy_all(*be);
  auto destroyed = be->destroyed();
  std::sort(destroyed.begin(), destroyed.end());
  std::vector<std::pair<void*, int>> expected{{a, 0}, {b, 1}, {c, 1}};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(destroyed, expected);
  EXPECT_EQ(pool.idle_count(), 0u);
  EXPECT_EQ(pool.take(0), nullptr);
  EXPECT_EQ(pool.take(1), nullptr);

  pool.destroy_all(*be);
  EXPECT_EQ(be->destroyed().size(), 3u) << "nothing is destroyed twice";
}

TEST_F(event_pool_test, destroy_all_on_an_empty_pool_calls_nothing) {
  pool.destroy_all(*be);
  EXPECT_TRUE(be->destroyed().empty());
}

TEST(event_pool, works_with_the_cpu_backend_directly) {
  auto be = pinpool::detail::make_cpu_backend();
  event_pool pool(be->device_count());
  void* e = be->create_event(0);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(be->event_done(e, 0)) << "never recorded";
  pool.give_back({e, 0});
  EXPECT_EQ(pool.take(0), e);
  pool.give_back({e, 0});
  pool.destroy_all(*be);  // ASan/LSan would report a leak if it did not destroy it
  EXPECT_EQ(pool.idle_count(), 0u);
}

}  // namespace
