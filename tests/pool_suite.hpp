#pragma once
// One typed behaviour suite for every backend (RMM's tests/mr style). A backend environment
// `Env` (what it provides: support/backend_test.hpp) instantiates it with
// INSTANTIATE_TYPED_TEST_SUITE_P(name, pool_suite, Env).

#include "support/backend_test.hpp"

#include <pinpool/pinpool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>
#include <gtest/gtest.h>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace pinpool_test {

using namespace std::chrono_literals;
using pinpool::memory_kind;

inline void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds{ms});
}

template <class Env>
class pool_suite : public backend_test<Env> {
 protected:
  std::unique_ptr<pinpool::pool> make_pool(memory_kind kind, std::size_t max_bytes = 0,
                                           std::chrono::milliseconds timeout = 0ms,
                                           std::size_t slab_bytes = 4 << 20) {
    pinpool::pool_options o;
    o.kind = kind;
    o.max_bytes = max_bytes;
    o.acquire_timeout = timeout;
    o.slab_bytes = slab_bytes;
    return std::make_unique<pinpool::pool>(this->be_, o);
  }
};

TYPED_TEST_SUITE_P(pool_suite);

TYPED_TEST_P(pool_suite, chunks_are_aligned_to_256_bytes) {
  for (memory_kind kind : {memory_kind::pinned_host, memory_kind::device, memory_kind::host}) {
    auto p = this->make_pool(kind);
    std::vector<pinpool::buffer> held;
    for (std::size_t bytes : {1, 3, 255, 256, 257, 1000, 4097, 65536, 100001, 3 << 20}) {
      held.push_back(p->acquire(bytes));
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(held.back().data()) % 256, 0u) << bytes;
      EXPECT_EQ(held.back().size(), bytes);
      EXPECT_EQ(held.back().kind(), kind);
    }
  }
}

TYPED_TEST_P(pool_suite, rounding_waste_is_at_most_one_eighth) {
  auto p = this->make_pool(memory_kind::host);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const std::size_t bytes = (rng() >> (rng() % 40 + 24)) + 1;
    const std::size_t chunk = p->chunk_size_for(bytes);
    ASSERT_GE(chunk, bytes);
    if (bytes >= 2048) {
      ASSERT_LE((chunk - bytes) * 8, bytes) << bytes;
    } else {
      ASSERT_LT(chunk - bytes, 256u) << bytes;
    }
  }
  auto b = p->acquire(5000);
  EXPECT_EQ(b.capacity(), p->chunk_size_for(5000));
  EXPECT_LE((b.capacity() - 5000) * 8, 5000u);
}

// After warm-up, a loop of acquire / enqueue / release on several streams makes no backend
// allocation.
TYPED_TEST_P(pool_suite, steady_state_makes_no_backend_allocation) {
  auto p = this->make_pool(memory_kind::pinned_host);
  auto d = this->make_pool(memory_kind::device);
  std::vector<pinpool::stream> streams;
  for (int i = 0; i < 3; ++i) streams.push_back(this->be_->create_stream());
  auto round = [&] {
    for (auto& s : streams) {
      for (std::size_t bytes : {1000, 65536, 1 << 20}) {
        auto h = p->acquire(bytes);
        std::memset(h.data(), 1, bytes);
        auto dev = d->acquire(bytes, s);
        s.memcpy_async(dev.data(), h.data(), bytes);
        h.set_stream(s);
      }
    }
    for (auto& s : streams) s.synchronize();
  };
  for (int i = 0; i < 3; ++i) round();
  const auto before_p = p->stats();
  const auto before_d = d->stats();
  for (int i = 0; i < 100; ++i) round();
  EXPECT_EQ(p->stats().backend_allocations, before_p.backend_allocations);
  EXPECT_EQ(d->stats().backend_allocations, before_d.backend_allocations);
  EXPECT_GT(p->stats().hits, before_p.hits);
  EXPECT_EQ(p->stats().bytes_in_use, 0u);
}

// A chunk released on s can be handed to later work on s at once, before the released work ran.
TYPED_TEST_P(pool_suite, same_stream_reuse_is_immediate) {
  for (memory_kind kind : {memory_kind::pinned_host, memory_kind::device}) {
    auto p = this->make_pool(kind);
    auto s = this->be_->create_stream();
    std::atomic<bool> slow_done{false};
    void* first = nullptr;
    {
      auto b = p->acquire(10000, s);
      first = b.data();
      s.launch_host_func([&] {
        sleep_ms(300);
        slow_done = true;
      });
    }
    auto again = p->acquire(10000, s);
    EXPECT_EQ(again.data(), first);
    EXPECT_FALSE(slow_done.load()) << "the acquisition waited for the stream";
    s.synchronize();
  }
}

// The heart: work still writing a chunk after its release must finish before the host or
// another stream gets it. The pool holds one chunk so that the next acquisition must contend.
TYPED_TEST_P(pool_suite, no_premature_reuse_by_host_or_other_stream) {
  for (memory_kind kind : {memory_kind::pinned_host, memory_kind::device}) {
    for (bool host_acquires : {true, false}) {
      const std::size_t bytes = 1 << 16;
      auto p = this->make_pool(kind, bytes, 5000ms, bytes);
      auto staging = this->make_pool(memory_kind::pinned_host);
      auto s1 = this->be_->create_stream();
      auto s2 = this->be_->create_stream();
      auto pattern = staging->acquire(bytes);
      std::memset(pattern.data(), 0xAB, bytes);
      std::atomic<bool> late_write_done{false};
      {
        auto b = p->acquire(bytes, s1);
        s1.launch_host_func([] { sleep_ms(200); });
        // A write that runs after the release below on any backend: for pinned memory a host
        // function (a pinned-to-pinned cudaMemcpyAsync may run synchronously with the host on a
        // GPU, which would make the test vacuous); for device memory a pinned-to-device copy.
        if (kind == memory_kind::pinned_host) {
          s1.launch_host_func([dst = b.data(), bytes] { std::memset(dst, 0xAB, bytes); });
        } else {
          s1.memcpy_async(b.data(), pattern.data(), bytes);
        }
        s1.launch_host_func([&] { late_write_done = true; });
      }
      if (host_acquires) {
        auto q = p->acquire(bytes);
        EXPECT_TRUE(late_write_done.load()) << to_string(kind) << ": host got a chunk in use";
      } else {
        auto q = p->acquire(bytes, s2);
        std::atomic<bool> seen{false};
        s2.launch_host_func([&] { seen = late_write_done.load(); });
        s2.synchronize();
        EXPECT_TRUE(seen.load()) << to_string(kind) << ": s2 ran before s1's write finished";
      }
      s1.synchronize();
    }
  }
}

TYPED_TEST_P(pool_suite, record_stream_delays_reuse_until_that_stream_is_done) {
  const std::size_t bytes = 4096;
  auto p = this->make_pool(memory_kind::pinned_host, bytes, 5000ms, bytes);
  auto s1 = this->be_->create_stream();
  auto s2 = this->be_->create_stream();
  std::atomic<bool> s2_done{false};
  {
    auto b = p->acquire(bytes, s1);
    b.record_stream(s2);
    b.record_stream(s2);  // recording twice is harmless
    EXPECT_EQ(b.stream_count(), 2u);
    s2.launch_host_func([&] {
      sleep_ms(200);
      s2_done = true;
    });
  }
  auto q = p->acquire(bytes, s1);  // not the same-stream shortcut: s2 also used it
  EXPECT_TRUE(s2_done.load());
  s1.synchronize();
  s2.synchronize();
}

TYPED_TEST_P(pool_suite, set_stream_hands_a_host_filled_chunk_to_a_stream) {
  const std::size_t bytes = 1 << 20;
  auto p = this->make_pool(memory_kind::pinned_host, bytes, 5000ms, bytes);
  auto d = this->make_pool(memory_kind::device);
  auto s = this->be_->create_stream();
  std::atomic<bool> copied{false};
  {
    auto h = p->acquire(bytes);
    std::memset(h.data(), 7, bytes);
    auto dev = d->acquire(bytes, s);
    s.launch_host_func([] { sleep_ms(150); });
    s.memcpy_async(dev.data(), h.data(), bytes);
    s.launch_host_func([&] { copied = true; });
    h.set_stream(s);
  }
  auto h2 = p->acquire(bytes);  // the host may overwrite it only after the copy read it
  EXPECT_TRUE(copied.load());
  s.synchronize();
}

TYPED_TEST_P(pool_suite, exhaustion_throws_try_acquire_is_empty_and_waiting_succeeds) {
  const std::size_t bytes = 8192;
  {
    auto p = this->make_pool(memory_kind::pinned_host, bytes, 0ms, bytes);
    auto held = p->acquire(bytes);
    EXPECT_THROW(p->acquire(bytes), pinpool::pool_exhausted);
    EXPECT_FALSE(p->try_acquire(bytes).has_value());
    held.reset();
    EXPECT_TRUE(p->try_acquire(bytes).has_value());
  }
  {
    auto p = this->make_pool(memory_kind::pinned_host, bytes, 5000ms, bytes);
    auto held = std::make_unique<pinpool::buffer>(p->acquire(bytes));
    std::thread releaser([&] {
      sleep_ms(100);
      held.reset();
    });
    auto got = p->acquire(bytes);
    EXPECT_FALSE(got.empty());
    EXPECT_GE(p->stats().waits, 1u);
    releaser.join();
  }
  {  // try_acquire never waits, even for a release that is about to complete
    auto p = this->make_pool(memory_kind::pinned_host, bytes, 5000ms, bytes);
    auto s = this->be_->create_stream();
    {
      auto b = p->acquire(bytes, s);
      s.launch_host_func([] { sleep_ms(200); });
    }
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(p->try_acquire(bytes).has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 150ms);
    s.synchronize();
    EXPECT_TRUE(p->try_acquire(bytes).has_value());
  }
}

TYPED_TEST_P(pool_suite, trim_returns_idle_slabs_and_the_pool_stays_usable) {
  auto p = this->make_pool(memory_kind::device, 0, 0ms, 1 << 20);
  auto s = this->be_->create_stream();
  {
    std::vector<pinpool::buffer> held;
    for (int i = 0; i < 8; ++i) held.push_back(p->acquire(300000, s));
  }
  auto keep = p->acquire(100);
  s.synchronize();
  const auto before = p->stats();
  EXPECT_GE(before.slabs, 2u);
  const std::size_t freed = p->trim();
  const auto after = p->stats();
  EXPECT_GT(freed, 0u);
  EXPECT_EQ(after.bytes_reserved, before.bytes_reserved - freed);
  EXPECT_EQ(after.backend_frees, before.backend_frees + (before.slabs - after.slabs));
  EXPECT_EQ(after.slabs, 1u);  // the slab holding `keep`
  auto again = p->acquire(300000, s);
  EXPECT_FALSE(again.empty());
}

TYPED_TEST_P(pool_suite, shared_buffer_returns_the_chunk_with_its_last_copy) {
  auto p = this->make_pool(memory_kind::pinned_host);
  pinpool::shared_buffer a{p->acquire(1000)};
  {
    pinpool::shared_buffer b = a;
    EXPECT_EQ(a.use_count(), 2);
    EXPECT_EQ(b.data(), a.data());
    a.reset();
    EXPECT_EQ(p->stats().outstanding_buffers, 1u);
    std::memset(b.data(), 3, b.size());
  }
  EXPECT_EQ(p->stats().outstanding_buffers, 0u);
  EXPECT_EQ(p->stats().bytes_in_use, 0u);
}

TYPED_TEST_P(pool_suite, arena_hands_out_aligned_pieces_of_one_chunk) {
  auto p = this->make_pool(memory_kind::pinned_host);
  {
    pinpool::arena a(*p, 10000);
    auto* base = static_cast<std::byte*>(a.chunk().data());
    void* x = a.allocate(10);
    void* y = a.allocate(100, 64);
    int* z = a.allocate_n<int>(20);
    EXPECT_EQ(x, base);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(y) % 64, 0u);
    EXPECT_GE(static_cast<std::byte*>(y), base + 10);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(z) % 256, 0u);
    EXPECT_EQ(p->stats().outstanding_buffers, 1u);
    const std::size_t used = a.used();
    EXPECT_THROW(a.allocate(20000), pinpool::out_of_memory);
    EXPECT_THROW(a.allocate(8, 3), std::invalid_argument);
    EXPECT_EQ(a.used(), used);  // a failed request changes nothing
    a.reset();
    EXPECT_EQ(a.allocate(16), base);
  }
  EXPECT_EQ(p->stats().outstanding_buffers, 0u);
}

TYPED_TEST_P(pool_suite, bad_requests_throw_and_leave_the_pool_usable) {
  auto p = this->make_pool(memory_kind::pinned_host, 1 << 20);
  auto s = this->be_->create_stream();
  EXPECT_THROW(p->acquire(0), std::invalid_argument);
  EXPECT_THROW(p->acquire(std::numeric_limits<std::size_t>::max()), std::invalid_argument);
  EXPECT_THROW(p->acquire(std::numeric_limits<std::size_t>::max(), s), std::invalid_argument);
  EXPECT_THROW(p->try_acquire(0), std::invalid_argument);
  EXPECT_THROW(p->acquire((1 << 20) + 1), std::invalid_argument);  // above the cap
  auto fine = p->acquire(1000);
  EXPECT_FALSE(fine.empty());
  const auto st = p->stats();
  EXPECT_EQ(st.outstanding_buffers, 1u);
  EXPECT_EQ(st.bytes_in_use, p->chunk_size_for(1000));
  pinpool::pool_options bad;
  bad.alignment = 100;
  EXPECT_THROW(pinpool::pool(this->be_, bad), std::invalid_argument);
  bad = {};
  bad.device = 99;
  EXPECT_THROW(pinpool::pool(this->be_, bad), std::invalid_argument);
  bad = {};
  bad.initial_bytes = 2 << 20;
  bad.max_bytes = 1 << 20;
  EXPECT_THROW(pinpool::pool(this->be_, bad), std::invalid_argument);
  auto other = pinpool::make_backend(pinpool::backend_kind::cpu)->create_stream();
  if (other.get_backend() != this->be_) {
    EXPECT_THROW(p->acquire(10, other), std::invalid_argument);
  }
}

TYPED_TEST_P(pool_suite, a_buffer_outlives_its_pool) {
  auto p = this->make_pool(memory_kind::pinned_host);
  auto s = this->be_->create_stream();
  auto b = p->acquire(1 << 16);
  auto on_stream = p->acquire(1 << 16, s);
  p.reset();  // reports two outstanding buffers on stderr
  std::memset(b.data(), 5, b.size());
  EXPECT_EQ(static_cast<unsigned char*>(b.data())[b.size() - 1], 5);
  s.launch_host_func([] { sleep_ms(50); });
  b.reset();
  on_stream.reset();  // the last one: the pool's memory goes after its release completed
  s.synchronize();
}

TYPED_TEST_P(pool_suite, initial_bytes_are_reserved_up_front) {
  pinpool::pool_options o;
  o.kind = memory_kind::device;
  o.initial_bytes = 3 << 20;
  pinpool::pool p(this->be_, o);
  auto st = p.stats();
  EXPECT_EQ(st.bytes_reserved, std::size_t{3} << 20);
  EXPECT_EQ(st.backend_allocations, 1u);
  auto b = p.acquire(1 << 20);
  EXPECT_EQ(p.stats().backend_allocations, 1u);
}

TYPED_TEST_P(pool_suite, stats_and_json_agree) {
  auto p = this->make_pool(memory_kind::pinned_host);
  auto a = p->acquire(3000);
  auto b = p->acquire(3000);
  const auto st = p->stats();
  EXPECT_EQ(st.acquisitions, 2u);
  EXPECT_EQ(st.bytes_in_use, 2 * p->chunk_size_for(3000));
  EXPECT_EQ(st.bytes_requested, 6000u);
  ASSERT_EQ(st.classes.size(), 1u);
  EXPECT_EQ(st.classes[0].chunks_in_use, 2u);
  const std::string js = st.to_json();
  for (const char* key :
       {"\"bytes_reserved\":", "\"bytes_in_use\":", "\"bytes_pending\":", "\"peak_bytes_in_use\":",
        "\"acquisitions\":2", "\"hits\":", "\"grows\":", "\"waits\":", "\"backend_allocations\":",
        "\"backend_frees\":", "\"classes\":[{"}) {
    EXPECT_NE(js.find(key), std::string::npos) << key << " in " << js;
  }
}

// Two threads, random sizes, host and stream-ordered acquisitions with a pattern check: no chunk
// is ever owned twice.
TYPED_TEST_P(pool_suite, two_thread_stress_never_shares_a_chunk) {
  auto p = this->make_pool(memory_kind::pinned_host, 8 << 20, 5000ms, 1 << 20);
  auto worker = [&](unsigned seed) {
    auto s = this->be_->create_stream();
    std::mt19937 rng(seed);
    for (int i = 0; i < 3000; ++i) {
      const std::size_t bytes = 1 + rng() % 200000;
      const auto tag = static_cast<unsigned char>(seed * 31 + i);
      pinpool::buffer b = rng() % 2 ? p->acquire(bytes) : p->acquire(bytes, s);
      if (b.stream_count() != 0) s.synchronize();  // the host touches it: wait for `s`
      auto* bytes_ptr = static_cast<unsigned char*>(b.data());
      std::memset(bytes_ptr, tag, bytes);
      std::this_thread::yield();
      ASSERT_EQ(bytes_ptr[0], tag);
      ASSERT_EQ(bytes_ptr[bytes - 1], tag);
      ASSERT_EQ(bytes_ptr[bytes / 2], tag);
      if (rng() % 4 == 0) b.set_stream(s);
    }
    s.synchronize();
  };
  std::thread t1(worker, 1u);
  std::thread t2(worker, 2u);
  t1.join();
  t2.join();
  const auto st = p->stats();
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.outstanding_buffers, 0u);
  EXPECT_EQ(st.acquisitions, 6000u);
  EXPECT_LE(st.bytes_reserved, std::size_t{8} << 20);
}

// A report read after the work finished shows nothing pending and the requests of the buffers
// still held (stats() settles completed releases before reporting).
TYPED_TEST_P(pool_suite, stats_after_the_work_finished_show_nothing_pending) {
  for (memory_kind kind : {memory_kind::pinned_host, memory_kind::device}) {
    auto p = this->make_pool(kind);
    pinpool::stream s = this->be_->create_stream();
    pinpool::buffer kept = p->acquire(1000, s);
    for (int i = 0; i < 4; ++i) {
      pinpool::buffer b = p->acquire(4096 << i, s);
      s.memcpy_async(b.data(), kept.data(), 1000);
    }
    s.synchronize();
    const pinpool::pool_stats st = p->stats();
    EXPECT_EQ(st.bytes_pending, 0u) << to_string(kind);
    EXPECT_EQ(st.bytes_requested, 1000u) << to_string(kind);
    EXPECT_EQ(st.bytes_in_use, p->chunk_size_for(1000)) << to_string(kind);
    EXPECT_LE(st.bytes_in_use, st.peak_bytes_in_use) << to_string(kind);
    EXPECT_EQ(st.outstanding_buffers, 1u) << to_string(kind);
  }
}

// A device chunk still pending on stream a (its work blocked) and an acquisition on stream b:
// below the cap the pool grows rather than make b wait for a (`at_cap`, the default); `always`
// reuses the chunk behind a device-side wait, and b's work then runs after a's.
TYPED_TEST_P(pool_suite, below_the_cap_streams_wait_on_each_other_only_when_asked) {
  for (auto policy : {pinpool::cross_stream_reuse::at_cap, pinpool::cross_stream_reuse::always}) {
    pinpool::pool_options o;
    o.kind = memory_kind::device;
    o.pending_reuse = policy;
    pinpool::pool p(this->be_, o);
    pinpool::stream a = this->be_->create_stream();
    pinpool::stream b = this->be_->create_stream();
    std::promise<void> gate;
    std::shared_future<void> opened = gate.get_future().share();
    std::atomic<bool> a_done{false}, b_saw_a_done{false};
    void* first = nullptr;
    {
      pinpool::buffer on_a = p.acquire(4096, a);
      first = on_a.data();
      a.launch_host_func([opened, &a_done] {
        opened.wait();
        a_done = true;
      });
    }
    pinpool::buffer on_b = p.acquire(4096, b);
    b.launch_host_func([&] { b_saw_a_done = a_done.load(); });
    const bool waits = policy == pinpool::cross_stream_reuse::always;
    EXPECT_EQ(on_b.data() == first, waits);
    EXPECT_EQ(p.stats().stream_waits, waits ? 1u : 0u);
    // The gate opens before anything waits on b: a runtime may run all host functions on one
    // callback thread, so b's could be queued behind a's.
    gate.set_value();
    a.synchronize();
    b.synchronize();
    if (waits) {
      EXPECT_TRUE(b_saw_a_done.load()) << "b's work ran before a's";
    }
  }
}

// Lazy release (pool_options::lazy_release, device pools): chunks released on an owning stream
// record no event; the first hand-off to another stream records one fence on the stream, which
// covers every chunk released there before it.
TYPED_TEST_P(pool_suite, one_fence_hands_over_every_earlier_release_on_a_stream) {
  constexpr std::size_t chunk = 1 << 16;
  auto p = this->make_pool(memory_kind::device, 4 * chunk, 0ms, 4 * chunk);
  pinpool::stream a = this->be_->create_stream();
  pinpool::stream b = this->be_->create_stream();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  std::atomic<bool> a_done{false};
  std::set<void*> released;
  {
    std::vector<pinpool::buffer> on_a;
    for (int i = 0; i < 4; ++i) on_a.push_back(p->acquire(chunk, a));
    for (const auto& buf : on_a) released.insert(buf.data());
    a.launch_host_func([opened, &a_done] {
      opened.wait();
      a_done = true;
    });
  }
  EXPECT_EQ(p->stats().fences, 1u) << "stats() fences the stream to settle what completed";
  std::vector<pinpool::buffer> again;  // at the cap: b waits on the device for a's fence
  for (int i = 0; i < 4; ++i) again.push_back(p->acquire(chunk, b));
  std::atomic<bool> b_saw_a_done{false};
  b.launch_host_func([&] { b_saw_a_done = a_done.load(); });
  gate.set_value();
  b.synchronize();
  EXPECT_TRUE(b_saw_a_done.load()) << "b's work ran before a's";
  EXPECT_EQ(p->stats().stream_waits, 4u);
  for (const auto& buf : again) EXPECT_EQ(released.count(buf.data()), 1u);
  EXPECT_EQ(p->stats().fences, 1u) << "one record covered all four releases";
}

TYPED_TEST_P(pool_suite, a_destroyed_streams_releases_need_no_fence) {
  constexpr std::size_t chunk = 1 << 16;
  auto p = this->make_pool(memory_kind::device, chunk, 0ms, chunk);
  pinpool::stream b = this->be_->create_stream();
  void* first = nullptr;
  {
    pinpool::stream a = this->be_->create_stream();
    pinpool::buffer on_a = p->acquire(chunk, a);
    first = on_a.data();
    a.launch_host_func([] { sleep_ms(20); });
  }  // released, then the stream is destroyed (after its work has run)
  pinpool::buffer again = p->acquire(chunk, b);
  EXPECT_EQ(again.data(), first);
  const pinpool::pool_stats st = p->stats();
  EXPECT_EQ(st.fences, 0u);
  EXPECT_EQ(st.stream_waits, 0u);
}

// pool_options::max_pending_bytes: a host loop that stages chunks for slow stream work grows
// the pool without a bound (the control); with a bound it waits on the host for the oldest
// pending chunk instead, and gets it only after that chunk's stream work ran.
TYPED_TEST_P(pool_suite, max_pending_bytes_bounds_a_host_loop_that_outruns_its_stream) {
  constexpr std::size_t chunk = 64 << 10;
  constexpr int ops = 24;
  for (const std::size_t bound : {std::size_t{0}, 4 * chunk}) {
    pinpool::pool_options o;
    o.kind = memory_kind::pinned_host;
    o.slab_bytes = chunk;  // a slab per chunk: bytes_reserved counts chunks
    o.max_pending_bytes = bound;
    pinpool::pool p(this->be_, o);
    pinpool::stream s = this->be_->create_stream();
    std::vector<std::atomic<bool>> done(ops);
    std::vector<void*> addresses;  // of op i
    int reused_before_done = 0;
    for (int i = 0; i < ops; ++i) {
      pinpool::buffer b = p.acquire(chunk);
      for (std::size_t j = 0; j < addresses.size(); ++j) {  // the chunk's previous user
        if (addresses[j] == b.data() && !done[j]) ++reused_before_done;
      }
      addresses.push_back(b.data());
      std::memset(b.data(), i, chunk);
      s.launch_host_func([&done, i] {
        sleep_ms(2);
        done[static_cast<std::size_t>(i)] = true;
      });
      b.set_stream(s);
    }
    s.synchronize();
    const pinpool::pool_stats st = p.stats();
    EXPECT_EQ(reused_before_done, 0) << "bound " << bound;
    if (bound == 0) {
      EXPECT_GT(st.bytes_reserved, 8 * chunk) << "the control: the loop outruns its stream";
      EXPECT_EQ(st.waits, 0u);
    } else {
      EXPECT_LE(st.bytes_reserved, bound + chunk);
      EXPECT_GT(st.waits, 0u);
    }
  }
}

// Stream slots (thread caches, pools without a cap): a device chunk released on its one owning
// stream parks with the releasing thread for that stream's next acquisition there. It is reused
// on that stream at once, never handed to another stream or the host, and counted pending.
TYPED_TEST_P(pool_suite, a_chunk_parked_for_its_stream_goes_to_that_stream_alone) {
  auto p = this->make_pool(memory_kind::device);
  pinpool::stream a = this->be_->create_stream();
  pinpool::stream b = this->be_->create_stream();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  std::atomic<bool> a_done{false};
  void* first = nullptr;
  {
    pinpool::buffer x = p->acquire(4096, a);
    first = x.data();
    a.launch_host_func([opened, &a_done] {
      opened.wait();
      a_done = true;
    });
  }
  {
    pinpool::buffer on_b = p->acquire(4096, b);
    EXPECT_NE(on_b.data(), first) << "b got a chunk a's work may still use";
  }
  {
    pinpool::buffer host = p->acquire(4096);
    EXPECT_NE(host.data(), first) << "the host got a chunk a's work may still use";
  }
  {
    pinpool::buffer again = p->acquire(4096, a);
    EXPECT_EQ(again.data(), first) << "same stream: reused at once";
    EXPECT_FALSE(a_done.load());
  }
  EXPECT_EQ(p->stats().bytes_pending, p->chunk_size_for(4096)) << "released on a, a still busy";
  gate.set_value();
  a.synchronize();
  b.synchronize();
  EXPECT_EQ(p->stats().bytes_pending, 0u);
  EXPECT_EQ(p->stats().bytes_in_use, 0u);
}

// A thread that exits hands the chunks it parked for a stream to the pool, pending on that
// stream: reusable there at once, by the host only after the stream's work ran.
TYPED_TEST_P(pool_suite, a_thread_exit_hands_its_stream_parked_chunks_to_the_pool_pending) {
  auto p = this->make_pool(memory_kind::device);
  pinpool::stream a = this->be_->create_stream();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  void* first = nullptr;
  std::thread([&] {
    pinpool::buffer x = p->acquire(4096, a);
    first = x.data();
    a.launch_host_func([opened] { opened.wait(); });
  }).join();
  const pinpool::pool_stats st = p->stats();
  EXPECT_EQ(st.bytes_pending, p->chunk_size_for(4096));
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.outstanding_buffers, 0u);
  {
    pinpool::buffer host = p->acquire(4096);
    EXPECT_NE(host.data(), first) << "the host got a chunk a's work may still use";
    pinpool::buffer again = p->acquire(4096, a);
    EXPECT_EQ(again.data(), first) << "same stream: reused at once";
  }
  gate.set_value();
  a.synchronize();
  EXPECT_EQ(p->stats().bytes_pending, 0u);
}

// Threads that find an empty pool at once add one slab between them: the others wait for the
// slab being added (it holds their chunks too) instead of each adding one.
TYPED_TEST_P(pool_suite, concurrent_first_acquisitions_add_one_slab) {
  constexpr int threads = 8;
  for (int round = 0; round < 40; ++round) {
    auto p = this->make_pool(memory_kind::pinned_host);
    std::atomic<int> ready{0};
    std::vector<pinpool::buffer> got(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < threads) std::this_thread::yield();
        got[static_cast<std::size_t>(t)] = p->acquire(1024);
      });
    }
    for (auto& w : workers) w.join();
    ASSERT_EQ(p->stats().backend_allocations, 1u) << "round " << round;
    ASSERT_EQ(p->stats().outstanding_buffers, static_cast<std::size_t>(threads));
  }
}

REGISTER_TYPED_TEST_SUITE_P(
    pool_suite, concurrent_first_acquisitions_add_one_slab,
    a_chunk_parked_for_its_stream_goes_to_that_stream_alone,
    a_thread_exit_hands_its_stream_parked_chunks_to_the_pool_pending,
    max_pending_bytes_bounds_a_host_loop_that_outruns_its_stream,
    below_the_cap_streams_wait_on_each_other_only_when_asked,
    stats_after_the_work_finished_show_nothing_pending, chunks_are_aligned_to_256_bytes,
    rounding_waste_is_at_most_one_eighth, steady_state_makes_no_backend_allocation,
    same_stream_reuse_is_immediate, no_premature_reuse_by_host_or_other_stream,
    record_stream_delays_reuse_until_that_stream_is_done,
    set_stream_hands_a_host_filled_chunk_to_a_stream,
    exhaustion_throws_try_acquire_is_empty_and_waiting_succeeds,
    trim_returns_idle_slabs_and_the_pool_stays_usable,
    shared_buffer_returns_the_chunk_with_its_last_copy, arena_hands_out_aligned_pieces_of_one_chunk,
    bad_requests_throw_and_leave_the_pool_usable, a_buffer_outlives_its_pool,
    initial_bytes_are_reserved_up_front, stats_and_json_agree,
    two_thread_stress_never_shares_a_chunk, one_fence_hands_over_every_earlier_release_on_a_stream,
    a_destroyed_streams_releases_need_no_fence);

}  // namespace pinpool_test
