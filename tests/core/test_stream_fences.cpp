// stream_fences: per-stream records of lazily released chunks (src/core/stream_fences.hpp). The
// records are keyed by stream identity; no backend call is made here (events are only moved
// between the records and the event_pool).
#include "core/event_pool.hpp"
#include "core/stream_fences.hpp"
#include "core_test_support.hpp"

#include <cstdint>
#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace {

using pinpool::stream_ref;
using pinpool::detail::event_pool;
using pinpool::detail::stream_fence;
using pinpool::detail::stream_fences;
using pinpool_core_test::counting_backend;

struct stream_fences_test : ::testing::Test {
  std::shared_ptr<counting_backend> be = std::make_shared<counting_backend>(1);
  event_pool events{1};
  stream_fences fences;
  // Identities only: these handles never reach the backend.
  stream_ref ref(std::uint64_t id) { return stream_ref(*be, reinterpret_cast<void*>(id), 0, id); }
};

TEST_F(stream_fences_test, a_release_creates_the_streams_record_and_counts_it_pending) {
  fences.note_release(ref(7), 1, events);
  fences.note_release(ref(7), 3, events);
  fences.note_release(ref(9), 2, events);
  const stream_fence* f = fences.find(7);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->last, 3u);
  EXPECT_EQ(f->pending, 2u);
  EXPECT_EQ(fences.find(9)->last, 2u);
  EXPECT_EQ(fences.find(8), nullptr);
  fences.left_pending(7);
  EXPECT_EQ(fences.find(7)->pending, 1u);
  EXPECT_EQ(fences.size(), 2u);
}

// find() remembers the last record it returned; pruning erases records, and a pruned stream must
// not be found through that memory (it would be a dangling record).
TEST_F(stream_fences_test, a_pruned_record_is_not_found_again) {
  fences.note_release(ref(1), 1, events);
  fences.left_pending(1);              // nothing pending on stream 1: prunable
  ASSERT_NE(fences.find(1), nullptr);  // remembered now
  std::uint64_t seq = 2;
  for (std::uint64_t id = 100; fences.size() < 64; ++id)
    fences.note_release(ref(id), seq++, events);
  fences.note_release(ref(5000), seq++, events);  // 64 records: prunes before adding
  EXPECT_EQ(fences.find(1), nullptr);
  EXPECT_EQ(fences.size(), 64u);  // the 63 with a pending chunk and the new one
  ASSERT_NE(fences.find(5000), nullptr);
  EXPECT_EQ(fences.find(5000)->pending, 1u);
}

}  // namespace
