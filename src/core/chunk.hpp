#pragma once
// The records a pool keeps per chunk and per slab (internal). Host-side only: never stored in
// chunk memory, which may be device memory the host cannot touch. Owned by the slab_arena;
// addresses are stable for the pool's lifetime.
//
// Who writes what. A chunk in use is its holder's (a buffer, or the raw pointer's owner), which
// writes `requested`, `streams`, `per_thread_owner`, `raw`, `raw_alloc_stream` and, releasing
// it, `events` without the pool's lock; the rest is written under the pool's lock. A reader
// other than the holder (pool_core::leak_report, under the pool's lock) reads only `st`, `ptr`,
// `bytes`, `cls`, `requested` and `raw` (relaxed atomics: the thread-cache hit writes
// `requested` with no lock) and `streams`, which the holder writes either under the pool's lock
// (when the chunk is handed out from the pool's lists) or under the chunk's `streams_lock`,
// which that reader also takes.

#include <pinpool/backend.hpp>
#include <pinpool/stream.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <thread>
#include <vector>

namespace pinpool::detail {

/// @brief A value written by one thread and read by others with no ordering: relaxed atomic
/// loads and stores, spelled as plain reads and assignments (on x86-64 the same `mov`s).
template <class T>
class relaxed {
 public:
  relaxed() noexcept = default;
  relaxed(const relaxed&) = delete;
  relaxed& operator=(const relaxed&) = delete;
  relaxed& operator=(T v) noexcept {
    v_.store(v, std::memory_order_relaxed);
    return *this;
  }
  operator T() const noexcept { return v_.load(std::memory_order_relaxed); }  // NOLINT: a value

 private:
  std::atomic<T> v_{};
};

/// @brief Serialises a holder's writes of a chunk's `streams` made without the pool's lock
/// (set_stream, record_stream, deallocate on a stream, a thread-cache hit on a stream) with a
/// reader holding the pool's lock (the leak report). Uncontended but for that reader: one
/// exchange and one store. Never held while taking the pool's lock.
class stream_list_lock {
 public:
  void lock() noexcept {
    while (busy_.exchange(true, std::memory_order_acquire)) {
      while (busy_.load(std::memory_order_relaxed)) std::this_thread::yield();
    }
  }
  void unlock() noexcept { busy_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> busy_{false};
};

struct slab_record;
struct graph_scope_state;

/// @brief An event handle of the backend and the device it was created on.
struct event_slot {
  void* event;
  int device;
};

struct chunk {
  // quarantined: released, but its release could not be ordered; never reused.
  enum class state : std::uint8_t { carved, in_use, ready, pending, quarantined };
  std::byte* ptr = nullptr;
  std::size_t bytes = 0;           // class size
  relaxed<std::size_t> requested;  // while in use
  std::uint32_t cls = 0;
  state st = state::carved;
  mutable stream_list_lock streams_lock;  // guards `streams`: see the top of this file
  slab_record* slab = nullptr;
  chunk* prev = nullptr;  // links in its class's ready or pending list
  chunk* next = nullptr;
  std::vector<stream_ref> streams;   // in use: the streams its release waits for
  std::vector<event_slot> events;    // pending: recorded at release, one per stream
  std::uint64_t release_stream = 0;  // pending: identity of the only stream it was released on
  // Pending: released on `release_stream` without an event; its stream's fence orders any
  // hand-off (stream_fences).
  bool lazy = false;
  // Which release put it on a pending list; 0 while it is not pending. Written only under the
  // pool's lock, so a query made without the lock can tell whether the chunk is still the one
  // it asked about.
  std::uint64_t release_seq = 0;
  // In use on a handle naming a different stream per thread (cudaStreamPerThread, the legacy
  // stream): the thread whose stream that is. Only that thread can record its release.
  std::thread::id per_thread_owner;
  // Out as a raw pointer (pool::allocate) acquired on a stream: streams.front() is that stream,
  // which deallocate(p, s) replaces by s (cudaFreeAsync). Written by the pointer's holder only.
  bool raw_alloc_stream = false;
  // Out as a raw pointer now (set by allocate, cleared by deallocate): for the leak report.
  relaxed<bool> raw;
  // Acquired through a graph_scope, or released into one (graph_scope_state.hpp): the scope
  // that keeps it out of the pool. Written by the chunk's holder, or under the pool's lock while
  // the scope holds the chunk.
  graph_scope_state* scope = nullptr;
};

struct slab_record {
  slab mem;
  void* nvtx_heap = nullptr;    // NVTX memory-API heap of this slab
  std::uint64_t serial = 0;     // order of creation (ties in the best-fit search go to older)
  std::size_t live_chunks = 0;  // carved chunks in use or pending
  std::vector<chunk*> chunks;   // every chunk carved from it and not given back to free space
  // Free space (carved into no chunk): offset -> bytes, adjacent extents merged.
  std::map<std::size_t, std::size_t> free;
};

}  // namespace pinpool::detail
