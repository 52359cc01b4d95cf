#include "core/pool_core_inl.hpp"

#include <pinpool/pool.hpp>

#include <stdexcept>
#include <utility>

namespace pinpool {

namespace detail {
// Every release but the inline parking in a home slot (pool_core::release).
void pool_core::release_slow(chunk* c) noexcept {
  // Before anyone can be handed the chunk again.
  nvtx_region_unregister(c->slab->nvtx_heap, c->ptr);
  if (c->streams.empty() && caching_ && park(this, c)) return;
  release_shared(c);
}
}  // namespace detail

// The hot path: detail::pool_core::release inlines here (core/pool_core_inl.hpp).
// The destructor's path: the fields need no clearing.
void buffer::release_chunk() noexcept {
  core_->release(chunk_);
}

void buffer::reset() noexcept {
  if (chunk_ == nullptr) return;
  detail::pool_core* core = std::exchange(core_, nullptr);
  detail::chunk* c = std::exchange(chunk_, nullptr);
  data_ = nullptr;
  size_ = 0;
  core->release(c);
}

buffer::buffer(buffer&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)),
      chunk_(std::exchange(other.chunk_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

buffer& buffer::operator=(buffer&& other) noexcept {
  if (this != &other) {
    reset();
    core_ = std::exchange(other.core_, nullptr);
    chunk_ = std::exchange(other.chunk_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

std::size_t buffer::capacity() const noexcept {
  return chunk_ ? chunk_->bytes : 0;
}

memory_kind buffer::kind() const noexcept {
  return core_ ? core_->options().kind : memory_kind::host;
}

void buffer::set_stream(stream_ref s) {
  if (!chunk_) throw std::logic_error("pinpool: set_stream on an empty buffer");
  core_->replace_streams(chunk_, s);
}

void buffer::record_stream(stream_ref s) {
  if (!chunk_) throw std::logic_error("pinpool: record_stream on an empty buffer");
  core_->check_stream(s);
  if (detail::pool_core::waits_for(*chunk_, s)) return;
  core_->add_stream(chunk_, s);
}

std::size_t buffer::stream_count() const noexcept {
  return chunk_ ? chunk_->streams.size() : 0;
}

}  // namespace pinpool
