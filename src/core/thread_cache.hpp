#pragma once
// Per-thread caches of idle chunks (internal). A host release (no stream) parks the chunk in the
// releasing thread's cache for that pool; a later acquisition of the same class on that thread
// takes it back without touching the pool's lock. Only pools without a cap use them (at the cap
// every idle chunk must be visible to every thread).
//
// Ownership: a cache entry is attached to one pool_core, which counts the cached chunks as
// handed out and keeps the entry in its registry; the core is not deleted while any entry is
// attached. Only the owning thread takes and parks an entry's chunks; pool_core::stats() reads
// the entry's atomics under the pool's lock. A thread has four entries (four pools); attaching a
// fifth pool detaches the oldest. Entries are detached when the thread exits.
//
// Closing (pool_core::close, the pool handle destroyed) is the one other writer of slots: under
// the pool's lock it exchanges every slot of every attached entry with the core's closed mark
// and returns the chunks it finds to the pool, whose idle slabs then go at once, and the rest
// once the last buffer is back (pool_core::leave_closed): a marked entry keeps only the core
// (small), until it detaches. The owner's
// take and park stay a plain load and store (no locked instruction on the hot path), which is
// safe because:
//  - no take runs concurrently with or after close: a take needs the pool handle (acquire), and
//    the handle's use must happen before its destruction. So a chunk is never both taken by
//    its owner and stolen by close.
//  - a park (a buffer outliving its pool, released by the owner) writes only a slot it saw
//    free, and close writes only marks: close's exchange either finds the parked chunk and
//    returns it, or comes first, and then the park finds the mark (not free) and the chunk goes
//    to the pool's lists. The store is a release and close's exchange an acquire, so the
//    owner's last reads of the chunk happen before the pool reuses or frees it.
//  - only a park that loaded the slot free before close's exchange and stores after it (a
//    release racing with the pool's destruction) overwrites a mark: that chunk stays parked,
//    counted as handed out, until its entry detaches (as every cached chunk did before).
// The mark's class (closed_mark_class) is no class and no index_of result, so no take matches
// it and a park never finds its slot free; detach and the readers of the figures skip it.
//
// The hot path is inline, and reaching the thread's table is one TLS load. A class has a home
// slot (home_slot) and the one after it, parked in when free and looked in first: pool_core's
// inline hit (`take_home`, `park_home`) tries only those two, the slow paths (`take_cached`,
// `park`) all eight.

#include "chunk.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pinpool::detail {

class pool_core;

/// @brief The class of a closed pool's mark (see the top of this file): no class has it, and
/// size_classes::index_of gives 2^32 - 2 or 2^32 - 1 for a size no class holds.
constexpr std::uint32_t closed_mark_class = UINT32_MAX - 2;

/// @brief Whether `c`, read from a slot, is a chunk (not empty, not a closed pool's mark).
inline bool is_cached_chunk(const chunk* c) noexcept {
  return c != nullptr && c->cls != closed_mark_class;
}

struct cache_entry {
  static constexpr int slots = 8;         // host slots: slot[0, slots)
  static constexpr int stream_slots = 4;  // stream slots: slot[slots, slots + stream_slots)
  pool_core* core;                        // owner-only (zero-initialised: tables are thread-local)
  // A chunk's class is its `cls`. Host slots hold chunks released with no stream (idle). Stream
  // slots hold chunks released lazily on their one owning stream (chunk::streams, identity in
  // chunk::release_stream), for later work on that stream from this thread: stream order makes
  // that reuse safe with no event and no lock, and nothing else may take them (take_for_stream).
  std::array<std::atomic<chunk*>, slots + stream_slots> slot;
  // Owner-written, folded into the pool on detach. Every take is an acquisition and a hit, so
  // one counter gives both figures.
  std::atomic<std::uint64_t> hits;
  std::atomic<std::int64_t> requested_delta;  // requests handed out minus requests cached
};

/// @brief A branch hint for the hot path's layout.
[[gnu::always_inline]] constexpr bool likely(bool b) noexcept {
  return __builtin_expect(static_cast<long>(b), 1L) != 0;
}

/// @brief A class's home slot: parked there when it is free, looked for there first. Classes
/// come 8 per doubling, so `cls % 8` alone would give every power of two from 4 KiB up the same
/// slot (its class is 7 mod 8) and interleaved sizes would miss it; folding in `cls >> 3` gives
/// 8 consecutive doublings 8 different slots, and the 8 classes of one doubling too.
constexpr int home_slot(std::uint32_t cls) noexcept {
  return static_cast<int>((cls ^ (cls >> 3U)) % cache_entry::slots);
}

/// @brief Owner-side increments: only the owner writes, so no locked read-modify-write; others
/// read with relaxed loads. On x86-64 one `add` to memory (a load and an aligned store, each
/// single-copy atomic, as the relaxed load and store they replace: compilers do not fuse atomic
/// accesses into one instruction). Elsewhere, and under TSan (which must see the accesses), the
/// relaxed load and store.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PINPOOL_BUMP_PORTABLE
#endif
#endif
#if !defined(__x86_64__) || defined(__SANITIZE_THREAD__)
#define PINPOOL_BUMP_PORTABLE
#endif
template <class T>
[[gnu::always_inline]] inline void bump(std::atomic<T>& v, T by) noexcept {
  static_assert(sizeof(std::atomic<T>) == 8 && sizeof(T) == 8, "64-bit counters");
#ifdef PINPOOL_BUMP_PORTABLE
  v.store(v.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
#else
  asm volatile("addq %1, %0" : "+m"(v) : "er"(by));
#endif
}
/// @brief bump(v, -by), as one `sub`.
template <class T>
[[gnu::always_inline]] inline void bump_down(std::atomic<T>& v, T by) noexcept {
  static_assert(sizeof(std::atomic<T>) == 8 && sizeof(T) == 8, "64-bit counters");
#ifdef PINPOOL_BUMP_PORTABLE
  v.store(v.load(std::memory_order_relaxed) - by, std::memory_order_relaxed);
#else
  asm volatile("subq %1, %0" : "+m"(v) : "er"(by));
#endif
}

constexpr int cache_entries_per_thread = 4;

/// The calling thread's entries. Trivially constructible and destructible, zero-initialised.
struct thread_cache_table {
  std::array<cache_entry, cache_entries_per_thread> entries;
  int next_victim;
};
// `__thread`, not `thread_local`: a variable with no dynamic initialisation by construction, so
// every access from any file is a plain TLS load (thread_local would add an init-guard call).
// Initial-exec TLS model (as allocators' thread caches use): the library is position-independent,
// and the default model for that (general-dynamic) makes each access a __tls_get_addr call to
// the compiler, which then saves registers and builds a stack frame on the hot path even where
// the linker turns the call into a plain load. Initial-exec is one load in any executable or
// shared library loaded at start-up; a shared library loaded later with dlopen takes the
// table's ~360 bytes from glibc's static TLS reserve (and fails to load if that is used up):
// define PINPOOL_TLS_GENERAL_DYNAMIC when building pinpool for that case. Defined in
// thread_cache.cpp.
#ifdef PINPOOL_TLS_GENERAL_DYNAMIC
#define PINPOOL_TLS_MODEL
#else
#define PINPOOL_TLS_MODEL __attribute__((tls_model("initial-exec")))
#endif
extern __thread thread_cache_table tls_cache_table PINPOOL_TLS_MODEL;

/// @brief The calling thread's entry for `core`, or null.
/// (The first entry is laid out as the likely one: a thread that uses one pool has it there.)
[[gnu::always_inline]] inline cache_entry* find_cache_entry(const pool_core* core) noexcept {
  auto& entries = tls_cache_table.entries;
  if (likely(entries[0].core == core)) return entries.data();
  for (int i = 1; i < cache_entries_per_thread; ++i) {
    if (entries[i].core == core) return &entries[i];
  }
  return nullptr;
}

/// @brief The calling thread's entry for `core`, attaching one (evicting another pool's entry
/// when all four are taken). Null when the core refuses (closing). Slow path.
/// @throws std::bad_alloc when the pool cannot register the entry.
cache_entry* attach_cache_entry(pool_core* core);

/// @brief Owner thread, no lock: takes slot `i` (holding `c`) for a request of `bytes`, counted
/// as an acquisition and a hit.
[[gnu::always_inline]] inline chunk* take_slot(cache_entry& e, int i, chunk* c,
                                               std::size_t bytes) noexcept {
  e.slot[i].store(nullptr, std::memory_order_relaxed);
  bump(e.hits, std::uint64_t{1});
  bump(e.requested_delta, static_cast<std::int64_t>(bytes));
  return c;
}

/// @brief A class's second slot, after its home one: two classes with one home slot (classes
/// 8 doublings apart, say 4 KiB and 1 MiB) both stay on the inline paths.
constexpr int next_slot(int i) noexcept {
  return (i + 1) % cache_entry::slots;
}

/// @brief Owner thread, no lock: the chunk of class `cls` in its home slot of `e` or the one
/// after it (see take_cached), or null.
[[gnu::always_inline]] inline chunk* take_home(cache_entry& e, std::uint32_t cls,
                                               std::size_t bytes) noexcept {
  const int i = home_slot(cls);
  chunk* c = e.slot[i].load(std::memory_order_relaxed);
  if (likely(c != nullptr && c->cls == cls)) return take_slot(e, i, c, bytes);
  const int j = next_slot(i);
  c = e.slot[j].load(std::memory_order_relaxed);
  return c == nullptr || c->cls != cls ? nullptr : take_slot(e, j, c, bytes);
}

/// @brief Owner thread, no lock: a chunk of class `cls` in `e` (home slot first, then the
/// others) for a request of `bytes`, counted as an acquisition and a hit; null when none.
[[gnu::always_inline]] inline chunk* take_from(cache_entry& e, std::uint32_t cls,
                                               std::size_t bytes) noexcept {
  if (chunk* c = take_home(e, cls, bytes)) return c;
  for (int i = 0; i < cache_entry::slots; ++i) {
    chunk* c = e.slot[i].load(std::memory_order_relaxed);
    if (c != nullptr && c->cls == cls) return take_slot(e, i, c, bytes);
  }
  return nullptr;
}

/// @brief Owner thread, no lock: the chunk of class `cls` parked in a stream slot of `e` for the
/// stream with identity `stream_id` (not 0), for a request of `bytes` on that stream, counted as
/// an acquisition and a hit; null when none.
[[gnu::always_inline]] inline chunk* take_for_stream(cache_entry& e, std::uint32_t cls,
                                                     std::uint64_t stream_id,
                                                     std::size_t bytes) noexcept {
  for (int i = cache_entry::slots; i < cache_entry::slots + cache_entry::stream_slots; ++i) {
    chunk* c = e.slot[i].load(std::memory_order_relaxed);
    if (c != nullptr && c->cls == cls && c->release_stream == stream_id) {
      return take_slot(e, i, c, bytes);
    }
  }
  return nullptr;
}

/// @brief Owner thread: parks `c`, released lazily on its one stream (identity `stream_id`), in
/// a free stream slot of `e`. The chunk stays in use to the pool (as in a host slot) until it is
/// taken for that stream or the entry is detached, which hands it to the pool as a lazy release
/// on its stream. @return false when every stream slot is taken.
[[gnu::always_inline]] inline bool park_for_stream(cache_entry& e, chunk* c,
                                                   std::uint64_t stream_id) noexcept {
  for (int i = cache_entry::slots; i < cache_entry::slots + cache_entry::stream_slots; ++i) {
    if (e.slot[i].load(std::memory_order_relaxed) == nullptr) {
      c->release_stream = stream_id;
      bump_down(e.requested_delta, static_cast<std::int64_t>(c->requested));
      e.slot[i].store(c, std::memory_order_release);  // see park_slot
      return true;
    }
  }
  return false;
}

/// @brief Owner thread, no lock: a cached chunk of class `cls` for a request of `bytes`,
/// counted as an acquisition and a hit; null when the thread holds none.
[[gnu::always_inline]] inline chunk* take_cached(const pool_core* core, std::uint32_t cls,
                                                 std::size_t bytes) noexcept {
  cache_entry* e = find_cache_entry(core);
  if (e == nullptr) return nullptr;
  return take_from(*e, cls, bytes);
}

/// @brief Owner thread: puts an idle chunk in slot `i` of `e` (free).
[[gnu::always_inline]] inline void park_slot(cache_entry& e, int i, chunk* c) noexcept {
  bump_down(e.requested_delta, static_cast<std::int64_t>(c->requested));
  // Release: pool_core::close may take it from another thread (a plain mov on x86-64).
  e.slot[i].store(c, std::memory_order_release);
}

/// @brief Owner thread: parks an idle chunk in its class's home slot of `e`, or the one after it.
/// The chunk keeps its state: the pool counts it as handed out until the entry is detached.
/// @return false when both slots are taken.
[[gnu::always_inline]] inline bool park_home(cache_entry& e, chunk* c) noexcept {
  int i = home_slot(c->cls);
  if (e.slot[i].load(std::memory_order_relaxed) != nullptr) {
    i = next_slot(i);
    if (e.slot[i].load(std::memory_order_relaxed) != nullptr) return false;
  }
  park_slot(e, i, c);
  return true;
}

/// @brief Owner thread: parks an idle chunk in `e`, in its class's home slot when free, else in
/// the first free one (see park_home). @return false when the entry is full.
[[gnu::always_inline]] inline bool park_in(cache_entry& e, chunk* c) noexcept {
  if (park_home(e, c)) return true;
  for (int i = 0; i < cache_entry::slots; ++i) {
    if (e.slot[i].load(std::memory_order_relaxed) == nullptr) {
      park_slot(e, i, c);
      return true;
    }
  }
  return false;
}

/// @brief Owner thread, the thread has no entry for `core` yet: attaches one and parks `c` in
/// it. @return false when the entry cannot be attached (closing, out of memory) or is full.
bool attach_and_park(pool_core* core, chunk* c) noexcept;

/// @brief Owner thread: parks an idle chunk in this thread's cache for `core` (attaching an
/// entry on first use). The pool keeps counting it as handed out until the entry is detached.
/// @return false when the cache is full or cannot be attached: the caller releases to the pool.
[[gnu::always_inline]] inline bool park(pool_core* core, chunk* c) noexcept {
  if (cache_entry* e = find_cache_entry(core)) return park_in(*e, c);
  return attach_and_park(core, c);
}

/// @brief What the attached entries of a pool hold (read under the pool's lock).
struct cache_totals {
  std::size_t chunks = 0;
  std::size_t bytes = 0;
  std::uint64_t acquisitions = 0;
  std::uint64_t hits = 0;
  std::int64_t requested_delta = 0;
  std::size_t stream_bytes = 0;        // of the chunks (above) parked in stream slots
  std::vector<std::size_t> per_class;  // cached chunks per class (empty when none)
};
/// @brief Adds what `e` holds to `t`; `classes` > 0 also counts chunks per class (allocates).
void add_cache(cache_totals& t, const cache_entry& e, std::uint32_t classes);
cache_totals sum_caches(const std::vector<cache_entry*>& attached, std::uint32_t classes);

}  // namespace pinpool::detail
