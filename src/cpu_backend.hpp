#pragma once
// The CPU backend: streams are worker threads with a FIFO, events are completion counters,
// slabs are mmap'd (pinned_host: mlock'd where RLIMIT_MEMLOCK allows).

#include <pinpool/backend.hpp>

#include <atomic>
#include <memory>

namespace pinpool::detail {

/// @brief Fault injection for tests (thread-safe). Counts are of calls made from now on; 0 = off.
struct cpu_faults {
  std::atomic<unsigned> fail_nth_allocation{0};   ///< that allocate() throws out_of_memory
  std::atomic<unsigned> fail_nth_event_call{0};   ///< that create/record_event throws error
  std::atomic<unsigned> fail_nth_stream_call{0};  ///< that create_native_stream throws error
  /// Every call except destroy/deallocate throws pinpool::error ("sticky", like a CUDA
  /// cudaErrorIllegalAddress) until cleared.
  std::atomic<bool> sticky{false};
  std::atomic<unsigned> injected{0};  ///< faults raised so far
};

/// @brief Makes a CPU backend with one "device"; `faults` (optional) injects failures.
std::shared_ptr<backend> make_cpu_backend(std::shared_ptr<cpu_faults> faults = nullptr);

}  // namespace pinpool::detail
