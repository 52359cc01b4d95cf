// Suite 1: the hot path. One acquire + touch + release round trip, 256 B to 64 MiB, on 1 and 2
// threads, for pinpool and its peers:
//
//   pinpool           pool.acquire(bytes) on a pinned_host pool of the CPU backend (the buffer's
//                     destructor releases it)
//   malloc            glibc malloc/free
//   pmr_unsync        std::pmr::unsynchronized_pool_resource, one per thread
//   pmr_sync          std::pmr::synchronized_pool_resource, shared by the threads
//   mimalloc          mi_malloc/mi_free   (libmimalloc, loaded with dlopen(RTLD_LOCAL))
//   jemalloc          mallocx/dallocx     (libjemalloc, loaded with dlopen(RTLD_LOCAL))
//   mutex_freelist    std::mutex + one std::vector<void*> per size: the floor for a thread-safe
//                     pool without per-thread caches
//   fresh_locked      mmap + mlock + touch + munmap: what a new pinned allocation costs the CPU
//
// Every peer touches the first and last byte of its block (bench_util.hpp). Times are wall
// time (UseRealTime); with 2 threads Google Benchmark reports wall time / total operations, so
// the per-thread latency of one round trip is that time x 2 (bench/plot.py does this).

#include <pinpool/pinpool.hpp>

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

using pinpool::bench::round_trip_sizes;
using pinpool::bench::touch;

constexpr int kMaxThreads = 2;

// ---- pinpool -----------------------------------------------------------------------------------

pinpool::pool& hot_pool() {
  static pinpool::pool pool = [] {
    pinpool::pool_options opt;
    opt.kind = pinpool::memory_kind::pinned_host;
    opt.name = "bench-hot";
    return opt;
  }() , pinpool::make_backend(pinpool::backend_kind::cpu);
  return pool;
}

}  // namespace
