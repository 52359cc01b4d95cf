// Per-thread caches of idle chunks: same-thread reuse without the pool's lists, exact stats,
// lifetime when threads and pools come and go, and no caching under a cap.
#include <pinpool/pinpool.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <gtest/gtest.h>
#include <limits>
#include <memory>
#include <mutex>
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

// The slabs a pool made and freed, as its registration hooks see them (any thread).
struct slab_log {
  std::mutex m;
  std::vector<pinpool::slab_info> created, destroyed;
  void watch(pinpool::pool_options& o) {
    o.hooks.on_create = [this](const pinpool::slab_info& s) { add(created, s); };
    o.hooks.on_destroy = [this](const pinpool::slab_info& s) { add(destroyed, s); };
  }
  void add(std::vector<pinpool::slab_info>& to, const pinpool::slab_info& s) {
    const std::lock_guard<std::mutex> lock(m);
    to.push_back(s);
  }
  // The slabs' addresses, sorted; `but` (if not null) left out.
  std::vector<void*> of(const std::vector<pinpool::slab_info>& v, const void* but = nullptr) {
    const std::lock_guard<std::mutex> lock(m);
    std::vector<void*> out;
    for (const auto& s : v) {
      if (s.ptr != but) out.push_back(s.ptr);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // The slab made that holds `p`.
  void* holding(const void* p) {
    const std::lock_guard<std::mutex> lock(m);
    const auto* b = static_cast<const std::byte*>(p);
    for (const auto& s : created) {
      const auto* start = static_cast<const std::byte*>(s.ptr);
      if (b >= start && b < start + s.bytes) return s.ptr;
    }
    return nullptr;
  }
};

// An uncapped pool on the CPU backend whose slabs `slabs` records.
std::unique_ptr<pinpool::pool> watched_pool(slab_log& slabs) {
  pinpool::pool_options o = uncapped();
  slabs.watch(o);
  return std::make_unique<pinpool::pool>(cpu(), o);
}

// A thread caches chunks of several classes (one beyond the slab size, so in a slab of its own),
// and keeps `kept` out if asked; `phase` steps: 1 cached, 2 the pool is gone, may exit.
void cache_then_wait(pinpool::pool& p, std::atomic<int>& phase, pinpool::buffer* kept) {
  {
    std::vector<pinpool::buffer> held;
    for (std::size_t bytes : {3000, 70000, 300000, 900000, 3 << 20})
      held.push_back(p.acquire(bytes));
    if (kept != nullptr) *kept = p.acquire(5000);
  }  // released with no stream: parked in this thread's cache
  phase = 1;
  while (phase.load() != 2) std::this_thread::yield();
}

TEST(thread_cache, a_destroyed_pool_frees_its_slabs_while_another_thread_still_caches_its_chunks) {
  slab_log slabs;
  auto p = watched_pool(slabs);
  std::atomic<int> phase{0};
  std::thread worker([&] { cache_then_wait(*p, phase, nullptr); });
  while (phase.load() != 1) std::this_thread::yield();
  const auto st = p->stats();
  EXPECT_EQ(st.bytes_in_use, 0u) << "the worker's chunks are cached, idle";
  EXPECT_GE(st.slabs, 2u);
  p.reset();  // the worker is still running, its cache entry still attached
  EXPECT_EQ(slabs.of(slabs.destroyed), slabs.of(slabs.created))
      << "every slab freed before the caching thread exits";
  phase = 2;
  worker.join();
  EXPECT_EQ(slabs.destroyed.size(), slabs.created.size()) << "and each once";
}

TEST(thread_cache, a_destroyed_pool_keeps_only_the_slabs_of_buffers_still_out) {
  slab_log slabs;
  auto p = watched_pool(slabs);
  std::atomic<int> phase{0};
  pinpool::buffer kept;
  std::thread worker([&] { cache_then_wait(*p, phase, &kept); });
  while (phase.load() != 1) std::this_thread::yield();
  EXPECT_GE(p->stats().slabs, 2u);
  p.reset();
  void* own = slabs.holding(kept.data());
  EXPECT_NE(own, nullptr);
  EXPECT_EQ(slabs.of(slabs.destroyed), slabs.of(slabs.created, own))
      << "every slab but the kept buffer's freed before the caching thread exits";
  phase = 2;
  worker.join();
  kept.reset();  // the last buffer: its slab goes now
  EXPECT_EQ(slabs.of(slabs.destroyed), slabs.of(slabs.created));
}

TEST(thread_cache, a_buffer_released_after_its_pool_is_destroyed_is_not_cached) {
  slab_log slabs;
  auto p = watched_pool(slabs);
  std::atomic<int> phase{0};
  pinpool::buffer kept;
  std::thread worker([&] {
    cache_then_wait(*p, phase, &kept);  // this thread's entry for the pool stays attached
    kept.reset();                       // after the pool is gone, with the worker still alive
    phase = 3;
    while (phase.load() != 4) std::this_thread::yield();
  });
  while (phase.load() != 1) std::this_thread::yield();
  p.reset();
  phase = 2;
  while (phase.load() != 3) std::this_thread::yield();
  EXPECT_EQ(slabs.of(slabs.destroyed), slabs.of(slabs.created))
      << "the release went back to the pool, which let go of its memory, not to the cache";
  phase = 4;
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
