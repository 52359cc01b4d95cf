#pragma once
// The pool's hot path, inline (internal): included only by pool.cpp, buffer.cpp and
// raw_pointers.cpp, whose public entry points (pool::acquire, buffer::reset, pool::allocate, ...)
// then compile to one function each with no call on a thread-cache hit. Measured: bench/run
// --suites profile (instructions per round trip).

#include "pool_core.hpp"

#include <pinpool/detail/nvtx.hpp>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>

namespace pinpool::detail {

inline std::uint32_t pool_core::class_of(std::size_t bytes) const {
  if (bytes == 0) reject(bytes, "cannot acquire 0 bytes");
  if (bytes > sizes_.max_request()) reject(bytes, "is larger than any size class");
  const std::uint32_t cls = sizes_.index_of(bytes);
  if (opt_.max_bytes != 0 && sizes_.chunk_bytes(cls) > opt_.max_bytes) {
    reject(bytes, ("can never fit under max_bytes = " + std::to_string(opt_.max_bytes)).c_str());
  }
  return cls;
}

// No stream: the thread-cache hit inline, with no call, when the pool does not refuse work,
// no NVTX tool is attached and the class's home slot holds a chunk. No size check: a size no
// class holds (0, above max_request) has an index no slot holds, and class_of then refuses it
// on the slow path. A thread holds an entry for this pool only when the pool caches, which it
// does only without a cap, so max_bytes refuses no request there. A cached chunk was released
// with no stream (its streams are empty, it has no per-thread owner) and keeps the state it was
// handed out with: only its request changes. Everything else, the cache's other slots
// included: acquire_host_slow (pool.cpp).
inline buffer pool_core::acquire(std::size_t bytes, const stream_ref* s, bool may_wait) {
  if (s == nullptr) {
    if (!refusing_.load(std::memory_order_relaxed) && likely(!nvtx_memory_annotations())) {
      if (cache_entry* e = find_cache_entry(this)) {
        if (chunk* c = take_home(*e, sizes_.index_of(bytes), bytes)) {
          c->requested = bytes;
          return buffer{this, c, c->ptr, bytes};
        }
      }
    }
    return acquire_host_slow(bytes, may_wait);
  }
  return acquire_on(bytes, *s, may_wait);
}

// On a stream: a capture's scope serves it during a capture; else, without the pool's lock, a
// chunk this thread parked for `s` (its stream slots: stream order makes it safe) or one of its
// host slots; else the pool's lists.
inline buffer pool_core::acquire_on(std::size_t bytes, const stream_ref& s, bool may_wait) {
  const std::uint32_t cls = class_of(bytes);
  check_stream(s);
  if (may_capture_ && backend_->is_capturing(s)) return acquire_in_capture(cls, bytes, s);
  if (caching_ && !refusing_.load(std::memory_order_relaxed)) {
    if (cache_entry* e = find_cache_entry(this)) {
      if (parks_on_streams_ && s.lifetime_tracked()) {
        if (chunk* c = take_for_stream(*e, cls, s.id(), bytes)) return hand_back(c, bytes);
      }
      if (chunk* c = take_from(*e, cls, bytes)) return hand_over(c, bytes, &s);
    }
  }
  return acquire_shared(cls, bytes, &s, may_wait);
}

// Gives a chunk from this thread's cache to the caller, without the pool's lock (hand_out gives
// those of the pool's lists). The pool already counts it as handed out, and it was released with
// no stream and no per-thread owner (see acquire): only its request changes, and its stream,
// added under its streams_lock (a leak report may be reading the list); then its NVTX region.
inline buffer pool_core::hand_over(chunk* c, std::size_t bytes, const stream_ref* s) {
  c->requested = bytes;
  if (s != nullptr) {
    const std::lock_guard<stream_list_lock> guard(c->streams_lock);
    attach_stream(c, *s);
  }
  nvtx_region_register(c->slab->nvtx_heap, c->ptr, c->bytes);
  return buffer{this, c, c->ptr, bytes};
}

// Gives a chunk parked for the stream it is acquired on back to the caller, without the pool's
// lock: its streams (that stream alone) stay; only its request changes; then its NVTX region.
inline buffer pool_core::hand_back(chunk* c, std::size_t bytes) {
  c->requested = bytes;
  nvtx_region_register(c->slab->nvtx_heap, c->ptr, c->bytes);
  return buffer{this, c, c->ptr, bytes};
}

// Adds `s` to the streams the chunk's release waits for; binds a per-thread handle's chunk to
// the calling thread (whose stream the handle names).
// The owner is set after the stream is added (push_back may throw), so that a chunk with no
// streams never has a per-thread owner: the thread cache's hit relies on it (acquire).
inline void pool_core::attach_stream(chunk* c, const stream_ref& s) {
  const bool per_thread = !s.has_stable_identity();
  std::thread::id me{};
  if (per_thread) {
    me = std::this_thread::get_id();
    if (c->per_thread_owner != std::thread::id{} && c->per_thread_owner != me) {
      reject_foreign_per_thread_stream();
    }
  }
  c->streams.push_back(s);
  if (per_thread) c->per_thread_owner = me;
}

inline bool pool_core::waits_for(const chunk& c, const stream_ref& s) noexcept {
  const bool mine = c.per_thread_owner == std::this_thread::get_id();
  return std::any_of(c.streams.begin(), c.streams.end(), [&](const stream_ref& known) {
    return known == s && (known.has_stable_identity() || mine);
  });
}

inline void pool_core::add_stream(chunk* c, const stream_ref& s) {
  check_stream(s);
  const std::lock_guard<stream_list_lock> guard(c->streams_lock);
  attach_stream(c, s);
}

inline void pool_core::replace_streams(chunk* c, const stream_ref& s) {
  check_stream(s);
  const std::lock_guard<stream_list_lock> guard(c->streams_lock);
  c->streams.clear();
  c->per_thread_owner = std::thread::id{};
  attach_stream(c, s);
}

// No stream and a thread cache: parked with this thread. Otherwise the pool's lists. Inline,
// with no call: no NVTX tool, no stream, an entry for this pool (a thread has one only when the
// pool caches) whose home slot for the class is free. Everything else: release_slow
// (buffer.cpp).
inline void pool_core::release(chunk* c) noexcept {
  if (likely(!nvtx_memory_annotations()) && c->streams.empty()) {
    if (cache_entry* e = find_cache_entry(this)) {
      if (park_home(*e, c)) return;
    }
  }
  release_slow(c);
}

}  // namespace pinpool::detail
