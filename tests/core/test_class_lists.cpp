// class_lists: per-class ready/pending lists and the reuse lookups (src/core/class_lists.hpp).
// Events are opaque to class_lists and event_pool: fake handles (addresses of ints) suffice.
#include "core/chunk.hpp"
#include "core/class_lists.hpp"
#include "core/event_pool.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <gtest/gtest.h>
#include <set>
#include <vector>

namespace {

using pinpool::detail::chunk;
using pinpool::detail::class_lists;
using pinpool::detail::event_pool;
using pinpool::detail::event_slot;
using pinpool::detail::slab_record;

std::vector<chunk*> contents(const pinpool::detail::chunk_list& l) {
  std::vector<chunk*> out;
  for (chunk* c = l.front(); c != nullptr; c = c->next) out.push_back(c);
  return out;
}

struct class_lists_test : ::testing::Test {
  event_pool events{2};
  pinpool::detail::stream_fences fences;
  class_lists lists{4, events, fences};
  std::uint64_t seq = 0;  // take_oldest_pending's out-parameter
  slab_record slab;
  std::deque<chunk> records;  // stable addresses
  std::array<int, 32> event_storage{};
  int next_event = 0;

  // A carved chunk of `cls` (`bytes`), in use: counted live in the slab.
  chunk* in_use(std::uint32_t cls, std::size_t bytes) {
    chunk& c = records.emplace_back();
    c.cls = cls;
    c.bytes = bytes;
    c.slab = &slab;
    c.st = chunk::state::in_use;
    ++slab.live_chunks;
    return &c;
  }
  // Released on streams: `n` fresh events on `device`, then pending.
  chunk* released(std::uint32_t cls, std::size_t bytes, std::uint64_t stream, int n = 1,
                  int device = 0) {
    chunk* c = in_use(cls, bytes);
    for (int i = 0; i < n; ++i) c->events.push_back({fake_event(), device});
    lists.add_pending(c, stream, false);
    return c;
  }
  void* fake_event() { return &event_storage[static_cast<std::size_t>(next_event++)]; }
};

TEST_F(class_lists_test, starts_empty) {
  EXPECT_EQ(lists.count(), 4u);
  EXPECT_EQ(lists.bytes_pending(), 0u);
  for (std::uint32_t cls = 0; cls < 4; ++cls) {
    EXPECT_EQ(lists.take_ready(cls), nullptr);
    EXPECT_EQ(lists.take_same_stream(cls, 1), nullptr);
    std::vector<chunk*> none;
    lists.candidates(cls, none, 8);
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(lists.take_oldest_pending(cls, seq), nullptr);
  }
  EXPECT_EQ(lists.bytes_pending(), 0u);
}

TEST_F(class_lists_test, take_ready_is_lifo_and_counts_chunks_live_again) {
  chunk* a = in_use(1, 512);
  chunk* b = in_use(1, 512);
  chunk* c = in_use(1, 512);
  ASSERT_EQ(slab.live_chunks, 3u);
  lists.make_idle(a);
  lists.make_idle(b);
  EXPECT_EQ(a->st, chunk::state::ready);
  EXPECT_EQ(b->st, chunk::state::ready);
  EXPECT_EQ(slab.live_chunks, 1u) << "idle chunks are not live";
  EXPECT_EQ(lists[1].ready.size(), 2u);

  EXPECT_EQ(lists.take_ready(1), b) << "the warmest (last made idle) first";
  EXPECT_EQ(slab.live_chunks, 2u);
  lists.make_idle(c);
  EXPECT_EQ(slab.live_chunks, 1u);
  EXPECT_EQ(lists.take_ready(1), c);
  EXPECT_EQ(lists.take_ready(1), a);
  EXPECT_EQ(slab.live_chunks, 3u);
  EXPECT_EQ(lists.take_ready(1), nullptr);
  EXPECT_EQ(slab.live_chunks, 3u) << "an empty take changes nothing";
}

TEST_F(class_lists_test, take_ready_only_from_its_class) {
  chunk* a = in_use(2, 768);
  lists.make_idle(a);
  EXPECT_EQ(lists.take_ready(1), nullptr);
  EXPECT_EQ(lists.take_ready(3), nullptr);
  EXPECT_EQ(lists.take_ready(2), a);
}

TEST_F(class_lists_test, add_pending_queues_in_release_order_and_counts_bytes) {
  chunk* a = released(0, 256, 7);
  chunk* b = released(0, 256, 0, 2);
  chunk* c = released(3, 1024, 9);
  EXPECT_EQ(a->st, chunk::state::pending);
  EXPECT_EQ(a->release_stream, 7u);
  EXPECT_EQ(b->release_stream, 0u);
  EXPECT_EQ(contents(lists[0].pending), (std::vector<chunk*>{a, b}));
  EXPECT_EQ(contents(lists[3].pending), (std::vector<chunk*>{c}));
  EXPECT_EQ(lists.bytes_pending(), 256u + 256u + 1024u);
  EXPECT_EQ(slab.live_chunks, 3u) << "pending chunks stay live";
  EXPECT_TRUE(lists[0].ready.empty());
}

TEST_F(class_lists_test, take_same_stream_matches_only_the_identity_and_takes_the_oldest) {
  chunk* multi = released(1, 512, 0, 2);  // released on two streams: no single identity
  chunk* a = released(1, 512, 7);
  chunk* other = released(1, 512, 9);
  chunk* b = released(1, 512, 7);
  chunk* wrong_class = released(2, 768, 7);
  const std::size_t pending = lists.bytes_pending();

  EXPECT_EQ(lists.take_same_stream(1, 8), nullptr);
  EXPECT_EQ(lists.take_same_stream(3, 7), nullptr);
  EXPECT_EQ(lists.bytes_pending(), pending);

  EXPECT_EQ(lists.take_same_stream(1, 7), a);
  EXPECT_EQ(lists.bytes_pending(), pending - 512);
  EXPECT_EQ(lists.take_same_stream(1, 7), b);
  EXPECT_EQ(lists.take_same_stream(1, 7), nullptr);
  EXPECT_EQ(contents(lists[1].pending), (std::vector<chunk*>{multi, other}));
  EXPECT_EQ(lists.take_same_stream(1, 9), other);
  EXPECT_EQ(contents(lists[1].pending), (std::vector<chunk*>{multi}));
  EXPECT_EQ(contents(lists[2].pending), (std::vector<chunk*>{wrong_class}));
  EXPECT_EQ(lists.bytes_pending(), 512u + 768u);
  EXPECT_EQ(slab.live_chunks, 5u) << "a reused pending chunk was live all along";
}

TEST_F(class_lists_test, a_chunk_taken_from_pending_gives_its_events_back) {
  chunk* a = released(1, 512, 7, 1, 0);
  a->events.push_back({fake_event(), 1});
  const std::vector<event_slot> slots = a->events;
  ASSERT_EQ(events.idle_count(), 0u);
  ASSERT_EQ(lists.take_same_stream(1, 7), a);
  EXPECT_TRUE(a->events.empty());
  EXPECT_EQ(events.idle_count(), 2u);
  EXPECT_EQ(events.take(0), slots[0].event);
  EXPECT_EQ(events.take(1), slots[1].event);
}

TEST_F(class_lists_test, take_oldest_pending_keeps_events_and_restore_puts_it_back_first) {
  chunk* a = released(0, 256, 5, 2);
  chunk* b = released(0, 256, 6);
  const std::vector<event_slot> slots = a->events;

  EXPECT_EQ(lists.take_oldest_pending(0, seq), a);
  EXPECT_EQ(a->events.size(), 2u) << "the caller still waits on them";
  EXPECT_EQ(a->events[0].event, slots[0].event);
  EXPECT_EQ(events.idle_count(), 0u);
  EXPECT_EQ(lists.bytes_pending(), 256u);
  EXPECT_EQ(contents(lists[0].pending), (std::vector<chunk*>{b}));

  lists.restore_pending(a);  // the device-side wait failed
  EXPECT_EQ(lists.bytes_pending(), 512u);
  EXPECT_EQ(contents(lists[0].pending), (std::vector<chunk*>{a, b})) << "still the oldest";
  EXPECT_EQ(a->events.size(), 2u);
  EXPECT_EQ(a->st, chunk::state::pending);

  // Unlike take_oldest_pending, the other lookups give the events back.
  EXPECT_EQ(lists.take_pending(a), a);
  EXPECT_TRUE(a->events.empty());
  EXPECT_EQ(events.idle_count(), 2u);

  EXPECT_EQ(lists.take_oldest_pending(0, seq), b);
  EXPECT_EQ(lists.take_oldest_pending(0, seq), nullptr);
  EXPECT_EQ(lists.bytes_pending(), 0u);
  EXPECT_EQ(slab.live_chunks, 2u);
}

TEST_F(class_lists_test, settle_moves_only_done_chunks_to_ready) {
  chunk* a = released(0, 256, 1);
  chunk* b = released(0, 256, 2);
  chunk* c = released(0, 256, 3);
  chunk* d = released(3, 1024, 4, 2);
  chunk* e = released(3, 1024, 5);
  chunk* busy = in_use(3, 1024);
  ASSERT_EQ(slab.live_chunks, 6u);
  std::set<const chunk*> done{a, c, d};
  lists.settle([&](const chunk& x) { return done.count(&x) != 0; });

  EXPECT_EQ(contents(lists[0].pending), (std::vector<chunk*>{b}));
  EXPECT_EQ(contents(lists[3].pending), (std::vector<chunk*>{e}));
  EXPECT_EQ(lists.bytes_pending(), 256u + 1024u);
  EXPECT_EQ(lists[0].ready.size(), 2u);
  EXPECT_EQ(lists[3].ready.size(), 1u);
  for (chunk* x : {a, c, d}) {
    EXPECT_EQ(x->st, chunk::state::ready);
    EXPECT_TRUE(x->events.empty());
  }
  EXPECT_EQ(b->st, chunk::state::pending);
  EXPECT_EQ(b->events.size(), 1u);
  EXPECT_EQ(busy->st, chunk::state::in_use);
  EXPECT_EQ(events.idle_count(), 4u) << "a, c and both of d's";
  EXPECT_EQ(slab.live_chunks, 3u) << "b, e and the chunk in use";

  EXPECT_EQ(lists.take_ready(3), d);
  EXPECT_EQ(slab.live_chunks, 4u);

  lists.settle([](const chunk&) { return false; });
  EXPECT_EQ(lists.bytes_pending(), 256u + 1024u);
  lists.settle([](const chunk&) { return true; });
  EXPECT_EQ(lists.bytes_pending(), 0u);
  EXPECT_TRUE(lists[0].pending.empty());
  EXPECT_TRUE(lists[3].pending.empty());
  EXPECT_EQ(slab.live_chunks, 2u) << "d (taken again) and the chunk in use";
}

TEST_F(class_lists_test, releases_are_numbered_in_order) {
  chunk* a = released(0, 256, 1);
  chunk* b = released(3, 1024, 2);
  chunk* c = released(0, 256, 1);
  EXPECT_LT(a->release_seq, b->release_seq);
  EXPECT_LT(b->release_seq, c->release_seq);
  ASSERT_EQ(lists.take_same_stream(0, 1), a);
  lists.add_pending(a, 1, false);  // released again: a new number
  EXPECT_GT(a->release_seq, c->release_seq);
}

TEST_F(class_lists_test, settle_stops_at_a_streams_first_not_done_release) {
  chunk* a1 = released(2, 768, 7);
  chunk* a2 = released(2, 768, 7);
  chunk* m1 = released(2, 768, 0, 2);  // no single stream: each asked about
  chunk* m2 = released(2, 768, 0, 2);
  chunk* b1 = released(2, 768, 9);
  chunk* b2 = released(2, 768, 9);
  std::vector<const chunk*> asked;
  lists.settle([&](const chunk& x) {
    asked.push_back(&x);
    return &x != a1 && &x != m1;
  });
  EXPECT_EQ(asked, (std::vector<const chunk*>{a1, m1, m2, b1, b2}));
  EXPECT_EQ(contents(lists[2].pending), (std::vector<chunk*>{a1, a2, m1}));
  EXPECT_EQ(contents(lists[2].ready), (std::vector<chunk*>{b2, b1, m2}));
  EXPECT_EQ(lists.bytes_pending(), 3 * 768u);
}

TEST_F(class_lists_test, candidates_are_the_first_chunk_of_each_stream_oldest_first) {
  chunk* a1 = released(1, 512, 7);
  released(1, 512, 7);
  chunk* m1 = released(1, 512, 0, 2);
  chunk* b1 = released(1, 512, 9);
  released(1, 512, 9);
  chunk* m2 = released(1, 512, 0);
  chunk* c1 = released(1, 512, 11);
  released(2, 768, 13);  // another class

  std::vector<chunk*> out{a1, a1, a1};  // cleared first
  lists.candidates(1, out, 16);
  EXPECT_EQ(out, (std::vector<chunk*>{a1, m1, b1, m2, c1}));
  lists.candidates(1, out, 3);
  EXPECT_EQ(out, (std::vector<chunk*>{a1, m1, b1})) << "at most max";
  lists.candidates(1, out, 16, 4);
  EXPECT_EQ(out, (std::vector<chunk*>{a1, m1, b1})) << "four entries looked at";
  lists.candidates(0, out, 16);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(lists.bytes_pending(), 7 * 512u + 768u) << "candidates takes nothing";
}

TEST_F(class_lists_test, take_pending_takes_a_given_chunk_and_gives_its_events_back) {
  chunk* a = released(1, 512, 7, 2);
  chunk* b = released(1, 512, 8);
  chunk* c = released(1, 512, 9);
  EXPECT_EQ(lists.take_pending(b), b);
  EXPECT_TRUE(b->events.empty());
  EXPECT_EQ(events.idle_count(), 1u);
  EXPECT_EQ(lists.bytes_pending(), 1024u);
  EXPECT_EQ(contents(lists[1].pending), (std::vector<chunk*>{a, c}));
  EXPECT_EQ(lists.take_pending(a), a);
  EXPECT_EQ(events.idle_count(), 3u);
  EXPECT_EQ(contents(lists[1].pending), (std::vector<chunk*>{c}));
  EXPECT_EQ(slab.live_chunks, 3u);
}

TEST_F(class_lists_test, forget_unlinks_an_idle_chunk) {
  chunk* a = in_use(1, 512);
  chunk* b = in_use(1, 512);
  chunk* c = in_use(1, 512);
  lists.make_idle(a);
  lists.make_idle(b);
  lists.make_idle(c);
  lists.forget(b);
  EXPECT_EQ(contents(lists[1].ready), (std::vector<chunk*>{c, a}));
  EXPECT_EQ(lists.take_ready(1), c);
  EXPECT_EQ(lists.take_ready(1), a);
  EXPECT_EQ(lists.take_ready(1), nullptr);
}

TEST_F(class_lists_test, per_class_figures_are_the_callers) {
  lists[2].in_use = 3;
  lists[2].acquisitions = 10;
  lists[2].hits = 4;
  const class_lists& view = lists;
  EXPECT_EQ(view[2].in_use, 3u);
  EXPECT_EQ(view[2].acquisitions, 10u);
  EXPECT_EQ(view[2].hits, 4u);
  EXPECT_EQ(view[1].acquisitions, 0u);
}

}  // namespace
