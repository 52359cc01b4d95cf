#pragma once
// Per-thread caches of idle chunks (internal; the thread-local state lives in pool_core.cpp). A
// host release (no stream) parks the chunk in the releasing thread's cache for that pool; a later
// acquisition of the same class on that thread takes it back without touching the pool's lock. Only
// pools without a cap use them (at the cap every idle chunk must be visible to every thread).
//
// Ownership: a cache entry is attached to one pool_core, which counts the cached chunks as
// handed out and keeps the entry in its registry; the core is not deleted while any entry is
// attached. Only the owning thread touches an entry's chunks; pool_core::stats() reads the
// entry's atomics under the pool's lock.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pinpool::detail {

class pool_core;
struct chunk;

struct cache_entry {
  static constexpr int slots = 8;
  pool_core* core = nullptr;  // owner-only
  std::atomic<chunk*> slot[slots];
  std::uint32_t slot_class[slots];  // owner-only: the class of slot[i] (no chunk dereference)
  std::atomic<std::uint64_t> acquisitions;  // owner-written, folded into the pool on detach
  std::atomic<std::uint64_t> hits;
  std::atomic<std::int64_t> requested_delta;  // requests handed out minus requests cached
};

/// @brief Owner-side increments (no read-modify-write instruction: only the owner writes).
inline void bump(std::atomic<std::uint64_t>& v, std::uint64_t by = 1) noexcept {
  v.store(v.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}
inline void bump(std::atomic<std::int64_t>& v, std::int64_t by) noexcept {
  v.store(v.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

}  // namespace pinpool::detail
