// Fault injection on the CPU backend: the pool raises a clear exception, stays consistent (no
// leak, no lost chunk), recovers from recoverable failures and refuses work after sticky ones.
#include "cpu_backend.hpp"

#include <pinpool/pinpool.hpp>

#include <cstring>
#include <gtest/gtest.h>
#include <stdexcept>
#include <vector>

namespace {

struct faulty {
  std::shared_ptr<pinpool::detail::cpu_faults> faults =
      std::make_shared<pinpool::detail::cpu_faults>();
  std::shared_ptr<pinpool::backend> be = pinpool::detail::make_cpu_backend(faults);
};

pinpool::pool_options small_slabs(pinpool::memory_kind kind = pinpool::memory_kind::pinned_host) {
  pinpool::pool_options o;
  o.kind = kind;
  o.slab_bytes = 1 << 16;
  return o;
}

TEST(faults, a_failed_slab_allocation_throws_out_of_memory_and_the_pool_recovers) {
  faulty f;
  pinpool::pool p(f.be, small_slabs());
  auto first = p.acquire(40000);  // slab 1
  f.faults->fail_nth_allocation = 1;
  EXPECT_THROW(p.acquire(40000), pinpool::out_of_memory);  // needs slab 2: injected failure
  EXPECT_EQ(f.faults->injected.load(), 1u);
  auto st = p.stats();
  EXPECT_EQ(st.bytes_reserved, std::size_t{1} << 16) << "the failed slab is not counted";
  EXPECT_EQ(st.backend_allocations, 1u);
  EXPECT_EQ(st.outstanding_buffers, 1u);
  std::memset(first.data(), 1, first.size());  // earlier buffers stay valid
  auto second = p.acquire(40000);              // recoverable: the next growth works
  EXPECT_EQ(p.stats().backend_allocations, 2u);
  first.reset();
  second.reset();
  EXPECT_EQ(p.trim(), std::size_t{2} << 16) << "every slab is returned: nothing was lost";
}

TEST(faults, the_initial_reservation_failing_fails_construction_cleanly) {
  faulty f;
  f.faults->fail_nth_allocation = 1;
  pinpool::pool_options o = small_slabs();
  o.initial_bytes = 1 << 20;
  EXPECT_THROW(pinpool::pool(f.be, o), pinpool::out_of_memory);
  pinpool::pool ok(f.be, o);  // the next attempt works
  EXPECT_EQ(ok.stats().bytes_reserved, std::size_t{1} << 20);
}

TEST(faults, a_failed_stream_creation_throws_and_later_ones_work) {
  faulty f;
  f.faults->fail_nth_stream_call = 2;
  auto s1 = f.be->create_stream();
  EXPECT_THROW(f.be->create_stream(), pinpool::error);
  auto s3 = f.be->create_stream();
  s1.synchronize();
  s3.synchronize();
}

pinpool::pool_options eager_events(pinpool::memory_kind kind = pinpool::memory_kind::pinned_host) {
  pinpool::pool_options o = small_slabs(kind);
  o.lazy_release = false;  // an event recorded at each release, as for wrapped cudaStream_ts
  return o;
}

TEST(faults, an_event_failure_on_release_quarantines_the_chunk_and_the_pool_refuses_work) {
  faulty f;
  pinpool::pool p(f.be, eager_events());
  auto s = f.be->create_stream();
  auto kept = p.acquire(1000);
  {
    auto b = p.acquire(1000, s);
    f.faults->fail_nth_event_call = 1;  // the release's event creation fails
  }                                     // the destructor reports and quarantines; it never throws
  EXPECT_EQ(f.faults->injected.load(), 1u);
  try {
    p.acquire(1000);
    FAIL() << "a pool that lost track of a release must refuse work";
  } catch (const pinpool::error& e) {
    EXPECT_NE(std::string(e.what()).find("refuses work"), std::string::npos) << e.what();
  }
  EXPECT_EQ(p.stats().outstanding_buffers, 1u);  // `kept` only
  std::memset(kept.data(), 2, kept.size());
}

TEST(faults, a_sticky_failure_refuses_work_with_a_clear_error_and_corrupts_nothing) {
  faulty f;
  pinpool::pool p(f.be, eager_events(pinpool::memory_kind::device));
  auto s = f.be->create_stream();
  auto held = p.acquire(5000, s);
  {
    auto b = p.acquire(5000, s);
    f.faults->sticky = true;
  }
  EXPECT_GE(f.faults->injected.load(), 1u);
  EXPECT_THROW(p.acquire(5000, s), pinpool::error);
  EXPECT_THROW(p.acquire(5000), pinpool::error);
  EXPECT_THROW(s.synchronize(), pinpool::error);
  f.faults->sticky = false;
  EXPECT_THROW(p.acquire(5000), pinpool::error) << "still refused: the pool cannot trust its state";
  held.reset();  // releasing after the failure is safe (quarantined or parked, never reused)
}

// Lazy release: nothing is recorded at release, so a failure surfaces when the chunk is handed
// to the host (the fence is recorded then): that acquisition throws, the chunk stays pending
// (never handed out unordered), and once the runtime works again the hand-off succeeds.
TEST(faults, a_fence_failure_fails_the_hand_off_and_hands_out_nothing_unordered) {
  faulty f;
  pinpool::pool_options o = small_slabs(pinpool::memory_kind::device);
  o.max_bytes = 1 << 16;  // one slab: the host must reuse the chunk released on the stream
  o.acquire_timeout = std::chrono::milliseconds{0};
  pinpool::pool p(f.be, o);
  auto s = f.be->create_stream();
  void* first = nullptr;
  {
    auto b = p.acquire(40000, s);
    first = b.data();
  }  // released lazily: no event call
  EXPECT_EQ(f.faults->injected.load(), 0u);
  f.faults->fail_nth_event_call = 1;
  EXPECT_THROW(p.acquire(40000), pinpool::error);  // the fence's first event call fails
  EXPECT_EQ(f.faults->injected.load(), 1u);
  EXPECT_EQ(p.stats().outstanding_buffers, 0u);
  s.synchronize();
  auto again = p.acquire(40000);  // the stream is idle now: no fence needed
  EXPECT_EQ(again.data(), first);
}

// ---- out of memory (pool_options::on_exhausted) -------------------------------------------------

// A growth the backend refuses: the pool first gives back its idle slabs and tries again, before
// it bothers the application.
TEST(faults, out_of_memory_first_trims_the_pools_own_idle_slabs_and_retries) {
  faulty f;
  int asked = 0;
  pinpool::pool_options o = small_slabs();
  o.on_exhausted = [&](const pinpool::exhaustion&) { return ++asked, false; };
  pinpool::pool p(f.be, o);
  p.acquire(50000).reset();  // slab 1, idle now, but its chunk is of another size
  f.faults->fail_nth_allocation = 1;
  pinpool::buffer b = p.acquire(60000);  // growth fails once, the idle slab goes, growth again
  EXPECT_EQ(f.faults->injected.load(), 1u);
  EXPECT_EQ(asked, 0) << "trimming was enough";
  const pinpool::pool_stats st = p.stats();
  EXPECT_EQ(st.backend_frees, 1u);
  EXPECT_EQ(st.slabs, 1u);
  EXPECT_EQ(st.outstanding_buffers, 1u);
}

// Nothing idle to trim: the callback is told what failed, frees what it can and asks again.
TEST(faults, out_of_memory_asks_the_callback_which_may_free_and_retry) {
  faulty f;
  std::vector<pinpool::exhaustion> told;
  pinpool::pool_options o = small_slabs();
  o.on_exhausted = [&](const pinpool::exhaustion& e) { return told.push_back(e), true; };
  pinpool::pool p(f.be, o);
  pinpool::buffer held = p.acquire(60000);
  f.faults->fail_nth_allocation = 1;
  pinpool::buffer b = p.acquire(60000);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].bytes, 60000u);
  EXPECT_FALSE(told[0].at_cap);
  EXPECT_EQ(told[0].attempt, 1u);
  EXPECT_EQ(p.stats().backend_allocations, 2u);
}

// At the cap a callback that releases a buffer lets the acquisition through; one that only ever
// says "try again" is asked max_exhaustion_retries times and the acquisition then fails.
TEST(faults, at_the_cap_the_callback_may_release_and_a_callback_that_never_frees_is_bounded) {
  faulty f;
  pinpool::pool_options o = small_slabs();
  o.max_bytes = 1 << 16;
  o.acquire_timeout = std::chrono::milliseconds{0};
  pinpool::buffer held;
  int asked = 0;
  o.on_exhausted = [&](const pinpool::exhaustion& e) {
    ++asked;
    EXPECT_TRUE(e.at_cap);
    held.reset();  // frees a chunk of this pool (without its lock: allowed)
    return true;
  };
  pinpool::pool p(f.be, o);
  held = p.acquire(60000);
  pinpool::buffer next = p.acquire(60000);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(p.stats().outstanding_buffers, 1u);

  o.on_exhausted = [&](const pinpool::exhaustion&) { return ++asked, true; };
  o.max_exhaustion_retries = 3;
  pinpool::pool q(f.be, o);
  pinpool::buffer full = q.acquire(60000);
  asked = 0;
  EXPECT_THROW(q.acquire(60000), pinpool::pool_exhausted);
  EXPECT_EQ(asked, 3);
  EXPECT_EQ(q.stats().outstanding_buffers, 1u) << "nothing lost or leaked on the way";
  EXPECT_EQ(q.stats().bytes_reserved, std::size_t{1} << 16);
}

// A callback's own exception is what the acquisition throws; try_acquire never calls it.
TEST(faults, the_callbacks_exception_propagates_and_try_acquire_never_calls_it) {
  faulty f;
  pinpool::pool_options o = small_slabs();
  o.max_bytes = 1 << 16;
  o.acquire_timeout = std::chrono::milliseconds{0};
  int asked = 0;
  o.on_exhausted = [&](const pinpool::exhaustion&) -> bool {
    ++asked;
    throw std::runtime_error("application gave up");
  };
  pinpool::pool p(f.be, o);
  pinpool::buffer full = p.acquire(60000);
  EXPECT_FALSE(p.try_acquire(60000).has_value());
  EXPECT_EQ(asked, 0);
  EXPECT_THROW(p.acquire(60000), std::runtime_error);
  EXPECT_EQ(asked, 1);
  pinpool::buffer again = p.acquire(100);  // the pool still works
}

}  // namespace
