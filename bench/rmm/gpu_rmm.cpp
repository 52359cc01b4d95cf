// Suite rmm on a real GPU: pinpool's pools and RAPIDS RMM 26.10's pool_memory_resource side by
// side in one process, host time per operation (the emulated suite, rmm_bench.cpp, counts the
// runtime calls; this one times them). Without a usable device it prints one line and exits 0.
//
// rmm_gpu/<peer>/<workload>/bytes:N, one host thread, google-benchmark real time:
//   same_stream   acquire on s, release on s; s synchronised every kSyncEvery operations (timed)
//   ping_pong     as same_stream, the stream alternating between two: every acquisition takes
//                 what the other stream released (a cross-stream hand-off each operation)
//   staging       a pinned chunk taken by the host, its first byte written, copied to a device
//                 buffer on s, released on s (RMM: allocated on s and synchronised before the
//                 host writes, as a caller of a stream-ordered resource must)
// Peers: pinpool (buffer API), pinpool_raw (pool::allocate/deallocate), pinpool_nocapture (the
// buffer API, pool_options::detect_capture = false: no cudaStreamIsCapturing per acquisition and
// release, the promise RMM makes implicitly), rmm_pool (rmm::mr::pool_memory_resource over
// cudaMalloc / cudaHostAlloc called from this translation unit, initial size 0, so every runtime
// call is made by the same runtime as pinpool's).

#include "bench_util.hpp"

#include <pinpool/pinpool.hpp>

#include <cuda/memory_resource>
#include <cuda/stream>

#include <cuda_runtime_api.h>

#include <benchmark/benchmark.h>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <rmm/mr/pool_memory_resource.hpp>
#include <string>

namespace {

constexpr std::int64_t kSyncEvery = 256;
constexpr int kDevice = 0;

/// RMM's upstream: cudaMalloc/cudaFree, or cudaHostAlloc/cudaFreeHost when `pinned`.
class runtime_upstream {
 public:
  explicit runtime_upstream(bool pinned) : pinned_(pinned) {}
  void* allocate_sync(std::size_t bytes, std::size_t /*alignment*/ = 256) {
    void* p = nullptr;
    const cudaError_t e =
        pinned_ ? cudaHostAlloc(&p, bytes, cudaHostAllocDefault) : cudaMalloc(&p, bytes);
    if (e != cudaSuccess) throw std::bad_alloc();
    return p;
  }
  void deallocate_sync(void* p, std::size_t /*bytes*/, std::size_t /*alignment*/ = 256) noexcept {
    if (pinned_) {
      cudaFreeHost(p);
    } else {
      cudaFree(p);
    }
  }
  void* allocate(cuda::stream_ref, std::size_t bytes, std::size_t alignment = 256) {
    return allocate_sync(bytes, alignment);
  }
  void deallocate(cuda::stream_ref, void* p, std::size_t bytes,
                  std::size_t alignment = 256) noexcept {
    deallocate_sync(p, bytes, alignment);
  }
  bool operator==(const runtime_upstream& o) const noexcept { return pinned_ == o.pinned_; }
  bool operator!=(const runtime_upstream& o) const noexcept { return pinned_ != o.pinned_; }
  friend void get_property(const runtime_upstream&, cuda::mr::device_accessible) noexcept {}
  friend void get_property(const runtime_upstream&, cuda::mr::host_accessible) noexcept {}

 private:
  bool pinned_;
};

/// Everything the benchmarks share; made once a device is known to be usable.
struct rig {
  rig()
      : be(pinpool::make_backend(pinpool::backend_kind::cuda)),
        s{be->create_stream(), be->create_stream()},
        device(be, options(pinpool::memory_kind::device, "rmm-gpu-device")),
        pinned(be, options(pinpool::memory_kind::pinned_host, "rmm-gpu-pinned")),
        device_nocapture(be, no_capture(options(pinpool::memory_kind::device, "rmm-gpu-nocap"))) {
    rmm_device.emplace(runtime_upstream{false}, 0);
    rmm_pinned.emplace(runtime_upstream{true}, 0);
    if (cudaMalloc(&target, std::size_t{64} << 20) != cudaSuccess) throw std::bad_alloc();
  }
  ~rig() {
    for (auto& st : s) st.synchronize();
    cudaFree(target);
  }
  rig(const rig&) = delete;
  rig& operator=(const rig&) = delete;

  static pinpool::pool_options options(pinpool::memory_kind kind, const char* name) {
    return pinpool::bench::gpu_pool_options(kind, name, kDevice);
  }
  static pinpool::pool_options no_capture(pinpool::pool_options o) {
    o.detect_capture = false;
    return o;
  }
  cudaStream_t native(int i) const { return static_cast<cudaStream_t>(s[i].native_handle()); }

  std::shared_ptr<pinpool::backend> be;
  pinpool::stream s[2];
  pinpool::pool device;
  pinpool::pool pinned;
  pinpool::pool device_nocapture;
  std::optional<rmm::mr::pool_memory_resource> rmm_device;
  std::optional<rmm::mr::pool_memory_resource> rmm_pinned;
  void* target = nullptr;  // device destination of the staging copies (64 MiB)
};

rig* g_rig = nullptr;

std::size_t bytes_of(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

/// Runs `op(stream index)` per iteration: stream 0 always, or alternating when `ping_pong`.
/// Both streams are synchronised every kSyncEvery operations and at the end (timed).
template <class Op>
void loop(benchmark::State& state, bool ping_pong, Op op) {
  rig& r = *g_rig;
  for (int i = 0; i < 64; ++i) op(ping_pong ? i % 2 : 0);  // warm-up: steady state
  r.s[0].synchronize();
  r.s[1].synchronize();
  std::int64_t i = 0;
  for (auto _ : state) {
    op(ping_pong ? static_cast<int>(i % 2) : 0);
    if (++i % kSyncEvery == 0) {
      r.s[0].synchronize();
      r.s[1].synchronize();
    }
  }
  r.s[0].synchronize();
  r.s[1].synchronize();
  state.SetItemsProcessed(state.iterations());
}

void device_buffer(benchmark::State& state, bool ping_pong) {
  const std::size_t bytes = bytes_of(state);
  rig& r = *g_rig;
  loop(state, ping_pong, [&](int k) {
    pinpool::buffer b = r.device.acquire(bytes, r.s[k]);
    benchmark::DoNotOptimize(b.data());
  });
}

void device_nocapture(benchmark::State& state, bool ping_pong) {
  const std::size_t bytes = bytes_of(state);
  rig& r = *g_rig;
  loop(state, ping_pong, [&](int k) {
    pinpool::buffer b = r.device_nocapture.acquire(bytes, r.s[k]);
    benchmark::DoNotOptimize(b.data());
  });
}

void device_raw(benchmark::State& state, bool ping_pong) {
  const std::size_t bytes = bytes_of(state);
  rig& r = *g_rig;
  loop(state, ping_pong, [&](int k) {
    void* p = r.device.allocate(bytes, r.s[k]);
    benchmark::DoNotOptimize(p);
    r.device.deallocate(p, r.s[k]);
  });
}

void device_rmm(benchmark::State& state, bool ping_pong) {
  const std::size_t bytes = bytes_of(state);
  rig& r = *g_rig;
  loop(state, ping_pong, [&](int k) {
    const cuda::stream_ref s{r.native(k)};
    void* p = r.rmm_device->allocate(s, bytes, 256);
    benchmark::DoNotOptimize(p);
    r.rmm_device->deallocate(s, p, bytes, 256);
  });
}

void staging_pinpool(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  rig& r = *g_rig;
  loop(state, false, [&](int) {
    pinpool::buffer b = r.pinned.acquire(bytes);
    static_cast<unsigned char*>(b.data())[0] = 1;
    b.set_stream(r.s[0]);
    cudaMemcpyAsync(r.target, b.data(), bytes, cudaMemcpyHostToDevice, r.native(0));
  });
}

void staging_rmm(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  rig& r = *g_rig;
  loop(state, false, [&](int) {
    const cuda::stream_ref s{r.native(0)};
    void* p = r.rmm_pinned->allocate(s, bytes, 256);
    cudaStreamSynchronize(r.native(0));  // the block may still be read by an earlier copy
    static_cast<unsigned char*>(p)[0] = 1;
    cudaMemcpyAsync(r.target, p, bytes, cudaMemcpyHostToDevice, r.native(0));
    r.rmm_pinned->deallocate(s, p, bytes, 256);
  });
}

void register_all() {
  using fn = void (*)(benchmark::State&, bool);
  const std::pair<const char*, fn> device_peers[] = {{"pinpool", device_buffer},
                                                     {"pinpool_raw", device_raw},
                                                     {"pinpool_nocapture", device_nocapture},
                                                     {"rmm_pool", device_rmm}};
  const std::int64_t sizes[] = {256, std::int64_t{64} << 10, std::int64_t{8} << 20};
  for (const char* workload : {"same_stream", "ping_pong"}) {
    const bool ping_pong = std::string(workload) == "ping_pong";
    for (const auto& [peer, f] : device_peers) {
      const std::string name = std::string("rmm_gpu/") + peer + "/" + workload;
      auto* b = benchmark::RegisterBenchmark(
          name.c_str(), [f = f, ping_pong](benchmark::State& st) { f(st, ping_pong); });
      b->ArgName("bytes")->UseRealTime();
      for (std::int64_t n : sizes) b->Arg(n);
    }
  }
  for (const auto& [peer, f] :
       {std::pair<const char*, void (*)(benchmark::State&)>{"pinpool", staging_pinpool},
        {"rmm_pool", staging_rmm}}) {
    benchmark::RegisterBenchmark((std::string("rmm_gpu/") + peer + "/staging").c_str(), f)
        ->ArgName("bytes")
        ->Arg(std::int64_t{64} << 10)
        ->Arg(std::int64_t{1} << 20)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  return pinpool::bench::run_gpu_benchmarks(argc, argv, "pinpool-bench-gpu-rmm", g_rig,
                                            register_all);
}
