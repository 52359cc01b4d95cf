// A fixed number of round trips in one named function, for instruction-level profiles (no
// timing, no Google Benchmark): bench/run runs it under
//   valgrind --tool=callgrind --toggle-collect=pinpool_bench_profiled_loop
// so that only the loop is counted; instructions / iterations = the cost of one round trip.
//
// usage: pinpool-bench-profile
//   <pinpool|pinpool_mixed|pinpool_stream|pinpool_set_stream|mutex_freelist|malloc>
//                              <bytes> <iterations>
//   pinpool         pool.acquire(bytes) + touch + release (pinned_host pool, CPU backend)
//   pinpool_mixed   as pinpool, the size cycling over the hot suite's six (256 B, 4 KiB, 64 KiB,
//                   1 MiB, 8 MiB, 64 MiB; `bytes` is ignored): the thread cache's slot spread
//   pinpool_stream  pool.acquire(bytes, s) + release on s (an event recorded; no work), with a
//                   stream synchronise every 32 round trips
//   pinpool_set_stream  pool.acquire(bytes) + touch + set_stream(s) + release on s (the staging
//                   pattern), with a stream synchronise every 32 round trips
//   mutex_freelist  std::mutex + std::vector<void*> free list (the floor of suite 1)
//   malloc          glibc malloc/free

#include <pinpool/pinpool.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

void touch(void* p, std::size_t bytes) {
  auto* b = static_cast<volatile unsigned char*>(p);
  b[0] = 1;
  b[bytes - 1] = 2;
}

struct freelist {
  std::mutex m;
  std::vector<void*> free;
  void* get(std::size_t n) {
    {
      std::lock_guard<std::mutex> lock(m);
      if (!free.empty()) {
        void* p = free.back();
        free.pop_back();
        return p;
      }
    }
    return std::malloc(n);
  }
  void put(void* p) {
    std::lock_guard<std::mutex> lock(m);
    free.push_back(p);
  }
};

struct context {
  std::string peer;
  std::size_t bytes;
  pinpool::pool* pool;
  pinpool::stream* stream;
  freelist* list;
};

}  // namespace

namespace {

inline void run_loop(const context* c, long iterations) {
  const std::size_t bytes = c->bytes;
  if (c->peer == "pinpool") {
    for (long i = 0; i < iterations; ++i) {
      pinpool::buffer b = c->pool->acquire(bytes);
      touch(b.data(), bytes);
    }
  } else if (c->peer == "pinpool_mixed") {
    constexpr std::size_t sizes[] = {256, 4096, 65536, 1 << 20, 8 << 20, 64 << 20};
    for (long i = 0; i < iterations; ++i) {
      const std::size_t n = sizes[i % 6];
      pinpool::buffer b = c->pool->acquire(n);
      touch(b.data(), n);
    }
  } else if (c->peer == "pinpool_stream") {
    for (long i = 0; i < iterations; ++i) {
      { pinpool::buffer b = c->pool->acquire(bytes, *c->stream); }
      if (i % 32 == 31) c->stream->synchronize();
    }
  } else if (c->peer == "pinpool_set_stream") {
    for (long i = 0; i < iterations; ++i) {
      {
        pinpool::buffer b = c->pool->acquire(bytes);
        touch(b.data(), bytes);
        b.set_stream(*c->stream);
      }
      if (i % 32 == 31) c->stream->synchronize();
    }
  } else if (c->peer == "mutex_freelist") {
    for (long i = 0; i < iterations; ++i) {
      void* p = c->list->get(bytes);
      touch(p, bytes);
      c->list->put(p);
    }
  } else {
    for (long i = 0; i < iterations; ++i) {
      void* p = std::malloc(bytes);
      touch(p, bytes);
      std::free(p);
    }
  }
}

}  // namespace

// Only this function is counted by the profile; the warm-up runs the same loop uncounted.
extern "C" __attribute__((noinline)) void pinpool_bench_profiled_loop(const context* c,
                                                                      long iterations) {
  run_loop(c, iterations);
}
extern "C" __attribute__((noinline)) void pinpool_bench_warm_up(const context* c) {
  run_loop(c, 64);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr,
                 "usage: %s <pinpool|pinpool_mixed|pinpool_stream|pinpool_set_stream|"
                 "mutex_freelist|malloc> <bytes> <iterations>\n",
                 argv[0]);
    return 2;
  }
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::stream s = be->create_stream();
  pinpool::pool_options opt;
  opt.kind = pinpool::memory_kind::pinned_host;
  opt.name = "bench-profile";
  pinpool::pool pool(be, opt);
  freelist list;
  const context c{argv[1], std::strtoull(argv[2], nullptr, 10), &pool, &s, &list};
  const long iterations = std::strtol(argv[3], nullptr, 10);
  pinpool_bench_warm_up(&c);
  pinpool_bench_profiled_loop(&c, iterations);
  s.synchronize();
  std::printf("%s %zu bytes: %ld iterations (+64 warm-up)\n", c.peer.c_str(), c.bytes, iterations);
  return 0;
}
