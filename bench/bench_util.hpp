#pragma once
// Helpers shared by the benchmark suites (not part of the library).

#include <benchmark/benchmark.h>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

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

}  // namespace pinpool::bench
