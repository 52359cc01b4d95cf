#include "core/pool_core_inl.hpp"

#include <pinpool/pool.hpp>

#include <stdexcept>
#include <thread>
#include <utility>

namespace pinpool {

// The hot path: detail::pool_core::release inlines here (core/pool_core_inl.hpp).
void buffer::reset() noexcept {
  if (chunk_ == nullptr) return;
  core_->release(std::exchange(chunk_, nullptr));
  core_ = nullptr;
  data_ = nullptr;
  size_ = 0;
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
  core_->check_stream(s);
  chunk_->streams.clear();
  chunk_->per_thread_owner = std::thread::id{};
  core_->add_stream(chunk_, s);
}

void buffer::record_stream(stream_ref s) {
  if (!chunk_) throw std::logic_error("pinpool: record_stream on an empty buffer");
  core_->check_stream(s);
  for (const stream_ref& known : chunk_->streams) {
    const bool same_thread = chunk_->per_thread_owner == std::this_thread::get_id();
    if (known == s && (known.has_stable_identity() || same_thread)) return;
  }
  core_->add_stream(chunk_, s);
}

std::size_t buffer::stream_count() const noexcept {
  return chunk_ ? chunk_->streams.size() : 0;
}

}  // namespace pinpool
