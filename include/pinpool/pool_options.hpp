#pragma once
/// @file pool_options.hpp
/// @brief Construction settings of a `pool`. Validated by the pool's constructor
/// (std::invalid_argument on nonsense).

#include <pinpool/memory_kind.hpp>

#include <chrono>
#include <cstddef>

namespace pinpool {

struct pool_options {
  memory_kind kind = memory_kind::pinned_host;
  int device = 0;
  /// Bytes reserved at construction (one slab of at least this size; 0 = nothing up front).
  std::size_t initial_bytes = 0;
  /// Hard cap on bytes reserved from the backend (0 = unlimited).
  std::size_t max_bytes = 0;
  /// Growth unit: a slab is carved into chunks of any class; requests larger than
  /// slab_bytes get a slab of their own.
  std::size_t slab_bytes = std::size_t{64} << 20;
  /// Chunk alignment and the granularity of the smallest classes (power of two, >= 16).
  std::size_t alignment = 256;
  /// Size classes per power of two (power of two, 1..64). 8 bounds rounding waste at 12.5% for
  /// requests of at least 8 * alignment; smaller requests round up to a multiple of alignment.
  unsigned classes_per_doubling = 8;
  /// When the cap is reached and nothing is reusable: wait this long for a pending release,
  /// then throw pool_exhausted. 0 = fail at once.
  std::chrono::milliseconds acquire_timeout{0};
  /// Per-thread caches of idle chunks (up to 8 per thread and pool): a host release parks the
  /// chunk with the releasing thread, whose next acquisition of that size takes it back without
  /// the pool's lock. Used only when max_bytes is 0 (at a cap, every idle chunk must be visible
  /// to every thread). Chunks cached by another thread are not available to this one.
  bool thread_cache = true;
  /// Name used in error messages, stats and NVTX.
  const char* name = "pinpool";
};

}  // namespace pinpool
