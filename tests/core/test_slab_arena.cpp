// slab_arena: slabs, best-fit carving from free space, growth under the cap, idle chunks given
// back to free space (merged), removing idle slabs
// (src/core/slab_arena.hpp). Slabs are fake host memory: the arena never touches chunk memory.
#include "core/chunk.hpp"
#include "core/class_lists.hpp"
#include "core/event_pool.hpp"
#include "core/size_classes.hpp"
#include "core/slab_arena.hpp"
#include "core_test_support.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <set>
#include <vector>

namespace {

using pinpool::detail::chunk;
using pinpool::detail::class_lists;
using pinpool::detail::event_pool;
using pinpool::detail::size_classes;
using pinpool::detail::slab_arena;
using pinpool::detail::slab_record;

constexpr std::size_t kAlign = 256;
constexpr std::size_t kSlab = 64 * 1024;

struct slab_arena_test : ::testing::Test {
  size_classes sizes{kAlign, 8};
  pinpool_core_test::fake_slabs memory;

  std::uint32_t cls(std::size_t bytes) const { return sizes.index_of(bytes); }
  // What the pool does to grow: reserve, (backend), adopt.
  slab_record& grow(slab_arena& a, std::size_t bytes,
                    pinpool::memory_kind kind = pinpool::memory_kind::host, bool locked = false) {
    a.reserve(bytes);
    return a.adopt(memory.make(bytes, kAlign, kind, locked), nullptr);
  }
  static std::byte* base(const slab_record& s) { return static_cast<std::byte*>(s.mem.ptr); }
  // Bytes of `s` in chunks: everything but its free space.
  static std::size_t carved(const slab_record& s) {
    std::size_t free = 0;
    for (const auto& extent : s.free) free += extent.second;
    return s.mem.bytes - free;
  }
};

TEST_F(slab_arena_test, carve_without_slabs_is_null) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  EXPECT_EQ(a.carve(cls(1)), nullptr);
  EXPECT_TRUE(a.slabs().empty());
  EXPECT_EQ(a.bytes_reserved(), 0u);
}

TEST_F(slab_arena_test, carve_bumps_offsets_and_keeps_alignment) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  slab_record& s = grow(a, 8192);
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(s.mem.ptr) % kAlign, 0u);

  const std::vector<std::size_t> requests{1, 700, 256, 2049, 100};
  std::size_t offset = 0;
  std::vector<chunk*> chunks;
  for (std::size_t r : requests) {
    chunk* c = a.carve(cls(r));
    ASSERT_NE(c, nullptr) << r;
    EXPECT_EQ(c->ptr, base(s) + offset) << r;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c->ptr) % kAlign, 0u) << r;
    EXPECT_EQ(c->bytes, sizes.chunk_bytes(cls(r)));
    EXPECT_EQ(c->cls, cls(r));
    EXPECT_EQ(c->slab, &s);
    EXPECT_EQ(c->st, chunk::state::carved);
    offset += c->bytes;
    chunks.push_back(c);
  }
  EXPECT_EQ(carved(s), offset);
  EXPECT_EQ(offset, 256u + 768 + 256 + 2304 + 256);
  EXPECT_EQ(s.live_chunks, requests.size()) << "a new chunk is handed out: live";
  EXPECT_EQ(s.chunks, chunks);
  EXPECT_EQ(a.chunks_of(cls(1)), 3u);
  EXPECT_EQ(a.chunks_of(cls(700)), 1u);
  EXPECT_EQ(a.chunks_of(cls(2049)), 1u);
  EXPECT_EQ(a.chunks_of(cls(4096)), 0u);
  EXPECT_EQ(std::set<chunk*>(chunks.begin(), chunks.end()).size(), chunks.size())
      << "distinct records";
}

TEST_F(slab_arena_test, carve_is_null_when_no_slab_has_room) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  slab_record& s = grow(a, 4096 + 256);
  ASSERT_NE(a.carve(cls(2048)), nullptr);
  ASSERT_NE(a.carve(cls(2048)), nullptr);
  EXPECT_EQ(a.carve(cls(2048)), nullptr);
  EXPECT_EQ(a.carve(cls(512)), nullptr);
  EXPECT_EQ(carved(s), 4096u) << "a failed carve changes nothing";
  chunk* last = a.carve(cls(256));  // exactly the room left
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->ptr, base(s) + 4096);
  EXPECT_EQ(a.carve(cls(1)), nullptr);
  EXPECT_EQ(carved(s), s.mem.bytes);
  EXPECT_EQ(s.live_chunks, 3u);
}

TEST_F(slab_arena_test, carve_takes_the_smallest_free_extent_that_fits) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  slab_record& s1 = grow(a, 1024);
  slab_record& s2 = grow(a, 8192);
  chunk* big = a.carve(cls(2048));  // does not fit s1
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->slab, &s2);
  EXPECT_EQ(big->ptr, base(s2));
  chunk* small = a.carve(cls(512));  // fits s1, which comes first
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->slab, &s1);
  EXPECT_EQ(small->ptr, base(s1));
  EXPECT_EQ(a.carve(cls(512))->slab, &s1);
  EXPECT_EQ(a.carve(cls(512))->slab, &s2) << "s1 is full";

  slab_arena b(sizes, kAlign, kSlab, 0);
  slab_record& large = grow(b, 8192);
  slab_record& small_slab = grow(b, 1024);
  EXPECT_EQ(b.carve(cls(512))->slab, &small_slab) << "best fit, not first fit";
  EXPECT_EQ(b.carve(cls(1024))->slab, &large) << "512 left in the small slab";
  EXPECT_EQ(b.bytes_free(), 512u + 7168);
}

TEST_F(slab_arena_test, carve_from_a_given_slab) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  grow(a, 4096);
  slab_record& s2 = grow(a, 4096);
  chunk* c = a.carve_from(s2, cls(1000));
  EXPECT_EQ(c->slab, &s2);
  EXPECT_EQ(c->ptr, base(s2));
  EXPECT_EQ(c->bytes, 1024u);
  EXPECT_EQ(s2.live_chunks, 1u);
  EXPECT_EQ(carved(*a.slabs()[0]), 0u);
}

TEST_F(slab_arena_test, growth_without_a_cap_is_slab_bytes_or_the_chunk) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  EXPECT_EQ(a.growth_bytes(cls(1)), kSlab);
  EXPECT_EQ(a.growth_bytes(cls(kSlab)), kSlab);
  // An oversize chunk gets a slab of its own, exactly its size.
  const std::uint32_t big = cls(kSlab + 1);
  EXPECT_EQ(a.growth_bytes(big), sizes.chunk_bytes(big));
  EXPECT_GT(sizes.chunk_bytes(big), kSlab);
  a.reserve(std::size_t{1} << 40);  // no cap: reserved bytes do not matter
  EXPECT_EQ(a.growth_bytes(cls(1)), kSlab);
}

// Geometric growth (pool_options::first_slab_bytes; the benchmark issue: a small workload need
// not reserve a whole 64 MiB slab): the first slab's size, doubling per slab held, up to
// slab_bytes; a larger chunk still gets its own slab. Without a first size: whole slabs.
TEST_F(slab_arena_test, slabs_grow_geometrically_from_the_first_slab_up_to_slab_bytes) {
  constexpr std::size_t mib = std::size_t{1} << 20;
  slab_arena a(sizes, kAlign, 16 * mib, 0, 2 * mib);
  std::vector<std::size_t> grown;
  for (int i = 0; i < 6; ++i) {
    grown.push_back(a.growth_bytes(cls(1)));
    grow(a, grown.back());
  }
  EXPECT_EQ(grown,
            (std::vector<std::size_t>{2 * mib, 4 * mib, 8 * mib, 16 * mib, 16 * mib, 16 * mib}));
  slab_arena b(sizes, kAlign, 16 * mib, 0, 2 * mib);
  EXPECT_EQ(b.growth_bytes(cls(3 * mib)), sizes.chunk_bytes(cls(3 * mib)))
      << "a chunk above the ramp's step gets a slab of its size";
  slab_arena whole(sizes, kAlign, 16 * mib, 0);  // the default: first_slab_bytes = slab_bytes
  EXPECT_EQ(whole.growth_bytes(cls(1)), 16 * mib);
}

TEST_F(slab_arena_test, an_oversize_chunk_fills_its_own_slab) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  const std::uint32_t big = cls(3 * kSlab);
  const std::size_t bytes = a.growth_bytes(big);
  slab_record& s = grow(a, bytes);
  chunk* c = a.carve(big);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->slab, &s);
  EXPECT_EQ(s.chunks, (std::vector<chunk*>{c}));
  EXPECT_EQ(carved(s), s.mem.bytes);
  EXPECT_EQ(a.carve(cls(1)), nullptr);
}

TEST_F(slab_arena_test, growth_shrinks_to_fit_under_the_cap) {
  const std::size_t cap = 100000;  // not a multiple of the alignment
  slab_arena a(sizes, kAlign, kSlab, cap);
  EXPECT_EQ(a.growth_bytes(cls(1)), kSlab) << "room for a whole slab";
  a.reserve(kSlab);
  const std::size_t room = (cap - kSlab) / kAlign * kAlign;  // 34304
  EXPECT_EQ(a.growth_bytes(cls(1)), room);
  EXPECT_EQ(a.growth_bytes(cls(32768)), room) << "the largest class within the room";
  EXPECT_GT(sizes.chunk_bytes(cls(room)), room);
  EXPECT_EQ(a.growth_bytes(cls(room)), 0u) << "its chunk (36864) would not fit";
  a.reserve(room - 32768);  // room left: exactly one 32 KiB chunk (+ the unaligned tail)
  EXPECT_EQ(a.growth_bytes(cls(32768)), 32768u);
  EXPECT_EQ(a.growth_bytes(cls(32769)), 0u);
  a.unreserve(room - 32768);
  EXPECT_EQ(a.growth_bytes(cls(kSlab + 1)), 0u);
  a.unreserve(kSlab);
  EXPECT_EQ(a.growth_bytes(cls(kSlab + 1)), sizes.chunk_bytes(cls(kSlab + 1)))
      << "an oversize chunk under the cap";
  EXPECT_EQ(a.growth_bytes(cls(cap)), 0u) << "a class larger than the cap never fits";
}

TEST_F(slab_arena_test, growth_is_zero_when_the_cap_leaves_no_room) {
  slab_arena a(sizes, kAlign, kSlab, 2 * kSlab);
  a.reserve(2 * kSlab);
  EXPECT_EQ(a.growth_bytes(cls(1)), 0u);
  a.unreserve(100);  // room below one alignment unit
  EXPECT_EQ(a.growth_bytes(cls(1)), 0u);
  a.unreserve(kAlign - 100);
  EXPECT_EQ(a.growth_bytes(cls(1)), kAlign);
  EXPECT_EQ(a.growth_bytes(cls(kAlign + 1)), 0u);
}

TEST_F(slab_arena_test, reserve_and_unreserve_count_bytes_and_adopt_does_not) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  a.reserve(4096);
  a.reserve(8192);
  EXPECT_EQ(a.bytes_reserved(), 12288u);
  a.unreserve(4096);  // that backend call failed
  EXPECT_EQ(a.bytes_reserved(), 8192u);
  a.adopt(memory.make(8192), nullptr);
  EXPECT_EQ(a.bytes_reserved(), 8192u) << "adopted bytes were reserved before";
  EXPECT_EQ(a.slabs().size(), 1u);
}

TEST_F(slab_arena_test, adopt_keeps_the_slab_and_its_nvtx_heap) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  int heap = 0;
  const pinpool::slab mem = memory.make(4096);
  a.reserve(4096);
  slab_record& s = a.adopt(mem, &heap);
  EXPECT_EQ(s.mem.ptr, mem.ptr);
  EXPECT_EQ(s.mem.bytes, 4096u);
  EXPECT_EQ(s.nvtx_heap, &heap);
  EXPECT_EQ(carved(s), 0u);
  EXPECT_EQ(s.free.size(), 1u) << "one free extent: the whole slab";
  EXPECT_EQ(s.live_chunks, 0u);
  EXPECT_EQ(a.slabs().back().get(), &s);
}

// Pool-like use: chunks come back through class_lists, which the arena's `forget` unlinks from.
struct slab_arena_lists_test : slab_arena_test {
  event_pool events{1};
  pinpool::detail::stream_fences fences;
  class_lists lists{sizes.count(), events, fences};
  slab_arena a{sizes, kAlign, kSlab, 0};
  std::vector<chunk*> forgotten;
  std::function<void(chunk*)> forget = [this](chunk* c) {
    forgotten.push_back(c);
    lists.forget(c);
  };
};

TEST_F(slab_arena_lists_test, dissolve_idle_gives_back_idle_chunks_only) {
  slab_record& idle = grow(a, 4096);
  slab_record& busy = grow(a, 4096);
  slab_record& empty = grow(a, 4096);
  chunk* i1 = a.carve_from(idle, cls(1024));
  chunk* i2 = a.carve_from(idle, cls(256));
  chunk* b1 = a.carve_from(busy, cls(1024));
  chunk* b2 = a.carve_from(busy, cls(1024));
  chunk* b3 = a.carve_from(busy, cls(1024));
  lists.make_idle(i1);
  lists.make_idle(i2);
  lists.make_idle(b1);              // b2 stays in use
  lists.add_pending(b3, 3, false);  // released on a stream: still live
  ASSERT_EQ(idle.live_chunks, 0u);
  ASSERT_EQ(busy.live_chunks, 2u);
  ASSERT_EQ(a.chunks_of(cls(1024)), 4u);
  ASSERT_EQ(lists.bytes_ready(), 1024u + 256 + 1024);

  EXPECT_TRUE(a.dissolve_idle(forget));
  EXPECT_EQ(std::set<chunk*>(forgotten.begin(), forgotten.end()), (std::set<chunk*>{i1, i2, b1}));
  EXPECT_EQ(forgotten.size(), 3u) << "once each";
  EXPECT_EQ(lists.bytes_ready(), 0u);
  EXPECT_EQ(carved(idle), 0u);
  EXPECT_EQ(idle.free.size(), 1u) << "merged into one extent";
  EXPECT_TRUE(idle.chunks.empty());
  EXPECT_EQ(carved(busy), 2048u);
  EXPECT_EQ(busy.chunks, (std::vector<chunk*>{b2, b3}));
  EXPECT_EQ(carved(empty), 0u);
  EXPECT_EQ(a.chunks_of(cls(1024)), 2u);
  EXPECT_EQ(a.chunks_of(cls(256)), 0u);
  EXPECT_EQ(a.slabs().size(), 3u) << "giving chunks back keeps the slabs";
  EXPECT_EQ(a.bytes_reserved(), 3 * 4096u);
  EXPECT_EQ(a.bytes_free(), 4096u + 2048 + 4096);
  EXPECT_EQ(lists.take_ready(cls(1024)), nullptr) << "unlinked from the ready list";

  forgotten.clear();
  EXPECT_FALSE(a.dissolve_idle(forget)) << "nothing idle";
  EXPECT_TRUE(forgotten.empty());

  // The freed space serves another class: b1's place (1024 at the start of busy) is the best
  // fit for 1024, the idle slab's whole extent for 4096.
  chunk* other = a.carve(cls(4096));
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->slab, &idle);
  EXPECT_EQ(other->ptr, base(idle));
  chunk* again = a.carve(cls(1024));
  EXPECT_EQ(again->slab, &busy);
  EXPECT_EQ(again->ptr, base(busy));
}

// Chunks given back merge with free neighbours on both sides, so space split among classes
// serves a larger one; chunks in use split free space.
TEST_F(slab_arena_lists_test, dissolved_chunks_merge_with_free_neighbours) {
  slab_record& s = grow(a, 8192);
  std::vector<chunk*> c;
  for (int i = 0; i < 6; ++i) c.push_back(a.carve(cls(1024)));  // 6 KiB carved, 2 KiB free
  ASSERT_EQ(a.bytes_free(), 2048u);
  for (int i : {1, 2, 4, 5}) lists.make_idle(c[i]);  // c[0] and c[3] stay in use
  ASSERT_TRUE(a.dissolve_idle(forget));
  // Free: [1024, 3072) and [4096, 8192), the last merged with the slab's tail.
  ASSERT_EQ(s.free.size(), 2u);
  EXPECT_EQ(s.free.at(1024), 2048u);
  EXPECT_EQ(s.free.at(4096), 4096u);
  EXPECT_EQ(a.carve(cls(8192)), nullptr) << "c[3] splits the free space";
  chunk* big = a.carve(cls(4096));
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->ptr, base(s) + 4096);
  chunk* mid = a.carve(cls(2048));
  ASSERT_NE(mid, nullptr);
  EXPECT_EQ(mid->ptr, base(s) + 1024);
  EXPECT_EQ(a.bytes_free(), 0u);
  lists.make_idle(c[3]);
  lists.make_idle(mid);
  lists.make_idle(big);
  ASSERT_TRUE(a.dissolve_idle(forget));
  ASSERT_EQ(s.free.size(), 1u) << "c[3] joined both sides";
  EXPECT_EQ(s.free.at(1024), 7168u);
}

TEST_F(slab_arena_lists_test, chunk_records_are_reused_after_a_drop) {
  slab_record& s = grow(a, 4096);
  chunk* c1 = a.carve(cls(512));
  chunk* c2 = a.carve(cls(512));
  c1->requested = 300;
  lists.make_idle(c1);
  lists.make_idle(c2);
  ASSERT_TRUE(a.dissolve_idle(forget));
  EXPECT_EQ(c1->st, chunk::state::carved);
  EXPECT_EQ(c1->prev, nullptr);
  EXPECT_EQ(c1->next, nullptr);

  chunk* n1 = a.carve(cls(2048));
  chunk* n2 = a.carve(cls(256));
  const std::set<chunk*> old{c1, c2};
  EXPECT_EQ(old.count(n1), 1u) << "a dropped record is reused";
  EXPECT_EQ(old.count(n2), 1u);
  EXPECT_NE(n1, n2);
  EXPECT_EQ(n1->ptr, base(s));
  EXPECT_EQ(n1->bytes, 2048u);
  EXPECT_EQ(n1->cls, cls(2048));
  EXPECT_EQ(n2->ptr, base(s) + 2048);
  EXPECT_EQ(n2->bytes, 256u);
  EXPECT_EQ(n2->cls, cls(256));
  EXPECT_EQ(n2->slab, &s);
  EXPECT_EQ(s.chunks, (std::vector<chunk*>{n1, n2}));
  EXPECT_EQ(s.live_chunks, 2u);
  EXPECT_EQ(a.chunks_of(cls(512)), 0u);
  EXPECT_EQ(a.chunks_of(cls(2048)), 1u);
  chunk* fresh = a.carve(cls(256));
  EXPECT_EQ(old.count(fresh), 0u) << "spare records used up: a new one";
}

TEST_F(slab_arena_lists_test, remove_idle_returns_idle_slabs_and_lowers_bytes_reserved) {
  slab_record& idle = grow(a, 4096);
  slab_record& busy = grow(a, 8192);
  slab_record& never = grow(a, 16384);
  slab_record& pending = grow(a, 4096);
  chunk* i1 = a.carve_from(idle, cls(1024));
  chunk* b1 = a.carve_from(busy, cls(1024));
  chunk* p1 = a.carve_from(pending, cls(1024));
  lists.make_idle(i1);
  lists.add_pending(p1, 3, false);  // released on a stream: still live
  (void)b1;
  ASSERT_EQ(a.bytes_reserved(), 4096u + 8192 + 16384 + 4096);

  auto removed = a.remove_idle(forget);
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0].get(), &idle);
  EXPECT_EQ(removed[1].get(), &never);
  EXPECT_EQ(removed[0]->mem.bytes, 4096u) << "the slab, for the caller to return";
  EXPECT_EQ(a.bytes_reserved(), 8192u + 4096);
  ASSERT_EQ(a.slabs().size(), 2u);
  EXPECT_EQ(a.slabs()[0].get(), &busy) << "the others keep their order";
  EXPECT_EQ(a.slabs()[1].get(), &pending);
  EXPECT_EQ(forgotten, (std::vector<chunk*>{i1}));
  EXPECT_EQ(a.chunks_of(cls(1024)), 2u);
  EXPECT_EQ(lists.take_ready(cls(1024)), nullptr) << "its idle chunk is unlinked";

  forgotten.clear();
  EXPECT_TRUE(a.remove_idle(forget).empty());
  EXPECT_TRUE(forgotten.empty());
  EXPECT_EQ(a.bytes_reserved(), 8192u + 4096);
}

TEST_F(slab_arena_lists_test, after_remove_idle_the_arena_grows_again_and_reuses_records) {
  grow(a, 4096);
  chunk* c = a.carve(cls(1024));
  lists.make_idle(c);
  auto removed = a.remove_idle(forget);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(a.bytes_reserved(), 0u);
  EXPECT_TRUE(a.slabs().empty());
  EXPECT_EQ(a.carve(cls(1024)), nullptr);
  slab_record& s = grow(a, 4096);
  chunk* again = a.carve(cls(4096));
  EXPECT_EQ(again, c) << "the record of the removed slab's chunk";
  EXPECT_EQ(again->slab, &s);
  EXPECT_EQ(again->ptr, base(s));
  EXPECT_EQ(again->bytes, 4096u);
}

TEST_F(slab_arena_test, all_page_locked_tracks_pinned_slabs_only) {
  slab_arena a(sizes, kAlign, kSlab, 0);
  EXPECT_TRUE(a.all_page_locked()) << "no slab yet";
  grow(a, 4096, pinpool::memory_kind::host, false);
  grow(a, 4096, pinpool::memory_kind::device, false);
  EXPECT_TRUE(a.all_page_locked()) << "host and device slabs are not pinned slabs";
  grow(a, 4096, pinpool::memory_kind::pinned_host, true);
  EXPECT_TRUE(a.all_page_locked());
  grow(a, 4096, pinpool::memory_kind::pinned_host, false);
  EXPECT_FALSE(a.all_page_locked());
  grow(a, 4096, pinpool::memory_kind::pinned_host, true);
  EXPECT_FALSE(a.all_page_locked()) << "once one was not, so far";
}

}  // namespace
