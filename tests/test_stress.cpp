// Stress with hazard detection: threads doing random acquire, release, stream-ordered release,
// record_stream, try_acquire and trim over four CPU streams with deliberately slow tasks. Every
// owner stamps its tag into the chunk (host or stream task) and checks it later; a stream task
// still writing a chunk after another owner got it breaks the other owner's check.
// PINPOOL_STRESS_OPS sets the pool operations per run (default 1,000,000).
#include <pinpool/pinpool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <gtest/gtest.h>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace {

std::atomic<std::uint64_t> premature_reuses{0};
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
  if (w[0] != tag || w[n / 2] != tag || w[n - 1] != tag) ++premature_reuses;
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
  pinpool::backend* be;
  void* event;  // orders a second stream after the first (the user's job, as with CUDA)
};

void one_operation(pinpool::pool& p, std::vector<pinpool::stream>& streams, worker_state& w) {
  const std::uint64_t tag = w.next_tag++;
  const std::size_t bytes = 64 + (w.rng() % 4096) * 8;
  auto& s = streams[w.rng() % streams.size()];
  auto& other = streams[w.rng() % streams.size()];
  const bool slow = w.rng() % 64 == 0;
  static const unsigned cases = [] {  // debugging knob: bit i enables case i
    const char* env = std::getenv("PINPOOL_STRESS_CASES");
    return env ? static_cast<unsigned>(std::strtoul(env, nullptr, 0)) : 0xffu;
  }();
  unsigned pick = static_cast<unsigned>(w.rng() % 8);
  while ((cases >> pick & 1u) == 0) pick = (pick + 1) % 8;
  switch (pick) {
    case 0:
    case 1: {  // host owner: stamp, check after a pause
      auto b = p.acquire(bytes);
      stamp(b.data(), bytes, tag);
      std::this_thread::yield();
      check(b.data(), bytes, tag);
      break;
    }
    case 2:
    case 3: {  // stream owner, released on s while its task may still run
      auto b = p.acquire(bytes, s);
      owner_task(s, b.data(), bytes, tag, slow);
      break;
    }
    case 4: {  // host-filled, then handed to a stream (set_stream)
      auto b = p.acquire(bytes);
      stamp(b.data(), bytes, tag);
      b.set_stream(s);
      owner_task(s, b.data(), bytes, tag, slow);
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
      operations += 1;
      break;
    }
    case 6: {
      if (auto b = p.try_acquire(bytes)) {
        stamp(b->data(), bytes, tag);
        check(b->data(), bytes, tag);
      }
      break;
    }
    case 7:
      if (w.rng() % 256 == 0) p.trim();
      break;
  }
  operations += 2;  // an acquisition and its release (or a trim)
}

TEST(stress, no_chunk_is_reused_while_a_stream_still_writes_it) {
  const char* env = std::getenv("PINPOOL_STRESS_OPS");
  const std::uint64_t target = env ? std::strtoull(env, nullptr, 10) : 1'000'000;
  // Capped pinned and device pools (contended chunks, re-carved slabs, waits, device-side waits)
  // and an uncapped pool (per-thread caches in play).
  const std::pair<pinpool::memory_kind, std::size_t> configs[] = {
      {pinpool::memory_kind::pinned_host, 4 << 20},
      {pinpool::memory_kind::device, 4 << 20},
      {pinpool::memory_kind::host, 0}};
  for (const auto& [kind, cap] : configs) {
    auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
    pinpool::pool_options o;
    o.kind = kind;
    o.max_bytes = cap;
    o.slab_bytes = 256 << 10;
    o.acquire_timeout = std::chrono::milliseconds{10000};
    pinpool::pool p(be, o);
    std::vector<pinpool::stream> streams;
    for (int i = 0; i < 4; ++i) streams.push_back(be->create_stream());
    premature_reuses = 0;
    operations = 0;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        worker_state w{std::mt19937_64(t + 1), (std::uint64_t{t} + 1) << 48, be.get(),
                       be->create_event(0)};
        while (operations.load(std::memory_order_relaxed) < target) one_operation(p, streams, w);
        be->destroy_event(w.event, 0);
      });
    }
    for (auto& t : threads) t.join();
    for (auto& s : streams) s.synchronize();
    const auto st = p.stats();
    std::printf(
        "stress %s%s: %llu operations, 4 threads, 4 streams, %llu premature reuses, "
        "%llu waits, %llu device-side waits, %llu grows\n",
        pinpool::to_string(kind), cap ? " (capped)" : " (thread caches)",
        static_cast<unsigned long long>(operations.load()),
        static_cast<unsigned long long>(premature_reuses.load()),
        static_cast<unsigned long long>(st.waits), static_cast<unsigned long long>(st.stream_waits),
        static_cast<unsigned long long>(st.grows));
    EXPECT_EQ(premature_reuses.load(), 0u) << pinpool::to_string(kind);
    EXPECT_EQ(st.bytes_in_use, 0u);
    EXPECT_EQ(st.outstanding_buffers, 0u);
    if (cap != 0) {
      EXPECT_LE(st.bytes_reserved, cap);
    }
  }
}

}  // namespace
