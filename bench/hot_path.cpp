// Suite 1: the hot path. One acquire + touch + release round trip, 256 B to 64 MiB, on 1 and 2
// threads, for pinpool and its peers:
//
//   pinpool         pool.acquire(bytes) on a pinned_host pool of the CPU backend (the buffer's
//                   destructor releases it)
//   malloc          glibc malloc/free
//   pmr_unsync      std::pmr::unsynchronized_pool_resource, one per thread
//   pmr_sync        std::pmr::synchronized_pool_resource, shared by the threads
//   mimalloc        mi_malloc/mi_free  (libmimalloc, loaded with dlopen(RTLD_LOCAL), see below)
//   jemalloc        mallocx/dallocx    (libjemalloc, loaded with dlopen(RTLD_LOCAL))
//   mutex_freelist  std::mutex + one std::vector<void*> per size: the floor for a thread-safe
//                   pool without per-thread caches
//   fresh_locked    mmap + mlock + touch + munmap: what a new pinned allocation costs the CPU
//
// Every peer touches the first and the last byte of its block (bench_util.hpp). Times are wall
// time (UseRealTime); with 2 threads Google Benchmark reports wall time / total operations, so
// the per-thread latency of one round trip is that figure x 2 (bench/plot.py does this).
//
// Why dlopen: Debian's libmimalloc.so and libjemalloc.so export malloc/free themselves, so
// linking them would replace glibc malloc for the whole process (every peer, and pinpool's own
// internals). Loaded with RTLD_LOCAL, only their prefixed entry points are reachable, and only
// from here. Debian's jemalloc uses initial-exec TLS, which dlopen can only place when glibc
// reserves more static TLS: main() re-executes itself once with GLIBC_TUNABLES set for that.

#include "bench_util.hpp"

#include <pinpool/pinpool.hpp>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace {

using pinpool::bench::round_trip_sizes;
using pinpool::bench::touch;

constexpr int kMaxThreads = 2;

std::size_t bytes_of(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

// ---- pinpool -----------------------------------------------------------------------------------

pinpool::pool_options hot_pool_options() {
  pinpool::pool_options opt;
  opt.kind = pinpool::memory_kind::pinned_host;
  opt.name = "bench-hot";
  return opt;
}

pinpool::pool& hot_pool() {
  static pinpool::pool pool(pinpool::make_backend(pinpool::backend_kind::cpu), hot_pool_options());
  return pool;
}

void bm_pinpool(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  pinpool::pool& pool = hot_pool();
  {
    pinpool::buffer warm = pool.acquire(bytes);
    touch(warm.data(), bytes);
  }
  for (auto _ : state) {
    pinpool::buffer b = pool.acquire(bytes);
    touch(b.data(), bytes);
  }  // ~buffer releases (no stream: back on the ready list at once)
  state.SetItemsProcessed(state.iterations());
}

// ---- peers with a pointer interface ------------------------------------------------------------

// Each peer: `explicit P(benchmark::State&)` (per-thread view, may SkipWithError),
// `void* get(std::size_t)`, `void put(void*, std::size_t)`.
template <class P>
void bm_peer(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  P peer(state);
  if (state.error_occurred()) return;
  {
    void* warm = peer.get(bytes);
    touch(warm, bytes);
    peer.put(warm, bytes);
  }
  for (auto _ : state) {
    void* p = peer.get(bytes);
    touch(p, bytes);
    peer.put(p, bytes);
  }
  state.SetItemsProcessed(state.iterations());
}

struct malloc_peer {
  explicit malloc_peer(benchmark::State&) {}
  void* get(std::size_t n) { return std::malloc(n); }
  void put(void* p, std::size_t) { std::free(p); }
};

// pool_options asking for the largest pooled block libstdc++ allows (it clamps the request;
// the effective limit is reported in the context and the label).
std::pmr::pool_options pmr_options() {
  std::pmr::pool_options o;
  o.largest_required_pool_block = std::size_t{64} << 20;
  return o;
}

void pmr_label(benchmark::State& state, const std::pmr::pool_options& o) {
  state.SetLabel(bytes_of(state) <= o.largest_required_pool_block ? "pooled" : "upstream");
}

struct pmr_unsync_peer {
  explicit pmr_unsync_peer(benchmark::State& state) {
    // One resource per benchmark thread index, kept across runs (never used concurrently).
    static std::array<std::unique_ptr<std::pmr::unsynchronized_pool_resource>, kMaxThreads> all;
    auto& slot = all.at(static_cast<std::size_t>(state.thread_index()));
    if (!slot) slot = std::make_unique<std::pmr::unsynchronized_pool_resource>(pmr_options());
    r = slot.get();
    pmr_label(state, r->options());
  }
  void* get(std::size_t n) { return r->allocate(n); }
  void put(void* p, std::size_t n) { r->deallocate(p, n); }
  std::pmr::unsynchronized_pool_resource* r;
};

std::pmr::synchronized_pool_resource& shared_pmr() {
  static std::pmr::synchronized_pool_resource r(pmr_options());
  return r;
}

struct pmr_sync_peer {
  explicit pmr_sync_peer(benchmark::State& state) : r(&shared_pmr()) {
    pmr_label(state, r->options());
  }
  void* get(std::size_t n) { return r->allocate(n); }
  void put(void* p, std::size_t n) { r->deallocate(p, n); }
  std::pmr::synchronized_pool_resource* r;
};

// ---- mimalloc and jemalloc, loaded at run time --------------------------------------------------

struct loaded_allocators {
  void* (*mi_malloc)(std::size_t) = nullptr;
  void (*mi_free)(void*) = nullptr;
  void* (*mallocx)(std::size_t, int) = nullptr;
  void (*dallocx)(void*, int) = nullptr;
  std::string mi_error = "not loaded";
  std::string je_error = "not loaded";
};

loaded_allocators& loaded() {
  static loaded_allocators a;
  return a;
}

template <class F>
F symbol(void* lib, const char* name, std::string& error) {
  void* s = ::dlsym(lib, name);
  if (s == nullptr) error = std::string("no symbol ") + name;
  return reinterpret_cast<F>(s);
}

// Returns false when jemalloc failed for lack of static TLS (the caller may re-execute).
bool load_allocators() {
  loaded_allocators& a = loaded();
  const char* mi_path = PINPOOL_BENCH_MIMALLOC_PATH;
  const char* je_path = PINPOOL_BENCH_JEMALLOC_PATH;
  if (*mi_path == '\0') {
    a.mi_error = "libmimalloc not found at configure time (apt-get install libmimalloc-dev)";
  } else if (void* lib = ::dlopen(mi_path, RTLD_NOW | RTLD_LOCAL)) {
    a.mi_error.clear();
    a.mi_malloc = symbol<void* (*)(std::size_t)>(lib, "mi_malloc", a.mi_error);
    a.mi_free = symbol<void (*)(void*)>(lib, "mi_free", a.mi_error);
  } else {
    a.mi_error = ::dlerror();
  }
  if (*je_path == '\0') {
    a.je_error = "libjemalloc not found at configure time (apt-get install libjemalloc-dev)";
  } else if (void* lib = ::dlopen(je_path, RTLD_NOW | RTLD_LOCAL)) {
    a.je_error.clear();
    a.mallocx = symbol<void* (*)(std::size_t, int)>(lib, "mallocx", a.je_error);
    a.dallocx = symbol<void (*)(void*, int)>(lib, "dallocx", a.je_error);
  } else {
    a.je_error = ::dlerror();
    if (a.je_error.find("static TLS") != std::string::npos) return false;
  }
  return true;
}

struct mimalloc_peer {
  explicit mimalloc_peer(benchmark::State& state) : a(loaded()) {
    if (!a.mi_error.empty()) state.SkipWithError(("mimalloc unavailable: " + a.mi_error).c_str());
  }
  void* get(std::size_t n) { return a.mi_malloc(n); }
  void put(void* p, std::size_t) { a.mi_free(p); }
  const loaded_allocators& a;
};

struct jemalloc_peer {
  explicit jemalloc_peer(benchmark::State& state) : a(loaded()) {
    if (!a.je_error.empty()) state.SkipWithError(("jemalloc unavailable: " + a.je_error).c_str());
  }
  void* get(std::size_t n) { return a.mallocx(n, 0); }
  void put(void* p, std::size_t) { a.dallocx(p, 0); }
  const loaded_allocators& a;
};

// ---- the floor: one mutex, a vector of free pointers per size ----------------------------------

class mutex_freelist {
 public:
  mutex_freelist() {
    for (auto& l : lists_) l.reserve(64);
  }
  ~mutex_freelist() {
    for (auto& l : lists_) {
      for (void* p : l) std::free(p);
    }
  }
  mutex_freelist(const mutex_freelist&) = delete;
  mutex_freelist& operator=(const mutex_freelist&) = delete;

  void* get(std::size_t n) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& l = lists_[index(n)];
      if (!l.empty()) {
        void* p = l.back();
        l.pop_back();
        return p;
      }
    }
    return std::malloc(std::size_t{1} << index(n));
  }
  void put(void* p, std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    lists_[index(n)].push_back(p);
  }

 private:
  // Sizes rounded up to a power of two: one list per power.
  static std::size_t index(std::size_t n) {
    return n <= 1 ? 0 : static_cast<std::size_t>(64 - __builtin_clzll(n - 1));
  }
  std::mutex mutex_;
  std::array<std::vector<void*>, 64> lists_;
};

struct mutex_freelist_peer {
  explicit mutex_freelist_peer(benchmark::State&) {}
  static mutex_freelist& shared() {
    static mutex_freelist f;
    return f;
  }
  void* get(std::size_t n) { return shared().get(n); }
  void put(void* p, std::size_t n) { shared().put(p, n); }
};

// ---- a fresh page-locked buffer per use ---------------------------------------------------------

void bm_fresh_locked(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  for (auto _ : state) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      state.SkipWithError(("mmap failed: " + std::string(std::strerror(errno))).c_str());
      break;
    }
    if (::mlock(p, bytes) != 0) {
      const std::string why = std::strerror(errno);
      ::munmap(p, bytes);
      state.SkipWithError(("mlock failed (RLIMIT_MEMLOCK?): " + why).c_str());
      break;
    }
    touch(p, bytes);
    ::munmap(p, bytes);  // also unlocks
  }
  state.SetItemsProcessed(state.iterations());
}

// ---- registration
// --------------------------------------------------------------------------------

void register_all() {
  struct entry {
    const char* name;
    void (*fn)(benchmark::State&);
  };
  const entry entries[] = {
      {"pinpool", bm_pinpool},
      {"malloc", bm_peer<malloc_peer>},
      {"pmr_unsync", bm_peer<pmr_unsync_peer>},
      {"pmr_sync", bm_peer<pmr_sync_peer>},
      {"mimalloc", bm_peer<mimalloc_peer>},
      {"jemalloc", bm_peer<jemalloc_peer>},
      {"mutex_freelist", bm_peer<mutex_freelist_peer>},
      {"fresh_locked", bm_fresh_locked},
  };
  for (const entry& e : entries) {
    auto* b = benchmark::RegisterBenchmark((std::string("hot/") + e.name).c_str(), e.fn)
                  ->ArgName("bytes");
    for (std::size_t bytes : round_trip_sizes()) b->Arg(static_cast<std::int64_t>(bytes));
    b->Threads(1)->Threads(kMaxThreads)->UseRealTime();
  }
}

// Re-executes this program once with more static TLS reserved for dlopen (see the top).
void reexec_with_static_tls(char** argv) {
  if (std::getenv("PINPOOL_BENCH_REEXECUTED") != nullptr) return;
  std::string tunables = "glibc.rtld.optional_static_tls=65536";
  if (const char* old = std::getenv("GLIBC_TUNABLES")) tunables = std::string(old) + ":" + tunables;
  ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
  ::setenv("PINPOOL_BENCH_REEXECUTED", "1", 1);
  ::execv("/proc/self/exe", argv);
  std::fprintf(stderr, "pinpool-bench-hot: re-exec failed (%s); jemalloc peer skipped\n",
               std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  if (!load_allocators()) {
    reexec_with_static_tls(argv);  // returns only on failure
  }
  const std::pmr::pool_options pmr = shared_pmr().options();
  benchmark::AddCustomContext("pmr_largest_pooled_block",
                              std::to_string(pmr.largest_required_pool_block));
  benchmark::AddCustomContext("mimalloc", loaded().mi_error.empty()
                                              ? PINPOOL_BENCH_MIMALLOC_PATH
                                              : "unavailable: " + loaded().mi_error);
  benchmark::AddCustomContext("jemalloc", loaded().je_error.empty()
                                              ? PINPOOL_BENCH_JEMALLOC_PATH
                                              : "unavailable: " + loaded().je_error);
  { pinpool::buffer probe = hot_pool().acquire(4096); }
  benchmark::AddCustomContext("pinpool_page_locked",
                              hot_pool().stats().page_locked ? "true" : "false");
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::fprintf(stderr, "pinpool-bench-hot: pool stats %s\n", hot_pool().stats().to_json().c_str());
  return 0;
}
