// Suite 2: the stream-ordered cycle on the CPU backend (worker-thread streams, real asynchrony).
//
// stream/*  one chunk per cycle, round robin over 1..4 streams:
//   pinpool_ordered       b = pool.acquire(bytes, s); enqueue trivial work on b; drop b
//                         (released on s: an event is recorded, nobody blocks)
//   pinpool_sync_release  b = pool.acquire(bytes); enqueue the work; s.synchronize(); drop b
//   malloc_sync_free      p = malloc(bytes); enqueue the work; s.synchronize(); free(p)
//                         (what cudaMalloc/cudaFree code does: cudaFree synchronises)
// handoff/*  cross-stream reuse: a chunk written on stream A, read on stream B (B waits for A
//            through an event), released on B; the next acquisition on A can only reuse
//            chunks released on B (completed events, or for device memory a stream-side wait):
//   pinpool_device        pool of memory_kind::device
//   pinpool_pinned        pool of memory_kind::pinned_host (reuse only after completion)
//   malloc_sync_free      malloc, the same work and event, B.synchronize(), free
//
// frames/*  the pipeline's pattern with real work in flight: a device chunk per frame on stream
//            i % 4 (4 streams), 1 ms of work on it (a host function sleeping: a kernel's
//            stand-in), released on its stream; every 16 frames the host synchronises all.
//   pinpool_at_cap        pending_reuse = at_cap (default): below the cap the pool grows
//   pinpool_always        pending_reuse = always: the pending chunk of another stream, behind
//                         a device-side wait (the stream then waits for that stream's frame)
//
// "Trivial work" is a host function writing (or reading) one byte of the chunk. The
// stream-ordered variants let at most kDepth cycles per stream be in flight: every
// kDepth * streams cycles they synchronise every stream inside the timed loop, so the figures
// are end-to-end throughput (producer and stream workers), not just enqueue cost.

#include "bench_util.hpp"

#include <pinpool/pinpool.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kDepth = 32;  // cycles in flight per stream before a host synchronise
const std::int64_t kSizes[] = {std::int64_t{64} << 10, std::int64_t{8} << 20};

std::atomic<unsigned> g_sink{0};

void warm_malloc(std::size_t bytes) {
  void* p = std::malloc(bytes);
  pinpool::bench::touch(p, bytes);
  std::free(p);
}

void write_one(void* p) {
  static_cast<volatile unsigned char*>(p)[0] = 3;
}
void read_one(void* p) {
  g_sink.store(static_cast<volatile unsigned char*>(p)[0], std::memory_order_relaxed);
}

/// A CPU backend, `n` streams and a pool. Members are destroyed pool first, then the streams.
struct rig {
  rig(std::size_t n, pinpool::memory_kind kind,
      pinpool::cross_stream_reuse reuse = pinpool::cross_stream_reuse::at_cap)
      : be(pinpool::make_backend(pinpool::backend_kind::cpu)) {
    for (std::size_t i = 0; i < n; ++i) streams.push_back(be->create_stream());
    pinpool::pool_options opt;
    opt.kind = kind;
    opt.pending_reuse = reuse;
    opt.name = "bench-stream";
    pool = std::make_unique<pinpool::pool>(be, opt);
  }
  ~rig() { sync_all(); }
  rig(const rig&) = delete;
  rig& operator=(const rig&) = delete;
  void sync_all() {
    for (auto& s : streams) s.synchronize();
  }

  std::shared_ptr<pinpool::backend> be;
  std::vector<pinpool::stream> streams;
  std::unique_ptr<pinpool::pool> pool;
};

void report_pool(benchmark::State& state, const pinpool::pool& pool) {
  const pinpool::pool_stats st = pool.stats();
  const double acq = static_cast<double>(st.acquisitions);
  state.counters["hit_rate"] = acq > 0 ? static_cast<double>(st.hits) / acq : 0.0;
  state.counters["stream_waits_per_op"] = acq > 0 ? static_cast<double>(st.stream_waits) / acq : 0;
  state.counters["slabs"] = static_cast<double>(st.slabs);
  state.counters["mib_reserved"] = static_cast<double>(st.bytes_reserved) / (1 << 20);
}

// ---- stream/*
// ------------------------------------------------------------------------------------

void ordered_cycle(rig& r, std::size_t i, std::size_t bytes) {
  pinpool::stream& s = r.streams[i % r.streams.size()];
  pinpool::buffer b = r.pool->acquire(bytes, s);
  void* p = b.data();
  s.launch_host_func([p] { write_one(p); });
}  // ~buffer: released on s

void bm_pinpool_ordered(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto bytes = static_cast<std::size_t>(state.range(1));
  rig r(n, pinpool::memory_kind::pinned_host);
  for (std::size_t i = 0; i < kDepth * n; ++i) ordered_cycle(r, i, bytes);  // warm up
  r.sync_all();
  std::size_t i = 0;
  for (auto _ : state) {
    ordered_cycle(r, i, bytes);
    if (++i % (kDepth * n) == 0) r.sync_all();
  }
  r.sync_all();
  state.SetItemsProcessed(state.iterations());
  report_pool(state, *r.pool);
}

void bm_pinpool_sync_release(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto bytes = static_cast<std::size_t>(state.range(1));
  rig r(n, pinpool::memory_kind::pinned_host);
  { pinpool::buffer warm = r.pool->acquire(bytes); }  // grow the pool outside the timing
  std::size_t i = 0;
  for (auto _ : state) {
    pinpool::stream& s = r.streams[i++ % n];
    pinpool::buffer b = r.pool->acquire(bytes);
    void* p = b.data();
    s.launch_host_func([p] { write_one(p); });
    s.synchronize();
  }
  state.SetItemsProcessed(state.iterations());
  report_pool(state, *r.pool);
}

void bm_malloc_sync_free(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto bytes = static_cast<std::size_t>(state.range(1));
  rig r(n, pinpool::memory_kind::pinned_host);  // only its streams are used
  warm_malloc(bytes);                           // as the others warm up
  std::size_t i = 0;
  for (auto _ : state) {
    pinpool::stream& s = r.streams[i++ % n];
    void* p = std::malloc(bytes);
    s.launch_host_func([p] { write_one(p); });
    s.synchronize();
    std::free(p);
  }
  state.SetItemsProcessed(state.iterations());
}

// ---- handoff/*
// -------------------------------------------------------------------------------------

/// Stream A writes, B waits for A (event), B reads.
struct handoff {
  explicit handoff(rig& rr) : r(rr), event(rr.be->create_event(0)) {}
  ~handoff() {
    r.sync_all();
    r.be->destroy_event(event, 0);
  }
  handoff(const handoff&) = delete;
  handoff& operator=(const handoff&) = delete;

  void enqueue(void* p) {
    pinpool::stream& a = r.streams[0];
    pinpool::stream& b = r.streams[1];
    a.launch_host_func([p] { write_one(p); });
    r.be->record_event(event, 0, a.ref());
    r.be->stream_wait_event(b.ref(), event, 0);
    b.launch_host_func([p] { read_one(p); });
  }

  rig& r;
  void* event;
};

void pinpool_handoff(benchmark::State& state, pinpool::memory_kind kind) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  rig r(2, kind);
  handoff h(r);
  auto cycle = [&] {
    pinpool::buffer b = r.pool->acquire(bytes, r.streams[0]);
    h.enqueue(b.data());
    b.set_stream(r.streams[1]);  // B's work is ordered after A's: releasing on B covers both
  };
  for (std::size_t i = 0; i < kDepth; ++i) cycle();  // warm up
  r.sync_all();
  std::size_t i = 0;
  for (auto _ : state) {
    cycle();
    if (++i % kDepth == 0) r.sync_all();
  }
  r.sync_all();
  state.SetItemsProcessed(state.iterations());
  report_pool(state, *r.pool);
}

void bm_handoff_device(benchmark::State& state) {
  pinpool_handoff(state, pinpool::memory_kind::device);
}
void bm_handoff_pinned(benchmark::State& state) {
  pinpool_handoff(state, pinpool::memory_kind::pinned_host);
}

void bm_handoff_malloc(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  rig r(2, pinpool::memory_kind::pinned_host);  // only its streams are used
  handoff h(r);
  warm_malloc(bytes);
  for (auto _ : state) {
    void* p = std::malloc(bytes);
    h.enqueue(p);
    r.streams[1].synchronize();
    std::free(p);
  }
  state.SetItemsProcessed(state.iterations());
}

void frames(benchmark::State& state, pinpool::cross_stream_reuse reuse) {
  constexpr std::size_t kStreams = 4, kFramesPerSync = 16, kBytes = std::size_t{1} << 20;
  rig r(kStreams, pinpool::memory_kind::device, reuse);
  std::size_t frame = 0;
  for (auto _ : state) {
    pinpool::stream& s = r.streams[frame % kStreams];
    pinpool::buffer b = r.pool->acquire(kBytes, s);
    s.launch_host_func([p = b.data()] {
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
      write_one(p);
    });
    if (++frame % kFramesPerSync == 0) r.sync_all();
  }
  r.sync_all();
  state.SetItemsProcessed(state.iterations());
  report_pool(state, *r.pool);
}
void bm_frames_at_cap(benchmark::State& state) {
  frames(state, pinpool::cross_stream_reuse::at_cap);
}
void bm_frames_always(benchmark::State& state) {
  frames(state, pinpool::cross_stream_reuse::always);
}

void register_all() {
  using fn = void (*)(benchmark::State&);
  const std::pair<const char*, fn> per_stream[] = {
      {"stream/pinpool_ordered", bm_pinpool_ordered},
      {"stream/pinpool_sync_release", bm_pinpool_sync_release},
      {"stream/malloc_sync_free", bm_malloc_sync_free},
  };
  for (const auto& [name, f] : per_stream) {
    auto* b = benchmark::RegisterBenchmark(name, f)->ArgNames({"streams", "bytes"});
    for (std::int64_t bytes : kSizes) {
      for (std::int64_t n = 1; n <= 4; ++n) b->Args({n, bytes});
    }
    b->UseRealTime();
  }
  const std::pair<const char*, fn> handoffs[] = {
      {"handoff/pinpool_device", bm_handoff_device},
      {"handoff/pinpool_pinned", bm_handoff_pinned},
      {"handoff/malloc_sync_free", bm_handoff_malloc},
  };
  for (const auto& [name, f] : handoffs) {
    auto* b = benchmark::RegisterBenchmark(name, f)->ArgName("bytes");
    for (std::int64_t bytes : kSizes) b->Arg(bytes);
    b->UseRealTime();
  }
  benchmark::RegisterBenchmark("frames/pinpool_at_cap", bm_frames_at_cap)->UseRealTime();
  benchmark::RegisterBenchmark("frames/pinpool_always", bm_frames_always)->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
