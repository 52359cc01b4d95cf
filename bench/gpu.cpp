// Suite 4: the GPU suite. Compiled wherever PINPOOL_CUDA is ON, meaningful only on a machine
// with a usable device: without one it prints one line and exits 0.
//
// gpu/<peer>/bytes:N  one allocation + release, 256 B to 64 MiB, one host thread:
//   pinpool_device     device pool (CUDA backend): acquire(bytes, s), released on s
//   cudaMalloc         cudaMalloc + cudaFree
//   cudaMallocAsync    cudaMallocFromPoolAsync + cudaFreeAsync on s, on a memory pool whose
//                      release threshold is UINT64_MAX (it keeps what it has)
//   cub_caching        cub::CachingDeviceAllocator (bin growth 8, bins 512 B .. 128 MiB, so
//                      every size here is cached): DeviceAllocate(s) + DeviceFree
//   pinpool_pinned     pinned_host pool: acquire(bytes) + touch + release
//   cudaMallocHost     cudaMallocHost + touch + cudaFreeHost
// The stream-ordered peers synchronise their stream every kSyncEvery operations (timed).
//
// copy/<case>/bytes:N  host-to-device copy throughput (bytes_per_second):
//   limit              one cudaMallocHost buffer -> one cudaMalloc buffer, cudaMemcpyAsync on
//                      one stream: the copy engine's limit on this machine
//   pinpool_pipeline   per frame: a pinned chunk (acquire, touch, set_stream) and a device chunk
//                      (acquire on the stream), memcpy_async, both released on the stream;
//                      frames round-robin over 2 streams, at most 4 in flight per stream

#include <pinpool/pinpool.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#ifdef PINPOOL_BENCH_HAVE_CUB
#include <cub/util_allocator.cuh>
#endif

#include "bench_util.hpp"

namespace {

using pinpool::bench::gpu_pool_options;
using pinpool::bench::round_trip_sizes;
using pinpool::bench::touch;

constexpr std::int64_t kSyncEvery = 256;
constexpr int kDevice = 0;

/// Skips the benchmark with the runtime's message when a call fails.
#define BENCH_CUDA(state, call)                                                               \
  do {                                                                                        \
    const cudaError_t bench_err_ = (call);                                                    \
    if (bench_err_ != cudaSuccess) {                                                          \
      (state).SkipWithError((std::string(#call) + ": " + cudaGetErrorName(bench_err_) + " " + \
                             cudaGetErrorString(bench_err_))                                  \
                                .c_str());                                                    \
      return;                                                                                 \
    }                                                                                         \
  } while (0)

/// Everything shared by the benchmarks; made in main() once a device is known to be usable
/// and destroyed before main() returns (pools first, then the streams, then the backend).
struct gpu_rig {
  gpu_rig()
      : be(pinpool::make_backend(pinpool::backend_kind::cuda)),
        s0(be->create_stream()),
        s1(be->create_stream()),
        device(be, gpu_pool_options(pinpool::memory_kind::device, "bench-gpu-device", kDevice)),
        pinned(be,
               gpu_pool_options(pinpool::memory_kind::pinned_host, "bench-gpu-pinned", kDevice)) {}

  cudaStream_t native0() const { return static_cast<cudaStream_t>(s0.native_handle()); }

  std::shared_ptr<pinpool::backend> be;
  pinpool::stream s0;
  pinpool::stream s1;
  pinpool::pool device;
  pinpool::pool pinned;
};

gpu_rig* g_rig = nullptr;

std::size_t bytes_of(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

// ---- allocation round trips
// -----------------------------------------------------------------------

void bm_pinpool_device(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  gpu_rig& r = *g_rig;
  { pinpool::buffer warm = r.device.acquire(bytes, r.s0); }
  std::int64_t i = 0;
  for (auto _ : state) {
    {
      pinpool::buffer b = r.device.acquire(bytes, r.s0);
      benchmark::DoNotOptimize(b.data());
    }
    if (++i % kSyncEvery == 0) r.s0.synchronize();
  }
  r.s0.synchronize();
  state.SetItemsProcessed(state.iterations());
}

void bm_cuda_malloc(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  for (auto _ : state) {
    void* p = nullptr;
    BENCH_CUDA(state, cudaMalloc(&p, bytes));
    benchmark::DoNotOptimize(p);
    BENCH_CUDA(state, cudaFree(p));
  }
  state.SetItemsProcessed(state.iterations());
}

void bm_cuda_malloc_async(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  const cudaStream_t s = g_rig->native0();
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = kDevice;
  cudaMemPool_t mem_pool = nullptr;
  BENCH_CUDA(state, cudaMemPoolCreate(&mem_pool, &props));
  std::uint64_t threshold = UINT64_MAX;
  BENCH_CUDA(state, cudaMemPoolSetAttribute(mem_pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  std::int64_t i = 0;
  for (auto _ : state) {
    void* p = nullptr;
    BENCH_CUDA(state, cudaMallocFromPoolAsync(&p, bytes, mem_pool, s));
    benchmark::DoNotOptimize(p);
    BENCH_CUDA(state, cudaFreeAsync(p, s));
    if (++i % kSyncEvery == 0) BENCH_CUDA(state, cudaStreamSynchronize(s));
  }
  BENCH_CUDA(state, cudaStreamSynchronize(s));
  BENCH_CUDA(state, cudaMemPoolDestroy(mem_pool));
  state.SetItemsProcessed(state.iterations());
}

void bm_cub_caching(benchmark::State& state) {
#ifdef PINPOOL_BENCH_HAVE_CUB
  const std::size_t bytes = bytes_of(state);
  const cudaStream_t s = g_rig->native0();
  // 8^3 = 512 B .. 8^9 = 128 MiB bins: every size of the suite is cached.
  cub::CachingDeviceAllocator cub_alloc(8, 3, 9, std::size_t{4} << 30);
  std::int64_t i = 0;
  for (auto _ : state) {
    void* p = nullptr;
    BENCH_CUDA(state, cub_alloc.DeviceAllocate(kDevice, &p, bytes, s));
    benchmark::DoNotOptimize(p);
    BENCH_CUDA(state, cub_alloc.DeviceFree(kDevice, p));
    if (++i % kSyncEvery == 0) BENCH_CUDA(state, cudaStreamSynchronize(s));
  }
  BENCH_CUDA(state, cudaStreamSynchronize(s));
  state.SetItemsProcessed(state.iterations());
#else
  state.SkipWithError("CUB headers (cub/util_allocator.cuh) not found at configure time");
#endif
}

void bm_pinpool_pinned(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  gpu_rig& r = *g_rig;
  { pinpool::buffer warm = r.pinned.acquire(bytes); }
  for (auto _ : state) {
    pinpool::buffer b = r.pinned.acquire(bytes);
    touch(b.data(), bytes);
  }
  state.SetItemsProcessed(state.iterations());
}

void bm_cuda_malloc_host(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  for (auto _ : state) {
    void* p = nullptr;
    BENCH_CUDA(state, cudaMallocHost(&p, bytes));
    touch(p, bytes);
    BENCH_CUDA(state, cudaFreeHost(p));
  }
  state.SetItemsProcessed(state.iterations());
}

// ---- copy throughput
// -----------------------------------------------------------------------------------

void bm_copy_limit(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  const cudaStream_t s = g_rig->native0();
  void* host = nullptr;
  void* dev = nullptr;
  BENCH_CUDA(state, cudaMallocHost(&host, bytes));
  BENCH_CUDA(state, cudaMalloc(&dev, bytes));
  std::memset(host, 1, bytes);
  for (auto _ : state) {
    BENCH_CUDA(state, cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, s));
    BENCH_CUDA(state, cudaStreamSynchronize(s));
  }
  BENCH_CUDA(state, cudaFree(dev));
  BENCH_CUDA(state, cudaFreeHost(host));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

void bm_copy_pinpool_pipeline(benchmark::State& state) {
  const std::size_t bytes = bytes_of(state);
  gpu_rig& r = *g_rig;
  pinpool::stream* streams[] = {&r.s0, &r.s1};
  constexpr std::int64_t in_flight = 4;  // per stream
  auto frame = [&](std::int64_t i) {
    pinpool::stream& s = *streams[i % 2];
    pinpool::buffer h = r.pinned.acquire(bytes);  // idle: the host may fill it
    touch(h.data(), bytes);
    h.set_stream(s);  // from now on released on s
    pinpool::buffer d = r.device.acquire(bytes, s);
    s.memcpy_async(d.data(), h.data(), bytes);
  };  // both released on s: events recorded, nobody blocks
  for (std::int64_t i = 0; i < 2 * in_flight; ++i) frame(i);  // warm up (grow the pools)
  r.s0.synchronize();
  r.s1.synchronize();
  std::int64_t i = 0;
  for (auto _ : state) {
    frame(i);
    if (++i % (2 * in_flight) == 0) {
      r.s0.synchronize();
      r.s1.synchronize();
    }
  }
  r.s0.synchronize();
  r.s1.synchronize();
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

void register_all() {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, kDevice) == cudaSuccess) {
    benchmark::AddCustomContext("gpu", prop.name);
  }
  using fn = void (*)(benchmark::State&);
  const std::pair<const char*, fn> round_trips[] = {
      {"gpu/pinpool_device", bm_pinpool_device},     {"gpu/cudaMalloc", bm_cuda_malloc},
      {"gpu/cudaMallocAsync", bm_cuda_malloc_async}, {"gpu/cub_caching", bm_cub_caching},
      {"gpu/pinpool_pinned", bm_pinpool_pinned},     {"gpu/cudaMallocHost", bm_cuda_malloc_host},
  };
  for (const auto& [name, f] : round_trips) {
    auto* b = benchmark::RegisterBenchmark(name, f)->ArgName("bytes")->UseRealTime();
    for (std::size_t bytes : round_trip_sizes()) b->Arg(static_cast<std::int64_t>(bytes));
  }
  const std::pair<const char*, fn> copies[] = {
      {"copy/limit", bm_copy_limit},
      {"copy/pinpool_pipeline", bm_copy_pinpool_pipeline},
  };
  for (const auto& [name, f] : copies) {
    benchmark::RegisterBenchmark(name, f)
        ->ArgName("bytes")
        ->Arg(std::int64_t{1} << 20)
        ->Arg(std::int64_t{8} << 20)
        ->Arg(std::int64_t{64} << 20)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  return pinpool::bench::run_gpu_benchmarks(argc, argv, "pinpool-bench-gpu", g_rig, register_all);
}
