// The raw-pointer API (pool::allocate, deallocate, record_stream) and the core's side of it.
// A raw pointer is an acquired chunk whose buffer handle was dropped: the chunk stays in use
// (an outstanding buffer in the stats) until `deallocate`, and raw_index maps the pointer back to
// its record without the pool's lock (core/raw_index.hpp states the rules). Acquisition and
// release are the buffer's, inline (core/pool_core_inl.hpp).
#include "core/pool_core_inl.hpp"

#include <pinpool/error.hpp>
#include <pinpool/pool.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace pinpool {

namespace detail {

void* pool_core::allocate_raw(std::size_t bytes, std::size_t alignment, const stream_ref* s) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    reject(bytes, ("with alignment " + std::to_string(alignment) + ": not a power of two").c_str());
  }
  if (bytes == 0) return nullptr;
  const std::size_t pad = alignment > opt_.alignment ? alignment - opt_.alignment : 0;
  if (bytes > std::numeric_limits<std::size_t>::max() - pad) {
    reject(bytes, "is larger than any size class");
  }
  buffer b = acquire(bytes + pad, s, true);
  chunk* c = b.chunk_;
  const auto misalignment = reinterpret_cast<std::uintptr_t>(c->ptr) & (alignment - 1);
  void* p = c->ptr + (misalignment == 0 ? 0 : alignment - misalignment);  // within the pad
  c->raw_alloc_stream = s != nullptr;
  if (!raw_.insert(p, c)) {  // b releases the chunk
    throw error(std::string("pinpool: pool '") + opt_.name +
                "': a chunk lies beyond the 48-bit address range of the raw-pointer index");
  }
  c->raw = true;
  b.core_ = nullptr;  // the pointer holds the chunk now
  b.chunk_ = nullptr;
  return p;
}

void pool_core::deallocate_raw(void* p, const stream_ref* s) {
  if (p == nullptr) return;
  if (s != nullptr) check_stream(*s);
  chunk* c = raw_.take(p);
  if (c == nullptr) reject_pointer(p, "deallocate");
  if (s != nullptr) {
    try {
      release_on(c, *s);
    } catch (...) {
      raw_.restore(p, c);  // still out: the caller may retry
      throw;
    }
  }
  c->raw = false;
  release(c);
}

// deallocate(p, s): the stream the chunk was allocated on gives way to `s` (as cudaFreeAsync:
// the caller has ordered that stream's work before `s`'s); streams added by record_stream stay.
void pool_core::release_on(chunk* c, const stream_ref& s) {
  const std::lock_guard<stream_list_lock> guard(c->streams_lock);  // see chunk.hpp
  if (c->raw_alloc_stream) {
    c->streams.erase(c->streams.begin());
    c->raw_alloc_stream = false;
    const bool per_thread_left =
        std::any_of(c->streams.begin(), c->streams.end(),
                    [](const stream_ref& t) { return !t.has_stable_identity(); });
    if (!per_thread_left) c->per_thread_owner = std::thread::id{};
  }
  if (!waits_for(*c, s)) attach_stream(c, s);
}

void pool_core::record_stream_raw(const void* p, const stream_ref& s) {
  check_stream(s);
  chunk* c = raw_.find(p);
  if (c == nullptr) reject_pointer(p, "record_stream");
  if (waits_for(*c, s)) return;
  const std::lock_guard<stream_list_lock> guard(c->streams_lock);  // see chunk.hpp
  attach_stream(c, s);
}

// Cold: says whether `p` lies in this pool's memory (an interior or freed pointer) or not.
void pool_core::reject_pointer(const void* p, const char* call) const {
  bool inside = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto* b = static_cast<const std::byte*>(p);
    for (const auto& s : arena_.slabs()) {
      const auto* start = static_cast<const std::byte*>(s->mem.ptr);
      inside = inside || (b >= start && b < start + s->mem.bytes);
    }
  }
  std::array<char, 32> where{};
  std::snprintf(where.data(), where.size(), "%p", p);
  throw std::invalid_argument(
      std::string("pinpool: pool '") + opt_.name + "': " + call + "(" + where.data() + "): " +
      (inside ? "not a pointer this pool has handed out and not yet taken back: an interior "
                "pointer, or one already deallocated (double free)"
              : "not a pointer this pool handed out (another pool's, or foreign memory)"));
}

}  // namespace detail

void* pool::allocate(std::size_t bytes) {
  return core_->allocate_raw(bytes, core_->options().alignment, nullptr);
}
void* pool::allocate(std::size_t bytes, stream_ref s) {
  return core_->allocate_raw(bytes, core_->options().alignment, &s);
}
void* pool::allocate_aligned(std::size_t bytes, std::size_t alignment) {
  return core_->allocate_raw(bytes, alignment, nullptr);
}
void* pool::allocate_aligned(std::size_t bytes, std::size_t alignment, stream_ref s) {
  return core_->allocate_raw(bytes, alignment, &s);
}
void pool::deallocate(void* p) {
  core_->deallocate_raw(p, nullptr);
}
void pool::deallocate(void* p, stream_ref s) {
  core_->deallocate_raw(p, &s);
}
void pool::record_stream(const void* p, stream_ref s) {
  core_->record_stream_raw(p, s);
}

}  // namespace pinpool
