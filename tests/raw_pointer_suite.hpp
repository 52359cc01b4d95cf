#pragma once
// The raw-pointer API (pool::allocate / deallocate / record_stream) as a typed suite over every
// backend, with the same environments as pool_suite.hpp (instantiated beside it).

#include "support/backend_test.hpp"

#include <pinpool/pinpool.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pinpool_test {

template <class Env>
class raw_pointer_suite : public backend_test<Env> {
 protected:
  std::unique_ptr<pinpool::pool> make_pool(pinpool::memory_kind kind, std::size_t max_bytes = 0,
                                           std::size_t slab_bytes = 4 << 20) {
    pinpool::pool_options o;
    o.kind = kind;
    o.max_bytes = max_bytes;
    o.acquire_timeout = std::chrono::milliseconds{5000};
    o.slab_bytes = slab_bytes;
    o.name = "raw-test";
    return std::make_unique<pinpool::pool>(this->be_, o);
  }
};

TYPED_TEST_SUITE_P(raw_pointer_suite);

inline void raw_sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds{ms});
}

// Expects `f` to throw std::invalid_argument whose message names the pool and contains `what`.
template <class F>
void expect_refused(F&& f, const char* what) {
  try {
    f();
    ADD_FAILURE() << "not refused: " << what;
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("pool 'raw-test'"), std::string::npos) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
  }
}

TYPED_TEST_P(raw_pointer_suite, allocate_and_deallocate_count_as_buffers) {
  using pinpool::memory_kind;
  for (memory_kind kind : {memory_kind::pinned_host, memory_kind::device, memory_kind::host}) {
    auto p = this->make_pool(kind);
    pinpool::stream s = this->be_->create_stream();
    void* host = p->allocate(1000);
    void* on_s = p->allocate(5000, s);
    void* aligned = p->allocate_aligned(100, 4096, s);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(host) % 256, 0u);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 4096, 0u);
    pinpool::pool_stats st = p->stats();
    EXPECT_EQ(st.outstanding_buffers, 3u);
    EXPECT_EQ(st.bytes_in_use, p->chunk_size_for(1000) + p->chunk_size_for(5000) +
                                   p->chunk_size_for(100 + 4096 - 256));
    EXPECT_EQ(p->allocate(0), nullptr);  // as cudaMalloc: 0 bytes, no memory
    p->deallocate(nullptr);              // as cudaFree(nullptr)
    p->deallocate(nullptr, s);
    p->deallocate(host);
    p->deallocate(on_s, s);
    p->deallocate(aligned);  // behind the stream it was allocated on
    s.synchronize();
    st = p->stats();
    EXPECT_EQ(st.outstanding_buffers, 0u) << to_string(kind);
    EXPECT_EQ(st.bytes_in_use, 0u) << to_string(kind);
    EXPECT_EQ(st.acquisitions, 3u) << to_string(kind);
  }
}

// cudaMallocAsync / cudaFreeAsync semantics: a chunk freed on s goes to later work on s at once,
// never to the host before s's work ran.
TYPED_TEST_P(raw_pointer_suite, stream_ordered_reuse_follows_the_buffer_rules) {
  using pinpool::memory_kind;
  for (memory_kind kind : {memory_kind::pinned_host, memory_kind::device}) {
    const std::size_t bytes = 1 << 16;
    auto p = this->make_pool(kind, bytes, bytes);  // one chunk: every allocation contends
    pinpool::stream s = this->be_->create_stream();
    std::atomic<bool> done{false};
    void* first = p->allocate(bytes, s);
    s.launch_host_func([&done] {
      raw_sleep_ms(200);
      done = true;
    });
    p->deallocate(first, s);
    void* again = p->allocate(bytes, s);  // same stream: at once, before the work ran
    EXPECT_EQ(again, first);
    EXPECT_FALSE(done.load()) << "the same-stream allocation waited for the stream";
    p->deallocate(again, s);
    void* host = p->allocate(bytes);  // the host: only once s's work ran
    EXPECT_TRUE(done.load()) << to_string(kind) << ": the host got a chunk still in use";
    p->deallocate(host);
    s.synchronize();
  }
}

// deallocate(p, t) orders the reuse after t, not after the stream p was allocated on; and
// record_stream adds a stream the release waits for.
TYPED_TEST_P(raw_pointer_suite, deallocate_on_another_stream_and_record_stream) {
  const std::size_t bytes = 4096;
  auto p = this->make_pool(pinpool::memory_kind::pinned_host, bytes, bytes);
  pinpool::stream a = this->be_->create_stream();
  pinpool::stream b = this->be_->create_stream();
  pinpool::stream c = this->be_->create_stream();
  std::atomic<bool> b_done{false}, c_done{false};
  void* ptr = p->allocate(bytes, a);
  b.launch_host_func([&b_done] {
    raw_sleep_ms(150);
    b_done = true;
  });
  c.launch_host_func([&c_done] {
    raw_sleep_ms(300);
    c_done = true;
  });
  p->record_stream(ptr, c);
  p->record_stream(ptr, c);  // twice is harmless
  p->deallocate(ptr, b);     // returns at once
  EXPECT_FALSE(b_done.load());
  void* again = p->allocate(bytes);  // at the cap: waits for b and for the recorded c
  EXPECT_EQ(again, ptr);
  EXPECT_TRUE(b_done.load());
  EXPECT_TRUE(c_done.load()) << "the release did not wait for the recorded stream";
  p->deallocate(again);
  a.synchronize();
  b.synchronize();
  c.synchronize();
}

// Foreign, interior, another pool's and double-freed pointers are refused with the pool's name,
// and the pool is unchanged: the good pointer still goes back, and the chunk is handed out once.
TYPED_TEST_P(raw_pointer_suite, bad_pointers_are_refused_and_the_pool_stays_consistent) {
  auto p = this->make_pool(pinpool::memory_kind::host);
  pinpool::pool_options other_opt;
  other_opt.kind = pinpool::memory_kind::host;
  other_opt.name = "other";
  pinpool::pool other(this->be_, other_opt);
  pinpool::stream s = this->be_->create_stream();
  void* good = p->allocate(10000);
  void* theirs = other.allocate(10000);
  int local = 0;
  auto* bytes = static_cast<unsigned char*>(good);
  expect_refused([&] { p->deallocate(&local); }, "not a pointer this pool handed out");
  expect_refused([&] { p->deallocate(theirs); }, "not a pointer this pool handed out");
  expect_refused([&] { p->deallocate(bytes + 1); }, "interior");
  expect_refused([&] { p->deallocate(bytes + 256); }, "interior");
  expect_refused([&] { p->deallocate(bytes + 256, s); }, "interior");
  expect_refused([&] { p->record_stream(bytes + 512, s); }, "interior");
  expect_refused([&] { p->record_stream(&local, s); }, "not a pointer this pool handed out");
  EXPECT_EQ(p->stats().outstanding_buffers, 1u);
  p->deallocate(good);
  expect_refused([&] { p->deallocate(good); }, "double free");
  expect_refused([&] { p->deallocate(good, s); }, "double free");
  expect_refused([&] { p->record_stream(good, s); }, "double free");
  void* a = p->allocate(10000);
  void* b = p->allocate(10000);
  EXPECT_NE(a, b) << "a refused double free put the chunk on a list twice";
  p->deallocate(a);
  p->deallocate(b);
  other.deallocate(theirs);
  const pinpool::pool_stats st = p->stats();
  EXPECT_EQ(st.outstanding_buffers, 0u);
  EXPECT_EQ(st.bytes_in_use, 0u);
}

// A stream the pool cannot use: refused, and the pointer stays out (it can be given back).
TYPED_TEST_P(raw_pointer_suite, a_refused_stream_leaves_the_pointer_out) {
  auto p = this->make_pool(pinpool::memory_kind::host);
  auto cpu = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::stream foreign = cpu->create_stream();  // another backend's
  void* ptr = p->allocate(4096);
  EXPECT_THROW(p->deallocate(ptr, foreign), std::invalid_argument);
  EXPECT_THROW(p->record_stream(ptr, foreign), std::invalid_argument);
  EXPECT_THROW((void)p->allocate(4096, foreign), std::invalid_argument);
  EXPECT_EQ(p->stats().outstanding_buffers, 1u);
  p->deallocate(ptr);
  EXPECT_EQ(p->stats().outstanding_buffers, 0u);
}

TYPED_TEST_P(raw_pointer_suite, another_thread_deallocates) {
  auto p = this->make_pool(pinpool::memory_kind::pinned_host);
  pinpool::stream s = this->be_->create_stream();
  std::vector<void*> ptrs;
  for (int i = 0; i < 64; ++i) {
    ptrs.push_back(i % 2 ? p->allocate(1000 + 512 * i) : p->allocate(1000 + 512 * i, s));
  }
  std::thread other([&] {
    for (std::size_t i = 0; i < ptrs.size(); ++i) {
      if (i % 3 == 0) {
        p->deallocate(ptrs[i], s);
      } else {
        p->deallocate(ptrs[i]);
      }
    }
    EXPECT_THROW(p->deallocate(ptrs[0]), std::invalid_argument);  // freed above
  });
  other.join();
  s.synchronize();
  const pinpool::pool_stats st = p->stats();
  EXPECT_EQ(st.outstanding_buffers, 0u);
  EXPECT_EQ(st.bytes_in_use, 0u);
}

// Allocating threads hand their pointers to deallocating threads through a queue, a third on a
// stream; every pointer is written with its owner's tag while out, and checked before it goes
// back: no chunk is ever out twice. Run under TSan (tsan preset) as well.
TYPED_TEST_P(raw_pointer_suite, concurrent_allocate_and_deallocate_on_other_threads) {
  auto p = this->make_pool(pinpool::memory_kind::pinned_host, 16 << 20, 1 << 20);
  constexpr int producers = 3;
  constexpr int consumers = 3;
  constexpr int per_producer = 2000;
  struct item {
    void* ptr;
    std::size_t bytes;
    unsigned char tag;
  };
  std::mutex m;
  std::condition_variable cv;
  std::deque<item> queue;
  int producers_left = producers;
  // The streams outlive every release made on them (a pointer allocated on a producer's stream
  // goes back behind it, from a consumer's thread).
  std::vector<pinpool::stream> streams;
  for (int i = 0; i < producers + consumers; ++i) streams.push_back(this->be_->create_stream());
  auto producer = [&](unsigned seed) {
    pinpool::stream& s = streams[seed % producers];
    std::mt19937 rng(seed);
    for (int i = 0; i < per_producer; ++i) {
      const std::size_t bytes = 1 + rng() % 50000;
      const bool on_stream = rng() % 4 == 0;
      void* ptr = on_stream ? p->allocate(bytes, s) : p->allocate(bytes);
      if (on_stream) s.synchronize();  // the host writes it next
      const auto tag = static_cast<unsigned char>(rng());
      std::memset(ptr, tag, bytes);
      std::lock_guard<std::mutex> lock(m);
      queue.push_back({ptr, bytes, tag});
      cv.notify_one();
    }
    std::lock_guard<std::mutex> lock(m);
    --producers_left;
    cv.notify_all();
  };
  auto consumer = [&](int k) {
    pinpool::stream& s = streams[producers + k];
    for (unsigned n = 0;; ++n) {
      item it{};
      {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return !queue.empty() || producers_left == 0; });
        if (queue.empty()) break;
        it = queue.front();
        queue.pop_front();
      }
      const auto* bytes = static_cast<const unsigned char*>(it.ptr);
      ASSERT_EQ(bytes[0], it.tag);
      ASSERT_EQ(bytes[it.bytes / 2], it.tag);
      ASSERT_EQ(bytes[it.bytes - 1], it.tag);
      if (n % 3 == 0) {
        p->deallocate(it.ptr, s);
      } else {
        p->deallocate(it.ptr);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < producers; ++i) threads.emplace_back(producer, 12u + i);
  for (int i = 0; i < consumers; ++i) threads.emplace_back(consumer, i);
  for (auto& t : threads) t.join();
  for (auto& s : streams) s.synchronize();
  const pinpool::pool_stats st = p->stats();
  EXPECT_EQ(st.outstanding_buffers, 0u);
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.acquisitions, std::uint64_t{producers} * per_producer);
}

// Two threads free the same pointer at once: exactly one succeeds, the other is refused, and
// the chunk goes back once (nothing else allocates from this pool meanwhile).
TYPED_TEST_P(raw_pointer_suite, racing_double_frees_are_refused_exactly_once) {
  auto p = this->make_pool(pinpool::memory_kind::host);
  for (int i = 0; i < 100; ++i) {
    void* ptr = p->allocate(4096);
    std::atomic<int> arrived{0}, refused{0};
    auto free_once = [&] {
      ++arrived;
      while (arrived.load() < 2) {
      }
      try {
        p->deallocate(ptr);
      } catch (const std::invalid_argument&) {
        ++refused;
      }
    };
    std::thread racer(free_once);
    free_once();
    racer.join();
    ASSERT_EQ(refused.load(), 1) << "round " << i;
    ASSERT_EQ(p->stats().outstanding_buffers, 0u) << "round " << i;
  }
  void* a = p->allocate(4096);
  void* b = p->allocate(4096);
  EXPECT_NE(a, b) << "a chunk went back twice";
  p->deallocate(a);
  p->deallocate(b);
}

// The index is independent of slabs: pointers are looked up while another thread grows the pool
// and trims its idle slabs (a new slab may reuse a trimmed one's addresses).
TYPED_TEST_P(raw_pointer_suite, lookups_race_slab_growth_and_trim) {
  auto p = this->make_pool(pinpool::memory_kind::host, 0, 1 << 16);
  pinpool::stream s = this->be_->create_stream();
  std::atomic<bool> stop{false};
  std::thread grower([&] {
    while (!stop.load()) {
      std::vector<pinpool::buffer> held;
      for (int i = 0; i < 8; ++i) held.push_back(p->acquire(60000));
      held.clear();
      p->trim();
    }
  });
  for (int i = 0; i < 3000; ++i) {
    void* ptr = p->allocate(1000 + i % 7 * 9000);
    if (i % 2 == 0) p->record_stream(ptr, s);
    p->deallocate(ptr);
  }
  stop = true;
  grower.join();
  s.synchronize();
  EXPECT_EQ(p->stats().outstanding_buffers, 0u);
}

REGISTER_TYPED_TEST_SUITE_P(raw_pointer_suite, allocate_and_deallocate_count_as_buffers,
                            stream_ordered_reuse_follows_the_buffer_rules,
                            deallocate_on_another_stream_and_record_stream,
                            bad_pointers_are_refused_and_the_pool_stays_consistent,
                            a_refused_stream_leaves_the_pointer_out, another_thread_deallocates,
                            concurrent_allocate_and_deallocate_on_other_threads,
                            racing_double_frees_are_refused_exactly_once,
                            lookups_race_slab_growth_and_trim);

}  // namespace pinpool_test
