#pragma once
// Per-thread caches of idle chunks (internal). A host release (no stream) parks the chunk in the
// releasing thread's cache for that pool; a later acquisition of the same class on that thread
// takes it back without touching the pool's lock. Only pools without a cap use them (at the cap
// every idle chunk must be visible to every thread).
//
// Ownership: a cache entry is attached to one pool_core, which counts the cached chunks as
// handed out and keeps the entry in its registry; the core is not deleted while any entry is
// attached. Only the owning thread touches an entry's chunks; pool_core::stats() reads the
// entry's atomics under the pool's lock. A thread has four entries (four pools); attaching a
// fifth pool detaches the oldest. Entries are detached when the thread exits.
//
// The hot path (`take_cached`, `park`) is inline, and reaching the thread's table is one TLS load.

#include "chunk.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pinpool::detail {

class pool_core;

struct cache_entry {
  static constexpr int slots = 8;
  pool_core* core;  // owner-only (zero-initialised: tables are thread-local)
  std::array<std::atomic<chunk*>, slots> slot;
  std::array<std::uint32_t, slots> slot_class;  // owner-only: the class of slot[i]
  std::atomic<std::uint64_t> acquisitions;      // owner-written, folded into the pool on detach
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

constexpr int cache_entries_per_thread = 4;

/// The calling thread's entries. Trivially constructible and destructible, zero-initialised.
struct thread_cache_table {
  std::array<cache_entry, cache_entries_per_thread> entries;
  int next_victim;
};
// `__thread`, not `thread_local`: a variable with no dynamic initialisation by construction, so
// every access from any file is a plain TLS load (thread_local would add an init-guard call).
// Defined in thread_cache.cpp.
extern __thread thread_cache_table tls_cache_table;

/// @brief The calling thread's entry for `core`, or null.
[[gnu::always_inline]] inline cache_entry* find_cache_entry(const pool_core* core) noexcept {
  for (cache_entry& e : tls_cache_table.entries) {
    if (e.core == core) return &e;
  }
  return nullptr;
}

/// @brief The calling thread's entry for `core`, attaching one (evicting another pool's entry
/// when all four are taken). Null when the core refuses (closing). Slow path.
/// @throws std::bad_alloc when the pool cannot register the entry.
cache_entry* attach_cache_entry(pool_core* core);

/// @brief Owner thread, no lock: a cached chunk of class `cls` for a request of `bytes`,
/// counted as an acquisition and a hit; null when the thread holds none.
[[gnu::always_inline]] inline chunk* take_cached(const pool_core* core, std::uint32_t cls,
                                                 std::size_t bytes) noexcept {
  cache_entry* e = find_cache_entry(core);
  if (e == nullptr) return nullptr;
  for (int i = 0; i < cache_entry::slots; ++i) {
    if (e->slot_class[i] != cls) continue;
    chunk* c = e->slot[i].load(std::memory_order_relaxed);
    if (c != nullptr) {
      e->slot[i].store(nullptr, std::memory_order_relaxed);
      bump(e->acquisitions);
      bump(e->hits);
      bump(e->requested_delta, static_cast<std::int64_t>(bytes));
      return c;
    }
  }
  return nullptr;
}

/// @brief Owner thread: parks an idle chunk in this thread's cache for `core` (attaching an
/// entry on first use). The pool keeps counting it as handed out until the entry is detached.
/// @return false when the cache is full or cannot be attached: the caller releases to the pool.
[[gnu::always_inline]] inline bool park(pool_core* core, chunk* c) noexcept {
  cache_entry* e = find_cache_entry(core);
  try {
    if (e == nullptr) e = attach_cache_entry(core);
  } catch (...) {  // cannot register (out of memory): use the pool's lists
    return false;
  }
  if (e == nullptr) return false;
  for (int i = 0; i < cache_entry::slots; ++i) {
    if (e->slot[i].load(std::memory_order_relaxed) == nullptr) {
      bump(e->requested_delta, -static_cast<std::int64_t>(c->requested));
      c->st = chunk::state::ready;
      e->slot_class[i] = c->cls;
      e->slot[i].store(c, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

/// @brief What the attached entries of a pool hold (read under the pool's lock).
struct cache_totals {
  std::size_t chunks = 0;
  std::size_t bytes = 0;
  std::uint64_t acquisitions = 0;
  std::uint64_t hits = 0;
  std::int64_t requested_delta = 0;
  std::vector<std::size_t> per_class;  // cached chunks per class (empty when none)
};
/// @brief Adds what `e` holds to `t`; `classes` > 0 also counts chunks per class (allocates).
void add_cache(cache_totals& t, const cache_entry& e, std::uint32_t classes);
cache_totals sum_caches(const std::vector<cache_entry*>& attached, std::uint32_t classes);

}  // namespace pinpool::detail
