#pragma once
// Pieces of the CUDA emulation shared between its sources (not for tests: see cuda_emulation.hpp).
//   device_memory.cpp: device allocations the host cannot touch, and the SIGSEGV report.
//   chaos.cpp:         the seeded delays of stream work (PINPOOL_EMU_CHAOS).

#include <cstddef>
#include <cstdint>

namespace pinpool_emu::internal {

// ---- device_memory.cpp ------------------------------------------------------------------------

/// One cudaMalloc block: a memfd mapped twice. `device` (PROT_NONE) is what cudaMalloc returns;
/// any host access to it faults. `shadow` (read/write) is where the emulated copy engine reads
/// and writes. Both span `mapped` bytes (the request rounded up to whole pages).
struct device_view {
  void* device = nullptr;
  void* shadow = nullptr;
  std::size_t mapped = 0;
};

/// Maps a new device allocation of `bytes` (> 0) and registers it with the fault handler
/// (installed on first use). An empty view when the mapping fails.
device_view map_device_memory(std::size_t bytes);
/// Unregisters and unmaps a view of map_device_memory().
void unmap_device_memory(const device_view& view);

// ---- chaos.cpp --------------------------------------------------------------------------------

/// The chaos seed in force (0: off). Starts as PINPOOL_EMU_CHAOS.
std::uint64_t chaos_seed();
void set_chaos_seed(std::uint64_t seed);

/// The random delays of one stream's work, drawn from a PRNG seeded with (chaos seed, stream id):
/// the same seed gives each stream the same sequence of delays. Used by the stream's worker only.
class chaos_clock {
 public:
  explicit chaos_clock(unsigned long long stream_id) : stream_id_(stream_id) {}
  /// Sleeps 0-2 ms before a task runs under chaos (host functions another 0-2 ms); no-op if off.
  void delay(bool host_function);

 private:
  std::uint64_t next();
  const unsigned long long stream_id_;
  std::uint64_t seed_ = 0;  // the chaos seed the state was drawn from
  std::uint64_t state_ = 0;
};

}  // namespace pinpool_emu::internal
