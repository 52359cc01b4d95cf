#pragma once
/// @file thrust_allocator.hpp
/// @brief `thrust_allocator<T>`: Thrust allocations from a pool, stream-ordered on one stream:
/// algorithm temporaries (`thrust::cuda::par_nosync(alloc).on(stream)`) and `device_vector`
/// storage. Works with any Thrust device system (CUDA, or CPP/OMP/TBB on the CPU).
///
/// Needs Thrust (CCCL) on the include path; the rest of pinpool does not.

#include <pinpool/pool.hpp>
#include <pinpool/pool_allocator.hpp>
#include <pinpool/stream.hpp>

#include <thrust/device_malloc_allocator.h>
#include <thrust/device_ptr.h>
#include <thrust/memory.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <new>
#include <optional>

namespace pinpool {

/// @brief A Thrust allocator over a pool (as RMM's thrust_allocator_adaptor).
///
/// With a stream: `allocate` gives a chunk safe for work enqueued on that stream
/// (`pool.acquire(bytes, s)`), and `deallocate` releases it on that stream (stream-ordered: no
/// host synchronisation; the chunk is reused only after the work enqueued so far). Use the
/// same stream for the algorithm: `thrust::cuda::par_nosync(alloc).on(cuda_stream_of_s)`.
///
/// Without a stream: chunks are idle when handed out and released at once, which suits
/// synchronous use: `device_vector` (Thrust runs a vector's own operations on its default
/// stream and synchronises) and the host systems (CPP/OMP/TBB), whose algorithms run on the
/// calling thread.
///
/// For `device` pools (and `pinned_host` pools, which devices can reach). Copies and rebinds
/// share one count of allocations and compare equal when their streams are equal. Thread-safe.
template <class T>
class thrust_allocator : public thrust::device_malloc_allocator<T> {
  using base = thrust::device_malloc_allocator<T>;

 public:
  using value_type = T;
  using pointer = typename base::pointer;  ///< thrust::device_ptr<T>
  using size_type = std::size_t;

  template <class U>
  struct rebind {
    using other = thrust_allocator<U>;
  };

  /// @brief Stream-ordered on `s`. Neither `p` nor `s` is owned: both must outlive the
  /// allocations (the pool: outlive the `allocate` calls).
  thrust_allocator(pool& p, stream_ref s)
      : chunks_(std::make_shared<detail::raw_allocations>(p)), stream_(s) {}
  /// @brief Chunks idle for anyone when handed out, released at once.
  explicit thrust_allocator(pool& p) : chunks_(std::make_shared<detail::raw_allocations>(p)) {}
  template <class U>
  thrust_allocator(const thrust_allocator<U>& other) noexcept  // NOLINT: rebind is implicit
      : chunks_(other.chunks_), stream_(other.stream_) {}

  /// @brief Memory for `n` objects of T (at the pool's alignment, 256 by default).
  /// @throws std::bad_alloc when n * sizeof(T) overflows; the pool's exceptions.
  /// @note Does not synchronise. May wait up to the pool's acquire_timeout at its cap.
  pointer allocate(size_type n) {
    if (n > std::numeric_limits<size_type>::max() / sizeof(T)) throw std::bad_alloc();
    const stream_ref* s = stream_ ? &*stream_ : nullptr;
    return pointer(static_cast<T*>(chunks_->acquire(n * sizeof(T), alignof(T), s)));
  }
  /// @brief Releases the chunk: on the allocator's stream (stream-ordered), or at once.
  /// Never throws; never synchronises.
  void deallocate(pointer p, size_type /*n*/) noexcept {
    chunks_->release(thrust::raw_pointer_cast(p));
  }

  /// @brief The stream allocations are ordered on (empty: none).
  std::optional<stream_ref> stream() const noexcept { return stream_; }
  pool& get_pool() const noexcept { return chunks_->get_pool(); }
  /// @brief Allocations not yet deallocated (over all copies and rebinds).
  std::size_t outstanding() const { return chunks_->size(); }

  template <class U, class V>
  friend bool operator==(const thrust_allocator<U>& a, const thrust_allocator<V>& b) noexcept;

 private:
  template <class U>
  friend class thrust_allocator;
  std::shared_ptr<detail::raw_allocations> chunks_;
  std::optional<stream_ref> stream_;
};

template <class U, class V>
bool operator==(const thrust_allocator<U>& a, const thrust_allocator<V>& b) noexcept {
  return a.chunks_ == b.chunks_ && a.stream_ == b.stream_;
}
template <class U, class V>
bool operator!=(const thrust_allocator<U>& a, const thrust_allocator<V>& b) noexcept {
  return !(a == b);
}

}  // namespace pinpool
