// The checking backend decorator (tests/support/checking_backend.hpp): what it catches, what it
// counts, the poison, and planted bugs it must expose.
#include "support/checking_backend.hpp"
#include "support/forwarding_backend.hpp"

#include <pinpool/pinpool.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <future>
#include <gtest/gtest.h>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using pinpool::memory_kind;
using pinpool_test::checking_backend;
using pinpool_test::is_poisoned;
using pinpool_test::poison_word;

// Counts the slabs the checking backend hands on to the real backend.
class counting_backend final : public pinpool_test::forwarding_backend {
 public:
  using forwarding_backend::forwarding_backend;
  void deallocate(const pinpool::slab& s) noexcept override {
    ++deallocations;
    inner_->deallocate(s);
  }
  void destroy_event(void* e, int device) noexcept override {
    ++event_destructions;
    inner_->destroy_event(e, device);
  }
  std::atomic<int> deallocations{0};
  std::atomic<int> event_destructions{0};
};

struct checked {
  std::shared_ptr<counting_backend> spy =
      std::make_shared<counting_backend>(pinpool::make_backend(pinpool::backend_kind::cpu));
  std::shared_ptr<checking_backend> be = checking_backend::wrap(spy);
};

bool mentions(const std::vector<std::string>& v, const std::string& what) {
  for (const auto& s : v) {
    if (s.find(what) != std::string::npos) return true;
  }
  return false;
}

TEST(checking_backend, a_matching_allocate_and_deallocate_is_clean) {
  checked c;
  const pinpool::slab s = c.be->allocate({memory_kind::pinned_host, 0, 1 << 16, -1});
  EXPECT_EQ(c.be->leaked_slabs(), 1u);
  EXPECT_EQ(c.be->leaked_bytes(), std::size_t{1} << 16);
  c.be->deallocate(s);
  EXPECT_EQ(c.spy->deallocations, 1);
  EXPECT_TRUE(c.be->clean()) << c.be->report();
  EXPECT_EQ(c.be->slabs_allocated(), 1u);
  EXPECT_EQ(c.be->slabs_deallocated(), 1u);
}

TEST(checking_backend, a_foreign_pointer_free_is_caught_and_not_forwarded) {
  checked c;
  alignas(256) static unsigned char foreign[4096];
  c.be->deallocate(pinpool::slab{foreign, sizeof foreign, memory_kind::host, 0, false, -1, false});
  EXPECT_EQ(c.spy->deallocations, 0);
  ASSERT_EQ(c.be->violation_count(), 1u);
  EXPECT_TRUE(mentions(c.be->violations(), "unknown slab")) << c.be->report();
  EXPECT_NE(c.be->report().find("1 violation"), std::string::npos) << c.be->report();
}

TEST(checking_backend, a_double_free_is_caught_and_not_forwarded) {
  checked c;
  const pinpool::slab s = c.be->allocate({memory_kind::host, 0, 4096, -1});
  c.be->deallocate(s);
  c.be->deallocate(s);
  EXPECT_EQ(c.spy->deallocations, 1);
  EXPECT_EQ(c.be->violation_count(), 1u);
  EXPECT_EQ(c.be->leaked_slabs(), 0u);
}

TEST(checking_backend, a_size_kind_or_device_mismatch_is_caught_and_not_forwarded) {
  checked c;
  const pinpool::slab s = c.be->allocate({memory_kind::device, 0, 1 << 16, -1});
  pinpool::slab wrong = s;
  wrong.bytes = 1 << 15;
  c.be->deallocate(wrong);
  wrong = s;
  wrong.kind = memory_kind::host;
  c.be->deallocate(wrong);
  wrong = s;
  wrong.device = 1;
  c.be->deallocate(wrong);
  EXPECT_EQ(c.spy->deallocations, 0);
  const auto v = c.be->violations();
  ASSERT_EQ(v.size(), 3u) << c.be->report();
  EXPECT_NE(v[0].find("32768 bytes"), std::string::npos) << v[0];
  EXPECT_NE(v[1].find("host"), std::string::npos) << v[1];
  EXPECT_NE(v[2].find("device 1"), std::string::npos) << v[2];
  EXPECT_EQ(c.be->leaked_slabs(), 1u);  // still alive: none of those freed it
  c.be->deallocate(s);
  EXPECT_EQ(c.spy->deallocations, 1);
  EXPECT_EQ(c.be->leaked_slabs(), 0u);
}

TEST(checking_backend, leaks_of_slabs_events_and_streams_are_counted) {
  checked c;
  const pinpool::slab kept = c.be->allocate({memory_kind::host, 0, 8192, -1});
  const pinpool::slab freed = c.be->allocate({memory_kind::host, 0, 4096, -1});
  c.be->deallocate(freed);
  void* e = c.be->create_event(0);
  void* e2 = c.be->create_event(0);
  c.be->destroy_event(e2, 0);
  std::optional<pinpool::stream> s = c.be->create_stream();
  EXPECT_EQ(c.be->leaked_slabs(), 1u);
  EXPECT_EQ(c.be->leaked_bytes(), 8192u);
  EXPECT_EQ(c.be->live_events(), 1u);
  EXPECT_EQ(c.be->live_streams(), 1u);
  EXPECT_FALSE(c.be->clean());
  const std::string r = c.be->report();
  EXPECT_NE(r.find("1 alive (8192 bytes)"), std::string::npos) << r;
  EXPECT_NE(r.find("2 events created, 1 alive"), std::string::npos) << r;
  EXPECT_NE(r.find("1 streams created, 1 alive"), std::string::npos) << r;
  s.reset();
  c.be->destroy_event(e, 0);
  c.be->deallocate(kept);
  EXPECT_TRUE(c.be->clean()) << c.be->report();
}

TEST(checking_backend, unknown_and_destroyed_events_are_caught_and_not_forwarded) {
  checked c;
  void* e = c.be->create_event(0);
  c.be->destroy_event(e, 0);
  c.be->destroy_event(e, 0);  // twice
  EXPECT_EQ(c.spy->event_destructions, 1);
  EXPECT_THROW(c.be->event_done(e, 0), pinpool::backend_error);
  EXPECT_EQ(c.be->violation_count(), 2u) << c.be->report();
}

TEST(checking_backend, a_pool_leaves_it_clean_and_a_buffer_kept_past_its_pool_is_a_leak) {
  checked c;
  std::optional<pinpool::buffer> kept;
  {
    pinpool::pool_options o;
    o.kind = memory_kind::pinned_host;
    o.slab_bytes = 1 << 20;
    pinpool::pool p(c.be, o);
    pinpool::stream s = c.be->create_stream();
    for (int i = 0; i < 10; ++i) {
      auto b = p.acquire(1000 << i, s);
      s.memcpy_async(b.data(), b.data(), 8);
    }
    kept = p.acquire(100);
  }
  EXPECT_GE(c.be->leaked_slabs(), 1u) << "the kept buffer's memory is still alive";
  kept.reset();
  EXPECT_TRUE(c.be->clean()) << c.be->report();
  EXPECT_GE(c.be->slabs_allocated(), 1u);
}

TEST(checking_backend, slabs_and_chunks_are_poisoned_after_allocation) {
  checked c;
  for (memory_kind kind : {memory_kind::pinned_host, memory_kind::device, memory_kind::host}) {
    const pinpool::slab s = c.be->allocate({kind, 0, 1 << 16, -1});
    EXPECT_TRUE(is_poisoned(s.ptr, s.bytes)) << pinpool::to_string(kind);
    EXPECT_EQ(*static_cast<const std::uint64_t*>(s.ptr), poison_word);
    c.be->deallocate(s);
    pinpool::pool_options o;
    o.kind = kind;
    pinpool::pool p(c.be, o);
    auto b = p.acquire(5000);
    EXPECT_TRUE(is_poisoned(b.data(), b.capacity())) << pinpool::to_string(kind);
  }
  EXPECT_TRUE(c.be->clean()) << c.be->report();
}

TEST(checking_backend, poison_and_poison_async_fill_the_range_and_stay_inside_live_slabs) {
  checked c;
  const std::size_t bytes = 300 << 10;  // more than poison_async's source: several copies
  const pinpool::slab s = c.be->allocate({memory_kind::device, 0, bytes, -1});
  std::memset(s.ptr, 0, bytes);
  c.be->poison(static_cast<char*>(s.ptr) + 256, 512);
  EXPECT_TRUE(is_poisoned(static_cast<char*>(s.ptr) + 256, 512));
  EXPECT_EQ(static_cast<char*>(s.ptr)[255], 0);
  EXPECT_EQ(static_cast<char*>(s.ptr)[768], 0);
  {
    pinpool::stream st = c.be->create_stream();
    c.be->poison_async(st, s.ptr, bytes);
    st.synchronize();
  }
  EXPECT_TRUE(is_poisoned(s.ptr, bytes));
  EXPECT_EQ(c.be->violation_count(), 0u);
  alignas(8) static unsigned char outside[64];
  c.be->poison(outside, sizeof outside);  // not a slab of this backend
  c.be->poison(s.ptr, bytes + 1);         // runs past the slab
  EXPECT_FALSE(is_poisoned(outside, sizeof outside));
  EXPECT_EQ(c.be->violation_count(), 2u) << c.be->report();
  c.be->deallocate(s);
}

// ---- planted bugs -----------------------------------------------------------------------------

// A one-chunk "pool" over the checking backend, released stream-ordered as the stress test does
// (poison enqueued on the releasing stream, then an event recorded). The buggy one hands the
// chunk out again without looking at the event.
struct one_chunk_pool {
  checking_backend& be;
  bool buggy;
  bool poison;
  pinpool::slab chunk = be.allocate({memory_kind::pinned_host, 0, 4096, -1});
  void* event = be.create_event(0);
  bool pending = false;

  ~one_chunk_pool() {
    be.destroy_event(event, 0);
    be.deallocate(chunk);
  }
  // The chunk when it may be used now, else nullptr (its release has not run yet).
  void* try_acquire() {
    if (pending && !buggy && !be.event_done(event, 0)) return nullptr;
    pending = false;
    return chunk.ptr;
  }
  void release(pinpool::stream_ref s) {
    if (poison) be.poison_async(s, chunk.ptr, chunk.bytes);
    be.record_event(event, 0, s);
    pending = true;
  }
};

void fill(void* p, std::size_t bytes, std::uint64_t word) {
  auto* w = static_cast<std::uint64_t*>(p);
  for (std::size_t i = 0; i < bytes / 8; ++i) w[i] = word;
}

// The first owner enqueues a write on a stream that waits for a gate, releases the chunk on that
// stream, and the second owner takes the chunk from the pool, writes its tag, lets the stream go
// (the gate orders its write before the stream's, so the run has no data race), waits for the
// stream and reads its tag back. Returns the word read.
std::uint64_t second_owner_reads(bool buggy, bool poison) {
  auto be = checking_backend::wrap(pinpool::make_backend(pinpool::backend_kind::cpu));
  std::uint64_t seen = 0;
  {
    pinpool::stream s = be->create_stream();
    one_chunk_pool pool{*be, buggy, poison};
    std::promise<void> gate;
    std::shared_future<void> opened = gate.get_future().share();
    void* first = pool.try_acquire();
    s.launch_host_func([first, opened] {  // still to write the chunk when it is released
      opened.wait();
      fill(first, 4096, 0x1111);
    });
    pool.release(s);
    void* second = pool.try_acquire();
    const bool early = second != nullptr;
    if (!early) {  // a correct pool: the chunk comes back once the release has run
      gate.set_value();
      be->synchronize_event(pool.event, 0);
      second = pool.try_acquire();
    }
    fill(second, 4096, 0x2222);
    if (early) gate.set_value();
    s.synchronize();
    seen = *static_cast<const std::uint64_t*>(second);
  }
  EXPECT_TRUE(be->clean()) << be->report();
  return seen;
}

TEST(checking_backend, planted_bug_a_chunk_handed_out_before_its_release_ran_reads_poison) {
  EXPECT_EQ(second_owner_reads(/*buggy=*/false, /*poison=*/true), 0x2222u);
  EXPECT_EQ(second_owner_reads(/*buggy=*/true, /*poison=*/true), poison_word);
  // Without the poison only the old owner's own write gives it away.
  EXPECT_EQ(second_owner_reads(/*buggy=*/true, /*poison=*/false), 0x1111u);
}

// The same through the real pool, on a backend whose events always claim to be complete: a
// stream-ordered release is then handed to the host at once.
TEST(checking_backend, planted_bug_events_always_done_lets_the_pool_hand_out_a_poisoned_chunk) {
  for (const bool bug : {false, true}) {
    std::shared_ptr<pinpool::backend> inner = pinpool::make_backend(pinpool::backend_kind::cpu);
    if (bug) inner = std::make_shared<pinpool_test::events_always_done>(inner);
    auto be = checking_backend::wrap(inner);
    {
      pinpool::pool_options o;
      o.kind = memory_kind::pinned_host;
      o.slab_bytes = 1 << 16;
      o.max_bytes = 1 << 16;  // one chunk of the size below
      pinpool::pool p(be, o);
      ASSERT_EQ(p.chunk_size_for(1 << 16), std::size_t{1} << 16);
      pinpool::stream s = be->create_stream();
      std::promise<void> gate;
      std::shared_future<void> opened = gate.get_future().share();
      {
        auto b = p.acquire(1 << 16, s);
        void* first = b.data();
        s.launch_host_func([first, opened] {
          opened.wait();
          fill(first, 4096, 0x1111);
        });
        be->poison_async(s, b.data(), b.capacity());
      }  // released on s, its work not run yet
      auto again = p.try_acquire(1 << 16);
      EXPECT_EQ(again.has_value(), bug);
      if (again) {
        fill(again->data(), again->size(), 0x2222);
        gate.set_value();
        s.synchronize();
        EXPECT_EQ(*static_cast<const std::uint64_t*>(again->data()), poison_word);
        EXPECT_TRUE(is_poisoned(again->data(), again->capacity()));
        again.reset();
      } else {
        gate.set_value();
        s.synchronize();
      }
    }
    EXPECT_TRUE(be->clean()) << be->report();
  }
}

}  // namespace
