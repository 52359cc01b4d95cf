#pragma once
// The records a pool keeps per chunk and per slab (internal). Host-side only: never stored in
// chunk memory, which may be device memory the host cannot touch. Owned by the slab_arena;
// addresses are stable for the pool's lifetime.

#include <pinpool/backend.hpp>
#include <pinpool/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace pinpool::detail {

struct slab_record;
struct graph_scope_state;

/// @brief An event handle of the backend and the device it was created on.
struct event_slot {
  void* event;
  int device;
};

struct chunk {
  enum class state : std::uint8_t { carved, in_use, ready, pending };
  std::byte* ptr = nullptr;
  std::size_t bytes = 0;      // class size
  std::size_t requested = 0;  // while in use
  std::uint32_t cls = 0;
  state st = state::carved;
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
  // Acquired through a graph_scope, or released into one (graph_scope_state.hpp): the scope
  // that keeps it out of the pool. Written by the chunk's holder, or under the pool's lock while
  // the scope holds the chunk.
  graph_scope_state* scope = nullptr;
};

struct slab_record {
  slab mem;
  void* nvtx_heap = nullptr;    // NVTX memory-API heap of this slab
  std::size_t carved = 0;       // bump offset
  std::size_t live_chunks = 0;  // carved chunks in use or pending
  std::vector<chunk*> chunks;   // every chunk carved from it
};

}  // namespace pinpool::detail
