// pool_counters: the running figures behind stats() (src/core/counters.hpp), and what thread
// caches hold subtracted from them (cache_totals from add_cache / sum_caches).
#include "core/chunk.hpp"
#include "core/counters.hpp"
#include "core/thread_cache.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace {

using pinpool::pool_stats;
using pinpool::detail::cache_entry;
using pinpool::detail::cache_totals;
using pinpool::detail::chunk;
using pinpool::detail::pool_counters;

TEST(counters, start_at_zero) {
  const pool_counters k;
  pool_stats st;
  k.snapshot(st, cache_totals{});
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.peak_bytes_in_use, 0u);
  EXPECT_EQ(st.bytes_requested, 0u);
  EXPECT_EQ(st.outstanding_buffers, 0u);
  EXPECT_EQ(st.acquisitions, 0u);
  EXPECT_EQ(st.hits, 0u);
}

TEST(counters, handed_out_and_returned_track_use_and_the_peak) {
  pool_counters k;
  k.handed_out(1024, 1000);
  k.handed_out(4096, 3000);
  EXPECT_EQ(k.outstanding, 2u);
  EXPECT_EQ(k.bytes_in_use, 5120u);
  EXPECT_EQ(k.bytes_requested, 4000u);
  EXPECT_EQ(k.peak_in_use, 5120u);

  k.returned(4096);
  k.bytes_requested -= 3000;  // the caller takes the request off
  EXPECT_EQ(k.outstanding, 1u);
  EXPECT_EQ(k.bytes_in_use, 1024u);
  EXPECT_EQ(k.bytes_requested, 1000u);
  EXPECT_EQ(k.peak_in_use, 5120u) << "the peak stays";

  k.handed_out(2048, 2000);
  EXPECT_EQ(k.peak_in_use, 5120u) << "3072 in use: below the peak";
  k.handed_out(4096, 4000);
  EXPECT_EQ(k.bytes_in_use, 7168u);
  EXPECT_EQ(k.peak_in_use, 7168u);
  k.returned(1024);
  k.returned(2048);
  k.returned(4096);
  EXPECT_EQ(k.outstanding, 0u);
  EXPECT_EQ(k.bytes_in_use, 0u);
  EXPECT_EQ(k.peak_in_use, 7168u);
}

TEST(counters, returned_leaves_bytes_requested_to_the_caller) {
  pool_counters k;
  k.handed_out(512, 500);
  k.returned(512);
  EXPECT_EQ(k.bytes_requested, 500u);
}

TEST(counters, fold_adds_a_detached_entrys_figures) {
  pool_counters k;
  k.acquisitions = 10;
  k.hits = 2;
  k.bytes_requested = 5000;
  cache_totals t;
  t.acquisitions = 7;
  t.hits = 6;
  t.requested_delta = -1200;  // requests of chunks parked in the cache
  t.chunks = 3;               // ignored by fold: the caller returned them
  t.bytes = 4096;
  k.fold(t);
  EXPECT_EQ(k.acquisitions, 17u);
  EXPECT_EQ(k.hits, 8u);
  EXPECT_EQ(k.bytes_requested, 3800u);
  EXPECT_EQ(k.outstanding, 0u);
  EXPECT_EQ(k.bytes_in_use, 0u);

  t.requested_delta = 700;  // a positive delta: handed out from the cache since
  k.fold(t);
  EXPECT_EQ(k.bytes_requested, 4500u);
}

TEST(counters, snapshot_copies_every_figure_without_caches) {
  pool_counters k;
  k.handed_out(1024, 1000);
  k.handed_out(2048, 1500);
  k.returned(2048);
  k.bytes_requested -= 1500;
  k.acquisitions = 9;
  k.hits = 4;
  k.grows = 3;
  k.waits = 2;
  k.stream_waits = 5;
  k.backend_allocations = 3;
  k.backend_frees = 1;
  pool_stats st;
  st.name = "kept";
  st.bytes_reserved = 12345;
  st.bytes_pending = 77;
  k.snapshot(st, cache_totals{});
  EXPECT_EQ(st.bytes_in_use, 1024u);
  EXPECT_EQ(st.peak_bytes_in_use, 3072u);
  EXPECT_EQ(st.bytes_requested, 1000u);
  EXPECT_EQ(st.acquisitions, 9u);
  EXPECT_EQ(st.hits, 4u);
  EXPECT_EQ(st.grows, 3u);
  EXPECT_EQ(st.waits, 2u);
  EXPECT_EQ(st.stream_waits, 5u);
  EXPECT_EQ(st.backend_allocations, 3u);
  EXPECT_EQ(st.backend_frees, 1u);
  EXPECT_EQ(st.outstanding_buffers, 1u);
  EXPECT_EQ(st.name, "kept") << "fields the counters do not give are left alone";
  EXPECT_EQ(st.bytes_reserved, 12345u);
  EXPECT_EQ(st.bytes_pending, 77u);
}

TEST(counters, snapshot_subtracts_what_caches_hold) {
  pool_counters k;
  k.handed_out(1024, 1000);
  k.handed_out(1024, 900);
  k.handed_out(4096, 4000);
  k.acquisitions = 3;
  k.hits = 1;
  cache_totals cached;
  cached.chunks = 2;
  cached.bytes = 1024 + 4096;
  cached.requested_delta = -(900 + 4000) + 300;  // two parked, one later re-acquired (300 B)
  cached.acquisitions = 1;
  cached.hits = 1;
  pool_stats st;
  k.snapshot(st, cached);
  EXPECT_EQ(st.bytes_in_use, 1024u);
  EXPECT_EQ(st.outstanding_buffers, 1u);
  EXPECT_EQ(st.bytes_requested, 1000u + 900 + 4000 - 900 - 4000 + 300);
  EXPECT_EQ(st.acquisitions, 4u) << "cache hits are acquisitions the pool did not see";
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(st.peak_bytes_in_use, 6144u) << "the peak is the pool's";
  // The counters themselves are untouched.
  EXPECT_EQ(k.bytes_in_use, 6144u);
  EXPECT_EQ(k.outstanding, 3u);
}

// Cache entries are plain thread-local records: a value-initialised one here stands in.
struct cache_totals_test : ::testing::Test {
  std::array<chunk, 6> chunks{};
  std::unique_ptr<cache_entry> a = std::make_unique<cache_entry>();
  std::unique_ptr<cache_entry> b = std::make_unique<cache_entry>();

  void SetUp() override {
    const std::size_t bytes[] = {256, 256, 1024, 4096, 256, 1024};
    const std::uint32_t cls[] = {0, 0, 3, 7, 0, 3};
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      chunks[i].bytes = bytes[i];
      chunks[i].cls = cls[i];
    }
  }
  static void put(cache_entry& e, int slot, chunk* c) {
    e.slot[slot].store(c, std::memory_order_relaxed);
  }
};

TEST_F(cache_totals_test, an_empty_entry_adds_nothing) {
  cache_totals t;
  pinpool::detail::add_cache(t, *a, 8);
  EXPECT_EQ(t.chunks, 0u);
  EXPECT_EQ(t.bytes, 0u);
  EXPECT_EQ(t.acquisitions, 0u);
  EXPECT_EQ(t.requested_delta, 0);
  EXPECT_TRUE(t.per_class.empty()) << "allocates only when a chunk is counted";
}

TEST_F(cache_totals_test, sum_caches_adds_every_entry) {
  put(*a, 0, &chunks[0]);
  put(*a, 5, &chunks[2]);
  put(*a, 7, &chunks[3]);
  a->hits = 8;  // every take is an acquisition and a hit
  a->requested_delta = -3000;
  put(*b, 2, &chunks[1]);
  put(*b, 3, &chunks[5]);
  b->hits = 1;
  b->requested_delta = 500;

  const cache_totals t = pinpool::detail::sum_caches({a.get(), b.get()}, 8);
  EXPECT_EQ(t.chunks, 5u);
  EXPECT_EQ(t.bytes, 256u + 1024 + 4096 + 256 + 1024);
  EXPECT_EQ(t.acquisitions, 9u);
  EXPECT_EQ(t.hits, 9u);
  EXPECT_EQ(t.requested_delta, -2500);
  ASSERT_EQ(t.per_class.size(), 8u);
  EXPECT_EQ(t.per_class[0], 2u);
  EXPECT_EQ(t.per_class[3], 2u);
  EXPECT_EQ(t.per_class[7], 1u);
  EXPECT_EQ(t.per_class[1], 0u);

  const cache_totals no_classes = pinpool::detail::sum_caches({a.get(), b.get()}, 0);
  EXPECT_EQ(no_classes.chunks, 5u);
  EXPECT_TRUE(no_classes.per_class.empty());
  EXPECT_EQ(pinpool::detail::sum_caches({}, 8).chunks, 0u);

  // And the snapshot of a pool whose five cached chunks are counted as handed out.
  pool_counters k;
  for (int i : {0, 1, 2, 3, 5}) k.handed_out(chunks[static_cast<std::size_t>(i)].bytes, 100);
  k.handed_out(256, 200);  // chunks[4]: really in use
  pool_stats st;
  k.snapshot(st, t);
  EXPECT_EQ(st.outstanding_buffers, 1u);
  EXPECT_EQ(st.bytes_in_use, 256u);
}

}  // namespace
