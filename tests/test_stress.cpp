// Stress with hazard detection: threads doing random acquire, release, stream-ordered release,
// record_stream, try_acquire and trim over four CPU streams with deliberately slow tasks. Every
// owner stamps its tag into the chunk (host or stream task) and checks it later; a stream task
// still writing a chunk after another owner got it breaks the other owner's check.
// The backend is wrapped in pinpool_test::checking_backend: slabs and events are checked at
// teardown, and every released chunk is poisoned in full right before its release (from the host
// for a host release, by a copy enqueued on the releasing stream for a stream-ordered one), so
// the last write of a released chunk's previous owner is the poison: a new owner handed the chunk
// before that work ran finds its stamps overwritten.
// PINPOOL_STRESS_OPS sets the pool operations per run (default 1,000,000).
#include "support/checking_backend.hpp"
#include "support/forwarding_backend.hpp"

#include <pinpool/pinpool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <gtest/gtest.h>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define PINPOOL_STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PINPOOL_STRESS_TSAN 1
#endif
#endif

namespace {

using pinpool_test::checking_backend;

std::atomic<std::uint64_t> premature_reuses{0};
std::atomic<std::uint64_t> poisoned_reads{0};  // those of them that read the poison pattern
std::atomic<std::uint64_t> operations{0};

// Tag positions: first, middle and last 8-byte word of the requested bytes.
void stamp(void* p, std::size_t bytes, std::uint64_t tag) {
  auto* w = static_cast<std::uint64_t*>(p);
  const std::size_t n = bytes / 8;
  w[0] = tag;
  w[n / 2] = tag;
  w[n - 1] = tag;
}

void check(const void* p, std::size_t bytes, std::uint64_t tag) {
  auto* w = static_cast<const volatile std::uint64_t*>(p);
  const std::size_t n = bytes / 8;
  const std::uint64_t a = w[0], b = w[n / 2], c = w[n - 1];
  if (a != tag || b != tag || c != tag) {
    ++premature_reuses;
    using pinpool_test::poison_word;
    if (a == poison_word || b == poison_word || c == poison_word) ++poisoned_reads;
  }
}

// A task on a stream owning the chunk: stamp, sometimes dawdle, check.
void owner_task(const pinpool::stream_ref& s, void* p, std::size_t bytes, std::uint64_t tag,
                bool slow) {
  s.launch_host_func([p, bytes, tag, slow] {
    stamp(p, bytes, tag);
    if (slow) std::this_thread::sleep_for(std::chrono::microseconds{300});
    check(p, bytes, tag);
  });
}

struct worker_state {
  std::mt19937_64 rng;
  std::uint64_t next_tag;
  checking_backend* be;
  void* event;     // orders a second stream after the first (the user's job, as with CUDA)
  bool poison;     // poison chunks before releasing them
  unsigned cases;  // bit i enables case i of one_operation
};

// Releases a buffer the host owns: the whole chunk is poisoned first.
void release_on_host(pinpool::buffer& b, const worker_state& w) {
  if (w.poison) w.be->poison(b.data(), b.capacity());
  b.reset();
}

// Releases a buffer whose last use is the work enqueued so far on `last`: a poison copy of the
// whole chunk is enqueued there first, so it is the last thing the chunk's work does.
void release_on_stream(pinpool::buffer& b, const pinpool::stream_ref& last, const worker_state& w) {
  if (w.poison) w.be->poison_async(last, b.data(), b.capacity());
  b.reset();
}

void one_operation(pinpool::pool& p, std::vector<pinpool::stream>& streams, worker_state& w) {
  const std::uint64_t tag = w.next_tag++;
  const std::size_t bytes = 64 + (w.rng() % 4096) * 8;
  auto& s = streams[w.rng() % streams.size()];
  auto& other = streams[w.rng() % streams.size()];
  const bool slow = w.rng() % 64 == 0;
  unsigned pick = static_cast<unsigned>(w.rng() % 8);
  while ((w.cases >> pick & 1u) == 0) pick = (pick + 1) % 8;
  switch (pick) {
    case 0:
    case 1: {  // host owner: stamp, check after a pause
      auto b = p.acquire(bytes);
      stamp(b.data(), bytes, tag);
      std::this_thread::yield();
      check(b.data(), bytes, tag);
      release_on_host(b, w);
      break;
    }
    case 2:
    case 3: {  // stream owner, released on s while its task may still run
      auto b = p.acquire(bytes, s);
      owner_task(s, b.data(), bytes, tag, slow);
      release_on_stream(b, s, w);
      break;
    }
    case 4: {  // host-filled, then handed to a stream (set_stream)
      auto b = p.acquire(bytes);
      stamp(b.data(), bytes, tag);
      b.set_stream(s);
      owner_task(s, b.data(), bytes, tag, slow);
      release_on_stream(b, s, w);
      break;
    }
    case 5: {  // used by two streams (record_stream); `other` is ordered after `s` first,
               // since acquire(bytes, s) makes the chunk safe for work on `s` only
      auto b = p.acquire(bytes, s);
      owner_task(s, b.data(), bytes, tag, slow);
      w.be->record_event(w.event, 0, s);
      w.be->stream_wait_event(other, w.event, 0);
      b.record_stream(other);
      owner_task(other, b.data(), bytes, tag, slow);
      release_on_stream(b, other, w);  // `other`'s work comes after `s`'s
      operations += 1;
      break;
    }
    case 6: {
      if (auto b = p.try_acquire(bytes)) {
        stamp(b->data(), bytes, tag);
        check(b->data(), bytes, tag);
        release_on_host(*b, w);
      }
      break;
    }
    case 7:
      if (w.rng() % 256 == 0) p.trim();
      break;
  }
  operations += 2;  // an acquisition and its release (or a trim)
}

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* env = std::getenv(name);
  return env ? std::strtoull(env, nullptr, 0) : fallback;
}

struct run_config {
  pinpool::memory_kind kind;
  std::size_t cap;
  std::uint64_t target;  // pool operations
  unsigned cases = 0xffu;
  bool poison = true;
  bool lazy = true;  // pool_options::lazy_release: releases on the (owning) streams record no event
};

struct run_result {
  std::uint64_t premature = 0;
  std::uint64_t poisoned = 0;
  pinpool::pool_stats stats;
};

// One stress run: 4 threads, 4 streams, a pool on `be`; returns with the pool and the streams
// destroyed.
run_result run(const std::shared_ptr<checking_backend>& be, const run_config& c) {
  pinpool::pool_options o;
  o.kind = c.kind;
  o.max_bytes = c.cap;
  o.slab_bytes = 256 << 10;
  o.acquire_timeout = std::chrono::milliseconds{10000};
  o.lazy_release = c.lazy;
  pinpool::pool p(be, o);
  std::vector<pinpool::stream> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(be->create_stream());
  premature_reuses = 0;
  poisoned_reads = 0;
  operations = 0;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      worker_state w{std::mt19937_64(t + 1),
                     (std::uint64_t{t} + 1) << 48,
                     be.get(),
                     be->create_event(0),
                     c.poison,
                     c.cases};
      while (operations.load(std::memory_order_relaxed) < c.target) one_operation(p, streams, w);
      be->destroy_event(w.event, 0);
    });
  }
  for (auto& t : threads) t.join();
  for (auto& s : streams) s.synchronize();
  run_result r;
  r.stats = p.stats();
  r.premature = premature_reuses.load();
  r.poisoned = poisoned_reads.load();
  return r;
}

TEST(stress, no_chunk_is_reused_while_a_stream_still_writes_it) {
  const std::uint64_t target = env_number("PINPOOL_STRESS_OPS", 1'000'000);
  const unsigned cases = static_cast<unsigned>(env_number("PINPOOL_STRESS_CASES", 0xff));
  // Capped pinned and device pools (contended chunks, re-carved slabs, waits, device-side waits)
  // and uncapped pools (per-thread caches in play: host slots, and for the device pool the
  // stream slots of chunks released lazily on their stream).
  // Lazy release fences (the default) and, for the capped pools, an event per release.
  struct config {
    pinpool::memory_kind kind;
    std::size_t cap;
    bool lazy;
  };
  const config configs[] = {{pinpool::memory_kind::pinned_host, 4 << 20, true},
                            {pinpool::memory_kind::device, 4 << 20, true},
                            {pinpool::memory_kind::host, 0, true},
                            {pinpool::memory_kind::device, 0, true},
                            {pinpool::memory_kind::pinned_host, 4 << 20, false},
                            {pinpool::memory_kind::device, 4 << 20, false}};
  for (const auto& [kind, cap, lazy] : configs) {
    auto be = checking_backend::wrap(pinpool::make_backend(pinpool::backend_kind::cpu));
    run_config rc{kind, cap, lazy ? target : target / 4, cases};
    rc.lazy = lazy;
    const run_result r = run(be, rc);
    const auto& st = r.stats;
    std::printf(
        "stress %s%s%s: %llu operations, 4 threads, 4 streams, %llu premature reuses (%llu saw "
        "poison), %llu waits, %llu device-side waits, %llu fences, %llu grows\n",
        pinpool::to_string(kind), cap ? " (capped)" : " (thread caches)",
        lazy ? "" : " (an event per release)", static_cast<unsigned long long>(operations.load()),
        static_cast<unsigned long long>(r.premature), static_cast<unsigned long long>(r.poisoned),
        static_cast<unsigned long long>(st.waits), static_cast<unsigned long long>(st.stream_waits),
        static_cast<unsigned long long>(st.fences), static_cast<unsigned long long>(st.grows));
    if (lazy && kind == pinpool::memory_kind::device) {
      EXPECT_GT(st.fences, 0u) << "the lazy path was not exercised";
    }
    EXPECT_EQ(r.premature, 0u) << pinpool::to_string(kind);
    EXPECT_EQ(st.bytes_in_use, 0u);
    EXPECT_EQ(st.outstanding_buffers, 0u);
    if (cap != 0) {
      EXPECT_LE(st.bytes_reserved, cap);
    }
    // The pool and the streams are gone: every slab and event went back, matching.
    EXPECT_TRUE(be->clean()) << be->report();
    EXPECT_GT(be->slabs_allocated(), 0u);
  }
}

// A planted bug (events that always claim to be complete) makes the pool hand out chunks whose
// stream-ordered release has not run yet: the stress must see it. The check is statistical; the
// deterministic version is in test_checking_backend.cpp.
TEST(stress, a_planted_premature_reuse_is_caught) {
#ifdef PINPOOL_STRESS_TSAN
  GTEST_SKIP() << "the planted bug is a data race by design; TSan would stop at it";
#endif
  // No trim (case 7): with lying events it would unmap slabs that streams still write.
  const std::uint64_t target =
      std::min<std::uint64_t>(env_number("PINPOOL_STRESS_OPS", 100'000), 100'000);
  for (const bool poison : {false, true}) {
    auto be = checking_backend::wrap(std::make_shared<pinpool_test::events_always_done>(
        pinpool::make_backend(pinpool::backend_kind::cpu)));
    const run_result r =
        run(be, {pinpool::memory_kind::pinned_host, 4 << 20, target, 0x7fu, poison});
    std::printf(
        "planted bug (events always done), poison %s: %llu operations, %llu premature "
        "reuses caught (%llu saw poison)\n",
        poison ? "on" : "off", static_cast<unsigned long long>(operations.load()),
        static_cast<unsigned long long>(r.premature), static_cast<unsigned long long>(r.poisoned));
    if (poison) {
      EXPECT_GT(r.premature, 0u);
      EXPECT_GT(r.poisoned, 0u);
    }
    EXPECT_EQ(be->violation_count(), 0u) << be->report();
  }
}

// Pools destroyed while four threads release their buffers with no stream: into their caches
// until the pool closes, to its lists after (or, racing with the close, into a cache entry the
// thread detaches when it exits). Closing takes the chunks the threads had cached back from
// their entries and frees the slabs with no buffer out; each buffer is written right before its
// release (a slab freed under it would fault). Every slab goes back exactly once (the checking
// backend). Under TSan: the close's exchanges against the threads' parks.
TEST(stress, pools_destroyed_while_threads_release_into_their_caches_free_every_slab) {
  auto be = checking_backend::wrap(pinpool::make_backend(pinpool::backend_kind::cpu));
#ifdef PINPOOL_STRESS_TSAN
  const int rounds = 40;
#else
  const int rounds = 400;
#endif
  int freed_at_once = 0;  // rounds whose every slab was gone before the threads' exits
  std::atomic<std::size_t> reports{0};  // log lines: pools destroyed with buffers out
  const pinpool::log_sink previous = pinpool::set_log_sink([&](const std::string&) { ++reports; });
  for (int round = 0; round < rounds; ++round) {
    pinpool::pool_options o;
    o.kind = pinpool::memory_kind::host;
    o.slab_bytes = 64 << 10;
    auto p = std::make_unique<pinpool::pool>(be, o);
    std::atomic<int> ready{0}, done{0};
    std::atomic<bool> go{false}, leave{false};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<std::uint64_t>(round) * 4 + t + 1);
        std::vector<pinpool::buffer> held;
        for (int i = 0; i < 16; ++i) held.push_back(p->acquire(256 + rng() % (96 << 10)));
        held.resize(8);  // the others parked in this thread's cache (or back in the pool)
        ++ready;
        while (!go.load()) std::this_thread::yield();
        while (!held.empty()) {  // racing with the pool's destruction
          std::fill_n(static_cast<unsigned char*>(held.back().data()), held.back().size(), 0x5a);
          held.pop_back();
        }
        ++done;
        while (!leave.load()) std::this_thread::yield();
      });
    }
    while (ready.load() != 4) std::this_thread::yield();
    go = true;
    p.reset();
    while (done.load() != 4) std::this_thread::yield();
    if (be->leaked_slabs() == 0) ++freed_at_once;
    leave = true;
    for (auto& t : threads) t.join();
    if (!be->clean()) {
      ADD_FAILURE() << "round " << round << ": " << be->report();
      break;
    }
  }
  pinpool::set_log_sink(previous);
  std::printf(
      "stress: %d of %d pools had freed every slab before the caching threads exited (%zu "
      "lines of leak reports: pools destroyed with buffers out)\n",
      freed_at_once, rounds, reports.load());
  EXPECT_GT(be->slabs_allocated(), 0u);
}

}  // namespace
