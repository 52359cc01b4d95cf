#pragma once
/// @file pool_allocator.hpp
/// @brief `pool_allocator<T>`: a standard allocator over a host-accessible pool (e.g.
/// `std::vector<float, pinpool::pool_allocator<float>>` of pinned memory), and
/// `detail::raw_allocations`, what every pinpool adaptor handing out raw pointers (this
/// allocator, thrust_allocator, the cuda::mr resources) is built on.
///
/// Interfaces that give memory back by pointer (`deallocate(p, n)`) use the pool's raw-pointer
/// API (`pool::allocate` / `pool::deallocate`): the pool maps each pointer back to its chunk
/// (one lock-free table, the pool's), and the chunk is released exactly as a buffer would be
/// (stream-ordered when it has streams). An adaptor keeps no table of its own: only a count of
/// its allocations, shared by all its copies and rebinds (which makes them compare equal).

#include <pinpool/log.hpp>
#include <pinpool/memory_kind.hpp>
#include <pinpool/pool.hpp>
#include <pinpool/stream.hpp>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>

namespace pinpool {

namespace detail {

/// @brief The allocations of one adaptor (and its copies) from a pool, handed out as the pool's
/// raw pointers. Thread-safe. Holds a reference to the pool: the pool must outlive every call,
/// `release` included (a pointer is given back through its pool).
class raw_allocations {
 public:
  explicit raw_allocations(pool& p) : pool_(&p) {}
  raw_allocations(const raw_allocations&) = delete;
  raw_allocations& operator=(const raw_allocations&) = delete;

  /// @brief A chunk of at least `bytes` whose pointer is aligned to `alignment` (a power of
  /// two; above the pool's alignment the request is padded). `s` null: idle now, for the host
  /// (`pool.allocate_aligned(bytes, alignment)`); else safe for work on `*s` and released on it.
  /// 0 bytes are served as 1 (distinct non-null pointers).
  /// @throws std::invalid_argument for a bad alignment; the pool's exceptions.
  void* acquire(std::size_t bytes, std::size_t alignment, const stream_ref* s) {
    const std::size_t want = bytes == 0 ? 1 : bytes;
    void* p = s != nullptr ? pool_->allocate_aligned(want, alignment, *s)
                           : pool_->allocate_aligned(want, alignment);
    live_.fetch_add(1, std::memory_order_relaxed);
    return p;
  }

  /// @brief Gives `p` back (`pool.deallocate`): at once or behind its streams; with `s`, on
  /// `*s` instead of the stream it was allocated on (`pool.deallocate(p, *s)`). Never throws.
  /// A stream the pool cannot use is reported, and `p` goes back behind its own streams. A
  /// pointer the pool does not hold out (foreign, or given back already) is a bug: reported, and
  /// fatal where the including code is compiled without NDEBUG.
  void release(void* p, const stream_ref* s = nullptr) noexcept {
    if (s != nullptr) {
      try {
        pool_->deallocate(p, *s);
        live_.fetch_sub(1, std::memory_order_relaxed);
        return;
      } catch (const std::exception& e) {  // the stream, or the pointer: try without the stream
        ::pinpool::detail::log_message(
            "pinpool: releasing %p on a stream the pool cannot use (%s); released on "
            "the streams it was acquired on instead",
            p, e.what());
      }
    }
    try {
      pool_->deallocate(p);
      live_.fetch_sub(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      ::pinpool::detail::log_message(
          "pinpool: deallocating %p, which this allocator did not hand out "
          "(foreign pointer or double deallocation): %s",
          p, e.what());
#ifndef NDEBUG
      std::abort();
#endif
    }
  }

  /// @brief Adds `s` to the streams `p`'s release waits for (`pool.record_stream`).
  /// @throws std::invalid_argument when the pool does not hold `p` out.
  void record_stream(const void* p, stream_ref s) {
    pool_->record_stream(p, s);
  }

  /// @brief Allocations handed out and not given back (through this object).
  std::size_t size() const noexcept {
    return live_.load(std::memory_order_relaxed);
  }

  pool& get_pool() const noexcept {
    return *pool_;
  }

 private:
  pool* pool_;
  std::atomic<std::size_t> live_{0};
};

}  // namespace detail

/// @brief A standard allocator (C++17 Allocator requirements) over a `pinned_host` or `host`
/// pool: `std::vector<T, pool_allocator<T>> v(n, pool_allocator<T>(pinned_pool))`.
///
/// `allocate` acquires a chunk idle for the host (`pool.acquire(n * sizeof(T))`);
/// `deallocate` releases it at once, or behind the streams given to `record_stream` (so a
/// vector used as the source or target of `memcpy_async` can be destroyed without
/// synchronising). Copies and rebinds share one count of allocations and compare equal;
/// allocators constructed separately compare unequal (as allocators with their own state; the
/// pool would take either's pointers back). The allocator propagates on container copy, move
/// and swap. Thread-safe.
template <class T>
class pool_allocator {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;

  /// @throws std::invalid_argument when `p` is a `device` pool (not host-accessible).
  explicit pool_allocator(pool& p) : chunks_(std::make_shared<detail::raw_allocations>(p)) {
    if (p.options().kind == memory_kind::device) {
      throw std::invalid_argument(
          "pinpool::pool_allocator: needs a host-accessible pool (pinned_host or host), "
          "this one is 'device': use thrust_allocator or device_pool_resource");
    }
  }
  template <class U>
  pool_allocator(const pool_allocator<U>& other) noexcept  // NOLINT: rebind is implicit
      : chunks_(other.chunks_) {}

  /// @brief `n` objects' worth of uninitialised memory, aligned for T (at least the pool's
  /// alignment, 256 by default).
  /// @throws std::bad_array_new_length when n * sizeof(T) overflows; the pool's exceptions
  /// (pool_exhausted, out_of_memory, ...).
  /// @note May wait up to the pool's acquire_timeout when it is at its cap.
  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(chunks_->acquire(n * sizeof(T), alignof(T), nullptr));
  }
  /// @brief Releases the chunk (at once, or behind the streams recorded for it). Never throws.
  void deallocate(T* p, std::size_t /*n*/) noexcept { chunks_->release(p); }

  /// @brief Makes the release of the allocation at `p` wait for the work enqueued on `s` so far
  /// and later (as `buffer::record_stream`): call it after enqueueing async work on the memory.
  /// @throws std::invalid_argument when `p` is not an allocation of this allocator.
  void record_stream(const T* p, stream_ref s) { chunks_->record_stream(p, s); }

  pool& get_pool() const noexcept { return chunks_->get_pool(); }
  /// @brief Allocations not yet deallocated (over all copies and rebinds).
  std::size_t outstanding() const { return chunks_->size(); }

  template <class U, class V>
  friend bool operator==(const pool_allocator<U>& a, const pool_allocator<V>& b) noexcept;

 private:
  template <class U>
  friend class pool_allocator;
  std::shared_ptr<detail::raw_allocations> chunks_;
};

template <class U, class V>
bool operator==(const pool_allocator<U>& a, const pool_allocator<V>& b) noexcept {
  return a.chunks_ == b.chunks_;
}
template <class U, class V>
bool operator!=(const pool_allocator<U>& a, const pool_allocator<V>& b) noexcept {
  return !(a == b);
}

}  // namespace pinpool
