#pragma once
// The pool's hot path, inline (internal): included only by pool.cpp and buffer.cpp, whose public
// entry points (pool::acquire, buffer::reset) then compile to one function each with no call on
// a thread-cache hit. Measured: bench/run --suites profile (instructions per round trip).

#include "pool_core.hpp"

#include <pinpool/detail/nvtx.hpp>

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

inline buffer pool_core::acquire(std::size_t bytes, const stream_ref* s, bool may_wait) {
  const std::uint32_t cls = class_of(bytes);
  if (s != nullptr) {
    check_stream(*s);
    if (may_capture_ && backend_->is_capturing(*s)) reject_capture();
  }
  if (caching_ && !refusing_.load(std::memory_order_relaxed)) {
    if (chunk* c = take_cached(this, cls, bytes)) return hand_over(c, bytes, s);
  }
  return acquire_shared(cls, bytes, s, may_wait);
}

// Gives a chunk to the caller (from the pool's lists, or from the thread cache whose chunks the
// pool already counts as handed out): its request, its stream, its NVTX region.
inline buffer pool_core::hand_over(chunk* c, std::size_t bytes, const stream_ref* s) {
  c->st = chunk::state::in_use;
  c->requested = bytes;
  c->streams.clear();
  c->per_thread_owner = std::thread::id{};
  if (s != nullptr) attach_stream(c, *s);
  nvtx_region_register(c->slab->nvtx_heap, c->ptr, c->bytes);
  return buffer{this, c, c->ptr, bytes};
}

// Adds `s` to the streams the chunk's release waits for; binds a per-thread handle's chunk to
// the calling thread (whose stream the handle names).
inline void pool_core::attach_stream(chunk* c, const stream_ref& s) {
  if (!s.has_stable_identity()) {
    const std::thread::id me = std::this_thread::get_id();
    if (c->per_thread_owner != std::thread::id{} && c->per_thread_owner != me) {
      reject_foreign_per_thread_stream();
    }
    c->per_thread_owner = me;
  }
  c->streams.push_back(s);
}

inline void pool_core::add_stream(chunk* c, const stream_ref& s) {
  check_stream(s);
  attach_stream(c, s);
}

// No stream and a thread cache: parked with this thread. Otherwise the pool's lists.
inline void pool_core::release(chunk* c) noexcept {
  // Before anyone can be handed the chunk again.
  nvtx_region_unregister(c->slab->nvtx_heap, c->ptr);
  if (c->streams.empty() && caching_ && park(this, c)) return;
  release_shared(c);
}

}  // namespace pinpool::detail
