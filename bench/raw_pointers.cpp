// The raw-pointer API (issue 12 §1) against the buffer it is built on, side by side in one run:
//
//   buffer_host / raw_host       pool.acquire(bytes) + touch + release, against
//                                pool.allocate(bytes) + touch + pool.deallocate(p)
//   buffer_stream / raw_stream   pool.acquire(bytes, s) + release on s, against
//                                pool.allocate(bytes, s) + pool.deallocate(p, s)
//                                (a device pool of the CPU backend, an owning stream: lazy
//                                release, no event; nothing is enqueued)
//   index_find                   the pointer -> chunk lookup alone (raw_index::find on a live
//                                pointer: four dependent loads)
//   index_take_insert            what deallocate + allocate add to a round trip: one exchange
//                                that takes the entry, one store that puts it back
//
// The raw round trip costs the buffer round trip plus take + insert; the ratio raw / buffer is
// the figure to read (times in ns depend on the machine). All on the CPU backend.
//
// usage: pinpool-bench-raw [Google Benchmark flags]
//        pinpool-bench-raw profile <raw|buffer> <iterations>
//   The second form runs a fixed loop in one named function for callgrind:
//     valgrind --tool=callgrind --toggle-collect=pinpool_bench_raw_loop
//              pinpool-bench-raw profile raw 100000
//   instructions / iterations = the cost of one round trip (host, 4 KiB).

#include "bench_util.hpp"
#include "core/raw_index.hpp"

#include <pinpool/pinpool.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace {

using pinpool::bench::touch;

std::size_t bytes_of(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

pinpool::pool_options options(pinpool::memory_kind kind) {
  pinpool::pool_options opt;
  opt.kind = kind;
  opt.name = "bench-raw";
  return opt;
}

struct fixture {
  std::shared_ptr<pinpool::backend> be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool host{be, options(pinpool::memory_kind::pinned_host)};
  pinpool::pool device{be, options(pinpool::memory_kind::device)};
  pinpool::stream s = be->create_stream();
};

fixture& shared() {
  static fixture f;
  return f;
}

void buffer_host(benchmark::State& state) {
  pinpool::pool& p = shared().host;
  const std::size_t bytes = bytes_of(state);
  for (auto _ : state) {
    pinpool::buffer b = p.acquire(bytes);
    touch(b.data(), bytes);
  }
}

void raw_host(benchmark::State& state) {
  pinpool::pool& p = shared().host;
  const std::size_t bytes = bytes_of(state);
  for (auto _ : state) {
    void* ptr = p.allocate(bytes);
    touch(ptr, bytes);
    p.deallocate(ptr);
  }
}

void buffer_stream(benchmark::State& state) {
  fixture& f = shared();
  const std::size_t bytes = bytes_of(state);
  for (auto _ : state) {
    pinpool::buffer b = f.device.acquire(bytes, f.s);
    benchmark::DoNotOptimize(b.data());
  }
}

void raw_stream(benchmark::State& state) {
  fixture& f = shared();
  const std::size_t bytes = bytes_of(state);
  for (auto _ : state) {
    void* ptr = f.device.allocate(bytes, f.s);
    benchmark::DoNotOptimize(ptr);
    f.device.deallocate(ptr, f.s);
  }
}

// The index on its own: 64 chunk-like records, every 4 KiB, looked up in turn.
struct index_fixture {
  pinpool::detail::raw_index index{256};
  std::unique_ptr<char[]> memory{new char[64 * 4096 + 4096]};
  char* base = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(memory.get()) + 4095) &
                                       ~std::uintptr_t{4095});
  index_fixture() {
    for (int i = 0; i < 64; ++i) {
      index.insert(base + i * 4096, reinterpret_cast<pinpool::detail::chunk*>(base + i * 4096));
    }
  }
};

void index_find(benchmark::State& state) {
  index_fixture f;
  int i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.index.find(f.base + (i++ & 63) * 4096));
  }
}

void index_take_insert(benchmark::State& state) {
  index_fixture f;
  int i = 0;
  for (auto _ : state) {
    char* p = f.base + (i++ & 63) * 4096;
    pinpool::detail::chunk* c = f.index.take(p);
    benchmark::DoNotOptimize(c);
    f.index.insert(p, c);
  }
}

}  // namespace

BENCHMARK(buffer_host)->Arg(4096)->Arg(1 << 20);
BENCHMARK(raw_host)->Arg(4096)->Arg(1 << 20);
BENCHMARK(buffer_stream)->Arg(4096)->Arg(1 << 20);
BENCHMARK(raw_stream)->Arg(4096)->Arg(1 << 20);
BENCHMARK(index_find);
BENCHMARK(index_take_insert);

// ---- fixed loops for callgrind ---------------------------------------------------------------

extern "C" [[gnu::noinline]] void pinpool_bench_raw_loop(pinpool::pool& p, long n) {
  for (long i = 0; i < n; ++i) {
    void* ptr = p.allocate(4096);
    touch(ptr, 4096);
    p.deallocate(ptr);
  }
}

extern "C" [[gnu::noinline]] void pinpool_bench_buffer_loop(pinpool::pool& p, long n) {
  for (long i = 0; i < n; ++i) {
    pinpool::buffer b = p.acquire(4096);
    touch(b.data(), 4096);
  }
}

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "profile") == 0) {
    pinpool::pool& p = shared().host;
    const long n = std::atol(argv[3]);
    { pinpool::buffer warm = p.acquire(4096); }  // the first chunk and the thread cache
    const std::string which = argv[2];
    if (which == "raw") {
      pinpool_bench_raw_loop(p, n);
    } else if (which == "buffer") {
      pinpool_bench_buffer_loop(p, n);
    } else {
      std::fprintf(stderr, "usage: %s profile <raw|buffer> <iterations>\n", argv[0]);
      return 2;
    }
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
