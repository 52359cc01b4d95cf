#pragma once
/// @file buffer.hpp
/// @brief `buffer`: move-only RAII handle to one pool chunk, released stream-ordered.

#include <pinpool/memory_kind.hpp>
#include <pinpool/span.hpp>
#include <pinpool/stream.hpp>

#include <cstddef>

namespace pinpool {

namespace detail {
class pool_core;
struct chunk;
}  // namespace detail

/// @brief Owns one chunk of a pool until destroyed, moved from, or `reset()`.
///
/// Release rules (design.md, "Stream-ordered release"): a buffer with no stream goes back at
/// once; a buffer with streams (from `pool.acquire(bytes, s)`, `set_stream`, `record_stream`)
/// goes back with an event recorded on each of them and is handed to anyone else only once
/// those events completed (or, for device memory, behind a device-side wait; or at once to
/// later work on the same stream). The chunk memory stays valid even if the pool is destroyed
/// first: the pool's memory lives until its last buffer is released.
///
/// Not thread-safe per object (like any value type); different buffers may be used from
/// different threads concurrently.
class buffer {
 public:
  /// @brief An empty buffer (no chunk).
  buffer() noexcept = default;
  buffer(buffer&& other) noexcept;
  buffer& operator=(buffer&& other) noexcept;
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  /// @note Releases the chunk on its streams (records events; never blocks). Must not run
  /// inside a CUDA host function when it has streams (the runtime forbids the event record).
  ~buffer() {
    if (chunk_ != nullptr) release_chunk();
  }

  void* data() const noexcept { return data_; }
  /// @brief The bytes requested (the chunk may be larger: `capacity()`).
  std::size_t size() const noexcept { return size_; }
  /// @brief The chunk's size class, >= size().
  std::size_t capacity() const noexcept;
  memory_kind kind() const noexcept;
  bool empty() const noexcept { return chunk_ == nullptr; }
  explicit operator bool() const noexcept { return chunk_ != nullptr; }

  /// @brief The chunk viewed as `size() / sizeof(T)` elements of T.
  template <class T>
  span<T> as() const noexcept {
    return span<T>{static_cast<T*>(data_), size_ / sizeof(T)};
  }

  /// @brief From now on the buffer is released on `s` only (as RMM's set_stream): use it after
  /// filling a host-acquired chunk, before enqueueing work on it. Does not synchronise.
  void set_stream(stream_ref s);
  /// @brief Adds `s` to the streams its release waits for (as PyTorch's record_stream).
  /// Does not synchronise. Call it before destroying the buffer, after enqueueing the work.
  void record_stream(stream_ref s);
  /// @brief How many streams the release will wait for.
  std::size_t stream_count() const noexcept;

  /// @brief Releases the chunk now (as the destructor does); the buffer becomes empty.
  void reset() noexcept;

 private:
  friend class detail::pool_core;
  buffer(detail::pool_core* core, detail::chunk* c, void* data, std::size_t size) noexcept
      : core_(core), chunk_(c), data_(data), size_(size) {}
  /// @brief reset() without clearing the fields (the destructor's). @pre a chunk.
  void release_chunk() noexcept;

  detail::pool_core* core_ = nullptr;
  detail::chunk* chunk_ = nullptr;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace pinpool
