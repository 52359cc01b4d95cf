// Per-thread caches of idle chunks: same-thread reuse without the pool's lists, exact stats,
// lifetime when threads and pools come and go, and no caching under a cap.
#include <pinpool/pinpool.hpp>

#include <cstddef>
#include <gtest/gtest.h>
#include <limits>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

std::shared_ptr<pinpool::backend> cpu() {
  return pinpool::make_backend(pinpool::backend_kind::cpu);
}

pinpool::pool_options uncapped() {
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::host;
  o.slab_bytes = 1 << 20;
  return o;
}

TEST(thread_cache, a_host_release_is_reused_by_the_same_thread_and_stats_stay_exact) {
  pinpool::pool p(cpu(), uncapped());
  void* first = nullptr;
  {
    auto b = p.acquire(5000);
    first = b.data();
  }
  auto st = p.stats();
  EXPECT_EQ(st.bytes_in_use, 0u) << "a cached chunk is idle, not in use";
  EXPECT_EQ(st.outstanding_buffers, 0u);
  EXPECT_EQ(st.bytes_requested, 0u);
  auto again = p.acquire(4900);  // same class (5120 B)
  EXPECT_EQ(again.data(), first);
  st = p.stats();
  EXPECT_EQ(st.acquisitions, 2u);
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.bytes_in_use, p.chunk_size_for(4900));
  EXPECT_EQ(st.bytes_requested, 4900u);
  EXPECT_EQ(st.outstanding_buffers, 1u);
}

TEST(thread_cache, bad_sizes_are_refused_whatever_the_cache_holds) {
  pinpool::pool p(cpu(), uncapped());
  {
    std::vector<pinpool::buffer> held;  // eight classes in a row: every home slot taken
    for (std::size_t bytes = 256; bytes <= 8 * 256; bytes += 256) held.push_back(p.acquire(bytes));
  }
  const auto before = p.stats();
  EXPECT_THROW(p.acquire(0), std::invalid_argument);
  EXPECT_THROW(p.acquire((std::size_t{1} << 62) + 1), std::invalid_argument);
  EXPECT_THROW(p.acquire(std::numeric_limits<std::size_t>::max()), std::invalid_argument);
  EXPECT_THROW(p.try_acquire(0), std::invalid_argument);
  EXPECT_EQ(p.stats().acquisitions, before.acquisitions) << "refused before being counted";
  auto b = p.acquire(256);
  EXPECT_EQ(p.stats().hits, before.hits + 1);
}

TEST(thread_cache, chunks_of_one_class_beyond_its_home_slot_are_reused_too) {
  pinpool::pool p(cpu(), uncapped());
  {
    auto a = p.acquire(5000);
    auto b = p.acquire(5000);
    auto c = p.acquire(5000);
  }
  EXPECT_EQ(p.stats().acquisitions, 3u);
  std::vector<pinpool::buffer> again;
  for (int i = 0; i < 3; ++i) again.push_back(p.acquire(5000));
  const auto st = p.stats();
  EXPECT_EQ(st.acquisitions, 6u);
  EXPECT_EQ(st.hits, 3u) << "one from its home slot, two from the others";
  EXPECT_EQ(st.bytes_requested, 15000u);
}

TEST(thread_cache, another_thread_does_not_see_this_threads_cached_chunks) {
  pinpool::pool p(cpu(), uncapped());
  void* mine = nullptr;
  { mine = p.acquire(5000).data(); }
  void* theirs = nullptr;
  std::thread([&] {
    auto b = p.acquire(5000);
    theirs = b.data();
  }).join();  // the thread's exit returns its cache to the pool
  EXPECT_NE(theirs, mine);
  const auto st = p.stats();
  EXPECT_EQ(st.acquisitions, 2u);
  EXPECT_EQ(st.bytes_in_use, 0u);
}

TEST(thread_cache, a_pool_destroyed_while_another_thread_caches_its_chunks_goes_when_it_exits) {
  auto p = std::make_unique<pinpool::pool>(cpu(), uncapped());
  std::atomic<int> phase{0};
  std::thread worker([&] {
    { auto b = p->acquire(100000); }  // cached by this thread
    phase = 1;
    while (phase.load() != 2) std::this_thread::yield();
  });  // exit: the cache detaches and the pool's memory is released (LSan/ASan check it)
  while (phase.load() != 1) std::this_thread::yield();
  p.reset();  // no buffer outstanding: no report; the memory waits for the worker's cache
  phase = 2;
  worker.join();
}

TEST(thread_cache, a_thread_using_many_pools_evicts_and_accounts_correctly) {
  auto be = cpu();
  std::vector<std::unique_ptr<pinpool::pool>> pools;
  for (int i = 0; i < 6; ++i) pools.push_back(std::make_unique<pinpool::pool>(be, uncapped()));
  for (int round = 0; round < 5; ++round) {
    for (auto& p : pools) {
      auto a = p->acquire(3000);
      auto b = p->acquire(70000);
    }
  }
  for (auto& p : pools) {
    const auto st = p->stats();
    EXPECT_EQ(st.acquisitions, 10u);
    EXPECT_EQ(st.bytes_in_use, 0u);
    EXPECT_EQ(st.outstanding_buffers, 0u);
    EXPECT_EQ(st.backend_allocations, 1u) << "every reuse came from the pool, never the backend";
  }
}

TEST(thread_cache, capped_pools_and_disabled_caches_keep_every_idle_chunk_shared) {
  for (bool capped : {true, false}) {
    pinpool::pool_options o = uncapped();
    o.max_bytes = capped ? (1 << 20) : 0;
    o.thread_cache = capped;  // the uncapped case disables caching explicitly
    pinpool::pool p(cpu(), o);
    void* mine = nullptr;
    { mine = p.acquire(5000).data(); }
    void* theirs = nullptr;
    std::thread([&] { theirs = p.acquire(5000).data(); }).join();
    EXPECT_EQ(theirs, mine) << (capped ? "capped" : "thread_cache = false");
  }
}

}  // namespace
