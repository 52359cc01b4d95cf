#pragma once
// Host slabs made from anonymous memory (internal), for both backends: map (2 MiB-aligned when
// large, madvise(MADV_HUGEPAGE) where transparent huge pages are on), place (numa.hpp: mbind
// before the first touch), first-touch in parallel on a few threads, optionally mlock, and read
// back the node the pages landed on. The CUDA backend registers the result (cudaHostRegister);
// the CPU backend mlocks it. Freeing is `free_host_slab` (after cudaHostUnregister there).

#include <cstddef>

namespace pinpool::detail {

struct host_slab_request {
  std::size_t bytes = 0;
  int numa_node = -1;          ///< -1: the creating thread's node (several nodes) or none
  unsigned touch_threads = 0;  ///< 0: `default_touch_threads(bytes)`
  bool touch = true;           ///< false: leave the pages untouched (placed when first used)
  bool lock = false;           ///< mlock after the touch (RLIMIT_MEMLOCK permitting)
  bool huge_pages = true;      ///< madvise(MADV_HUGEPAGE) (false: for the benchmark's baseline)
};

struct host_slab {
  void* ptr = nullptr;
  std::size_t bytes = 0;  ///< as requested (the mapping is whole pages)
  int numa_node = -1;     ///< read back after the touch; -1 when untouched or not readable
  bool locked = false;    ///< mlock succeeded
};

/// @brief Threads that first-touch a slab of `bytes` when none are asked for:
/// min(4, hardware threads, bytes / 16 MiB), at least 1 (the calling thread alone).
unsigned default_touch_threads(std::size_t bytes) noexcept;

/// @brief Maps, places, touches and (optionally) locks `r.bytes` of anonymous memory.
/// @throws out_of_memory when the mapping fails. Placement refused by the kernel is not an
/// error (the read-back node says where the pages went).
/// @note Blocks until every touch thread has finished; takes about bytes / (the machine's page
/// fault bandwidth) seconds.
host_slab make_host_slab(const host_slab_request& r);

/// @brief Unmaps a slab of `make_host_slab` (ptr, bytes as returned). Never throws.
void free_host_slab(void* ptr, std::size_t bytes) noexcept;

/// @brief Writes one byte per page of [p, p + bytes) on `threads` threads (the caller is one of
/// them), each taking a contiguous run of 2 MiB-aligned pieces. Exposed for the benchmark.
void touch_pages(void* p, std::size_t bytes, unsigned threads);

}  // namespace pinpool::detail
