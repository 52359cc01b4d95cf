#pragma once
// Helpers shared by the benchmark suites (not part of the library).

#include <benchmark/benchmark.h>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#ifdef PINPOOL_BENCH_GPU  // the real-GPU suites (bench/CMakeLists.txt defines it for them)
#include <pinpool/pinpool.hpp>

#include <cuda_runtime_api.h>
#endif

namespace pinpool::bench {

/// The request sizes of the round-trip suites: 256 B to 64 MiB, one every factor of 16 plus
/// 8 MiB (the size of the "fresh page-locked buffer" target).
inline const std::vector<std::size_t>& round_trip_sizes() {
  static const std::vector<std::size_t> sizes{256,
                                              std::size_t{4} << 10,
                                              std::size_t{64} << 10,
                                              std::size_t{1} << 20,
                                              std::size_t{8} << 20,
                                              std::size_t{64} << 20};
  return sizes;
}

/// Writes the first and the last byte of a block, so that no compiler can elide the
/// allocation and the allocator must provide real backing for both ends (a page fault for
/// memory fresh from the kernel). Every peer of a suite touches its memory the same way.
inline void touch(void* p, std::size_t bytes) noexcept {
  auto* b = static_cast<volatile unsigned char*>(p);
  b[0] = 1;
  b[bytes - 1] = 2;
  benchmark::DoNotOptimize(p);
}

/// "64 KiB", "8 MiB", "256 B".
inline std::string human_bytes(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (u < 3 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + units[u];
}

#ifdef PINPOOL_BENCH_GPU

/// The options of a GPU suite's pool: `kind` on `device`, named `name`, the rest defaults.
inline pinpool::pool_options gpu_pool_options(pinpool::memory_kind kind, const char* name,
                                              int device) {
  pinpool::pool_options o;
  o.kind = kind;
  o.device = device;
  o.name = name;
  return o;
}

/// main() of a GPU suite. Without a usable device: prints "<suite>: skipped: ..." and returns 0.
/// Otherwise makes `rig` (shared by the benchmarks), calls `register_all`, runs the benchmarks
/// that the command line selects and destroys `rig`; 1 for an unrecognised argument.
template <class Rig>
int run_gpu_benchmarks(int argc, char** argv, const char* suite, Rig*& rig,
                       void (*register_all)()) {
  int devices = 0;
  const cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    std::printf("%s: skipped: no usable CUDA device (%s)\n", suite,
                err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    return 0;
  }
  rig = new Rig();
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  delete rig;
  rig = nullptr;
  return 0;
}

#endif  // PINPOOL_BENCH_GPU

}  // namespace pinpool::bench
