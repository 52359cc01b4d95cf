#pragma once
/// @file pool_allocator.hpp
/// @brief `pool_allocator<T>`: a standard allocator over a host-accessible pool (e.g.
/// `std::vector<float, pinpool::pool_allocator<float>>` of pinned memory), and
/// `detail::raw_chunks`, the pointer-keyed chunk table that every pinpool adaptor handing out raw
/// pointers (this allocator, thrust_allocator, the cuda::mr resources) is built on.
///
/// Interfaces that give memory back by pointer (`deallocate(p, n)`) cannot hold a `buffer`
/// themselves. `raw_chunks` keeps each chunk's `buffer` alive, keyed by the pointer handed out,
/// until the pointer comes back: the chunk is then released exactly as the buffer would be
/// (stream-ordered when it has streams). The table is shared by all copies and rebinds of an
/// allocator (and so makes them compare equal); it allocates nothing per chunk once warm.

#include <pinpool/buffer.hpp>
#include <pinpool/log.hpp>
#include <pinpool/memory_kind.hpp>
#include <pinpool/pool.hpp>
#include <pinpool/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace pinpool {

namespace detail {

/// @brief Chunks of one pool handed out as raw pointers; each stays owned by its `buffer`
/// until `release(ptr)`. Thread-safe. Holds a reference to the pool: the pool must outlive
/// `acquire` calls (released chunks may outlive it, as buffers may).
class raw_chunks {
 public:
  explicit raw_chunks(pool& p) : pool_(&p) {}
  raw_chunks(const raw_chunks&) = delete;
  raw_chunks& operator=(const raw_chunks&) = delete;
  /// @brief Chunks still handed out go back to the pool (their buffers are destroyed).
  ~raw_chunks() = default;

  /// @brief A chunk of at least `bytes` whose pointer is aligned to `alignment` (a power of
  /// two; above the pool's alignment the request is padded). `s` null: idle now, for the host
  /// (`pool.acquire(bytes)`); else safe for work on `*s` and released on it
  /// (`pool.acquire(bytes, *s)`). 0 bytes are served as 1 (distinct non-null pointers).
  /// @throws std::invalid_argument for a bad alignment; the pool's exceptions.
  void* acquire(std::size_t bytes, std::size_t alignment, const stream_ref* s) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
      throw std::invalid_argument("pinpool: alignment " + std::to_string(alignment) +
                                  " is not a power of two");
    }
    const std::size_t chunk_alignment = pool_->options().alignment;
    const std::size_t pad = alignment > chunk_alignment ? alignment - chunk_alignment : 0;
    if (bytes > std::numeric_limits<std::size_t>::max() - pad - 1) throw std::bad_alloc();
    const std::size_t want = (bytes == 0 ? 1 : bytes) + pad;
    buffer b = s != nullptr ? pool_->acquire(want, *s) : pool_->acquire(want);
    const auto base = reinterpret_cast<std::uintptr_t>(b.data());
    void* p = reinterpret_cast<void*>((base + alignment - 1) & ~(std::uintptr_t{alignment} - 1));
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(p, std::move(b));  // on bad_alloc the buffer goes back before the rethrow
    return p;
  }

  /// @brief Gives `p` back: its chunk is released as its buffer is destroyed; with `s`, on `*s`
  /// only (`set_stream`: reuse is ordered after the work enqueued on `*s` so far). Never throws.
  /// A pointer this table did not hand out (or already got back) is a bug: reported on stderr,
  /// and fatal in debug builds.
  void release(void* p, const stream_ref* s = nullptr) noexcept {
    buffer b = take(p);
    if (b.empty()) return;
    if (s != nullptr) {
      try {
        b.set_stream(*s);
      } catch (const std::exception& e) {  // a stream of another backend or device
        ::pinpool::detail::log_message(
            "pinpool: releasing %p on a stream the pool cannot use (%s); released on "
            "the streams it was acquired on instead",
            p, e.what());
      }
    }
  }

  /// @brief Adds `s` to the streams `p`'s release waits for (`buffer::record_stream`).
  /// @throws std::invalid_argument when `p` is not handed out by this table.
  void record_stream(const void* p, stream_ref s) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = live_.find(const_cast<void*>(p));
    if (it == live_.end()) {
      throw std::invalid_argument("pinpool: record_stream: pointer not handed out by this pool");
    }
    it->second.record_stream(s);
  }

  /// @brief Chunks handed out and not given back.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return live_.size();
  }

  pool& get_pool() const noexcept { return *pool_; }

 private:
  buffer take(void* p) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = live_.find(p);
    if (it == live_.end()) {
      ::pinpool::detail::log_message(
          "pinpool: deallocating %p, which this allocator did not hand out "
          "(foreign pointer or double deallocation)",
          p);
#ifndef NDEBUG
      std::abort();
#endif
      return buffer{};
    }
    buffer b = std::move(it->second);
    live_.erase(it);
    return b;  // destroyed (released) by the caller, outside the lock
  }

  pool* pool_;
  mutable std::mutex mutex_;
  // Map nodes come from a pooling resource: once warm, handing out and taking back chunks
  // allocates nothing.
  std::pmr::unsynchronized_pool_resource nodes_;
  std::pmr::unordered_map<void*, buffer> live_{&nodes_};
};

}  // namespace detail

/// @brief A standard allocator (C++17 Allocator requirements) over a `pinned_host` or `host`
/// pool: `std::vector<T, pool_allocator<T>> v(n, pool_allocator<T>(pinned_pool))`.
///
/// `allocate` acquires a chunk idle for the host (`pool.acquire(n * sizeof(T))`);
/// `deallocate` releases it at once, or behind the streams given to `record_stream` (so a
/// vector used as the source or target of `memcpy_async` can be destroyed without
/// synchronising). Copies and rebinds share one chunk table and compare equal; allocators
/// constructed separately compare unequal (neither can free the other's memory). The
/// allocator propagates on container copy, move and swap. Thread-safe.
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
  explicit pool_allocator(pool& p) : chunks_(std::make_shared<detail::raw_chunks>(p)) {
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
  std::shared_ptr<detail::raw_chunks> chunks_;
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
