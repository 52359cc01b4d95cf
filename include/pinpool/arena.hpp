#pragma once
/// @file arena.hpp
/// @brief `arena`: bump sub-allocation of many small temporaries out of one pool chunk,
/// released as a whole (stream-ordered, like the chunk's buffer).

#include <pinpool/buffer.hpp>

#include <cstddef>

namespace pinpool {

class pool;

/// @brief One chunk, handed out in aligned pieces. Not thread-safe (one per frame/thread).
class arena {
 public:
  /// @brief Acquires `capacity` bytes from `p` for use by the host (`pool.acquire(capacity)`).
  arena(pool& p, std::size_t capacity);
  /// @brief Acquires `capacity` bytes from `p` for work on `s` (`pool.acquire(capacity, s)`).
  arena(pool& p, std::size_t capacity, stream_ref s);
  /// @brief Sub-allocates from a buffer the caller already holds.
  explicit arena(buffer&& chunk) noexcept : chunk_(std::move(chunk)) {}

  /// @brief `bytes` with the given power-of-two alignment (default: 256, like cudaMalloc).
  /// @throws std::invalid_argument for a non-power-of-two alignment; pinpool::out_of_memory
  /// when the arena cannot fit the request (the arena is unchanged).
  void* allocate(std::size_t bytes, std::size_t alignment = 256);
  template <class T>
  T* allocate_n(std::size_t count) {
    return static_cast<T*>(allocate(count * sizeof(T), alignof(T) > 256 ? alignof(T) : 256));
  }
  /// @brief Forgets every sub-allocation (the chunk stays held). Work still using the pieces
  /// must be ordered before their next users (same stream) by the caller.
  void reset() noexcept { used_ = 0; }

  std::size_t used() const noexcept { return used_; }
  std::size_t capacity() const noexcept { return chunk_.size(); }
  /// @brief The underlying chunk (for set_stream / record_stream).
  buffer& chunk() noexcept { return chunk_; }

 private:
  buffer chunk_;
  std::size_t used_ = 0;
};

}  // namespace pinpool
