// thread_cache: the owner-side hot path (take_cached, park) on the calling thread's table
// (src/core/thread_cache.hpp). Each test runs on a thread of its own whose table entry names a
// stand-in core pointer (never dereferenced while an entry for it exists), and empties the entry
// before the thread exits. Attaching and detaching need a real pool: tests/test_thread_cache.cpp.
#include "core/chunk.hpp"
#include "core/size_classes.hpp"
#include "core/thread_cache.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <gtest/gtest.h>
#include <set>
#include <thread>
#include <vector>

namespace {

using pinpool::detail::cache_entry;
using pinpool::detail::chunk;
using pinpool::detail::pool_core;
using pinpool::detail::tls_cache_table;

// Runs `body` on a fresh thread with entry 1 of its table attached to a stand-in core.
void on_thread_with_entry(const std::function<void(pool_core*, cache_entry&)>& body) {
  std::thread t([&] {
    alignas(64) static char stand_in_storage[64];
    auto* core = reinterpret_cast<pool_core*>(&stand_in_storage[0]);
    cache_entry& e = tls_cache_table.entries[1];
    e.core = core;
    body(core, e);
    for (auto& s : e.slot) s.store(nullptr, std::memory_order_relaxed);
    e.core = nullptr;
  });
  t.join();
}

// Chunk records hold atomics (chunk.hpp): not copyable, so filled in place.
void make_chunks(std::array<chunk, 10>& c) {
  for (std::size_t i = 0; i < c.size(); ++i) {
    c[i].cls = i < 5 ? 2 : 4;
    c[i].bytes = i < 5 ? 768 : 1280;
    c[i].st = chunk::state::in_use;
  }
}

TEST(thread_cache_entry, no_entry_no_cached_chunk) {
  std::thread t([] {
    alignas(64) static char other[64];
    EXPECT_EQ(pinpool::detail::find_cache_entry(reinterpret_cast<pool_core*>(&other[0])), nullptr);
    EXPECT_EQ(pinpool::detail::take_cached(reinterpret_cast<pool_core*>(&other[0]), 0, 1), nullptr);
  });
  t.join();
}

TEST(thread_cache_entry, park_then_take_cached_gives_the_chunk_back_with_its_figures) {
  on_thread_with_entry([](pool_core* core, cache_entry& e) {
    std::array<chunk, 10> c{};
    make_chunks(c);
    EXPECT_EQ(pinpool::detail::find_cache_entry(core), &e);
    c[0].requested = 700;
    ASSERT_TRUE(pinpool::detail::park(core, &c[0]));
    EXPECT_EQ(c[0].st, chunk::state::in_use) << "counted as handed out while cached";
    EXPECT_EQ(e.slot[pinpool::detail::home_slot(2)].load(), &c[0]) << "its class's home slot";
    EXPECT_EQ(e.requested_delta.load(), -700);
    EXPECT_EQ(e.hits.load(), 0u);

    EXPECT_EQ(pinpool::detail::take_cached(core, 4, 1000), nullptr) << "another class";
    EXPECT_EQ(pinpool::detail::take_cached(core, 10, 1000), nullptr) << "same home slot";
    EXPECT_EQ(e.hits.load(), 0u) << "a miss is not counted here";
    chunk* got = pinpool::detail::take_cached(core, 2, 600);
    EXPECT_EQ(got, &c[0]);
    EXPECT_EQ(e.hits.load(), 1u) << "an acquisition and a hit";
    EXPECT_EQ(e.requested_delta.load(), -100);
    EXPECT_EQ(pinpool::detail::take_cached(core, 2, 600), nullptr) << "taken once only";
  });
}

TEST(thread_cache_entry, park_fills_eight_slots_then_refuses) {
  on_thread_with_entry([](pool_core* core, cache_entry& e) {
    std::array<chunk, 10> c{};
    make_chunks(c);
    for (std::size_t i = 0; i < 8; ++i) {
      c[i].requested = 10;
      ASSERT_TRUE(pinpool::detail::park(core, &c[i])) << i;
    }
    EXPECT_FALSE(pinpool::detail::park(core, &c[8])) << "full: the caller releases to the pool";
    EXPECT_EQ(c[8].st, chunk::state::in_use) << "a refused chunk is left alone";
    EXPECT_EQ(e.requested_delta.load(), -80);
    // Classes come back from their own slots only.
    int class2 = 0;
    int class4 = 0;
    while (chunk* x = pinpool::detail::take_cached(core, 2, 1)) {
      EXPECT_EQ(x->cls, 2u);
      ++class2;
    }
    while (chunk* x = pinpool::detail::take_cached(core, 4, 1)) {
      EXPECT_EQ(x->cls, 4u);
      ++class4;
    }
    EXPECT_EQ(class2, 5);
    EXPECT_EQ(class4, 3);
    EXPECT_EQ(e.hits.load(), 8u);
    // All slots free again.
    EXPECT_TRUE(pinpool::detail::park(core, &c[9]));
  });
}

// A closed pool leaves its mark in every slot (pool_core::close): no park finds a slot free (the
// release goes to the pool's lists), no take matches it, whatever the size, and the figures
// count no chunk there.
TEST(thread_cache_entry, a_closed_pools_mark_is_neither_free_nor_taken_nor_counted) {
  on_thread_with_entry([](pool_core* core, cache_entry& e) {
    chunk mark;
    mark.cls = pinpool::detail::closed_mark_class;
    for (auto& s : e.slot) s.store(&mark, std::memory_order_relaxed);
    std::array<chunk, 10> c{};
    make_chunks(c);
    EXPECT_FALSE(pinpool::detail::park_home(e, &c[0]));
    EXPECT_FALSE(pinpool::detail::park(core, &c[0])) << "the release goes to the pool";
    const pinpool::detail::size_classes sizes(256, 8);
    for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{5000},
                              (std::size_t{1} << 62) + 1, SIZE_MAX}) {
      const std::uint32_t cls = sizes.index_of(bytes);
      EXPECT_NE(cls, pinpool::detail::closed_mark_class) << bytes << " bytes";
      EXPECT_EQ(pinpool::detail::take_cached(core, cls, bytes), nullptr) << bytes << " bytes";
    }
    EXPECT_EQ(e.hits.load(), 0u);
    EXPECT_EQ(e.requested_delta.load(), 0);
    pinpool::detail::cache_totals t;
    pinpool::detail::add_cache(t, e, 0);
    EXPECT_EQ(t.chunks, 0u);
    EXPECT_EQ(t.bytes, 0u);
  });
}

// The sizes programs use most, powers of two, over 8 doublings (4 KiB to 512 KiB) and from
// 256 B to 2 KiB, each get a home slot of their own under the default classes (alignment 256,
// 8 per doubling), so interleaving them keeps every one on the inline path. With `cls % 8` the
// eight from 4 KiB up all shared slot 7 (the hot suite found it: 28-35 ns against 12-15 ns).
TEST(thread_cache_entry, powers_of_two_get_distinct_home_slots) {
  const pinpool::detail::size_classes sizes(256, 8);
  for (std::size_t first : {std::size_t{4096}, std::size_t{256}}) {
    std::set<int> slots;
    const int count = first == 256 ? 4 : 8;
    for (int i = 0; i < count; ++i) {
      slots.insert(pinpool::detail::home_slot(sizes.index_of(first << i)));
    }
    EXPECT_EQ(slots.size(), static_cast<std::size_t>(count)) << "from " << first << " bytes";
  }
}

// The hot suite's six sizes interleaved (256 B, 4 KiB, 64 KiB, 1 MiB, 8 MiB, 64 MiB): 256 B and
// 64 MiB share a home slot, and so do 4 KiB and 1 MiB (8 doublings apart), so the second of each
// pair parks in the slot after its home one, and all six are taken back by the inline path.
TEST(thread_cache_entry, the_hot_suites_six_sizes_all_stay_on_the_inline_path) {
  on_thread_with_entry([](pool_core*, cache_entry& e) {
    const pinpool::detail::size_classes sizes(256, 8);
    const std::size_t bytes[] = {256, 4096, 65536, 1 << 20, 8 << 20, 64 << 20};
    std::vector<chunk> c(6);
    for (std::size_t i = 0; i < c.size(); ++i) {
      c[i].cls = sizes.index_of(bytes[i]);
      c[i].bytes = bytes[i];
      c[i].requested = bytes[i];
      c[i].st = chunk::state::in_use;
      ASSERT_TRUE(pinpool::detail::park_home(e, &c[i])) << bytes[i] << " bytes";
    }
    for (std::size_t k = 0; k < c.size(); ++k) {
      const std::size_t i = (k * 5) % c.size();  // another order than parked
      EXPECT_EQ(pinpool::detail::take_home(e, c[i].cls, bytes[i]), &c[i]) << bytes[i] << " bytes";
    }
    EXPECT_EQ(e.hits.load(), 6u);
  });
}

}  // namespace
