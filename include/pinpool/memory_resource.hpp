#pragma once
/// @file memory_resource.hpp
/// @brief Pools as libcu++ memory resources (CCCL 3.0, CUDA 13: `cuda::mr`), usable through
/// `cuda::mr::resource_ref<...>` and `cuda::mr::async_resource_ref<...>`:
///
/// | adaptor                | pool kind     | properties                            |
/// |------------------------|---------------|---------------------------------------|
/// | `pinned_pool_resource` | `pinned_host` | `host_accessible`, `device_accessible` |
/// | `device_pool_resource` | `device`      | `device_accessible`                   |
/// | `host_pool_resource`   | `host`        | `host_accessible`                     |
///
/// Each models `cuda::mr::async_resource_with<R, its properties...>`:
/// `allocate(bytes, alignment)` gives a chunk idle now (`pool.acquire(bytes)`),
/// `allocate_async(bytes, alignment, stream)` a chunk safe for work on `stream`
/// (`pool.acquire(bytes, s)`), `deallocate` releases at once (or behind the streams it was
/// acquired on), `deallocate_async(p, bytes, alignment, stream)` releases on `stream` only
/// (reuse is ordered after the work enqueued on it so far).
///
/// Streams are `cuda::stream_ref`s. On a CUDA backend they are the streams' `cudaStream_t`. On
/// the CPU backend, `to_cuda_stream_ref(s)` wraps the CPU stream's handle in a
/// `cuda::stream_ref` that only these adaptors understand: never pass it to the CUDA runtime.
///
/// Needs libcu++ (CCCL) and the CUDA runtime headers on the include path (g++ is enough; no
/// nvcc, no libcudart call). CCCL 3.0 hides `cuda::mr` behind
/// LIBCUDACXX_ENABLE_EXPERIMENTAL_MEMORY_RESOURCE: this header defines it, so include it before
/// any other CCCL memory-resource header (or define the macro for the whole target).

#ifndef LIBCUDACXX_ENABLE_EXPERIMENTAL_MEMORY_RESOURCE
#define LIBCUDACXX_ENABLE_EXPERIMENTAL_MEMORY_RESOURCE
#endif

#include <pinpool/backend.hpp>
#include <pinpool/log.hpp>
#include <pinpool/memory_kind.hpp>
#include <pinpool/pool.hpp>
#include <pinpool/pool_allocator.hpp>
#include <pinpool/stream.hpp>

#include <cuda/memory_resource>
#include <cuda/stream_ref>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace pinpool {

/// @brief The `cuda::stream_ref` that names `s` for the adaptors of this header: the
/// `cudaStream_t` on a CUDA backend; on the CPU backend an opaque token (pinpool adaptors only).
inline cuda::stream_ref to_cuda_stream_ref(stream_ref s) noexcept {
  return cuda::stream_ref{static_cast<cudaStream_t>(s.native_handle())};
}

namespace detail {

/// @brief What the three adaptors share: their allocations from a pool (its raw pointers) and
/// the stream translation.
class pool_resource_base {
 public:
  /// @brief A chunk idle now (`pool.acquire`), aligned to `alignment` (padded above the pool's).
  /// @throws std::invalid_argument for a non-power-of-two alignment; the pool's exceptions.
  /// @note May wait up to the pool's acquire_timeout at its cap.
  void* allocate(std::size_t bytes,
                 std::size_t alignment = cuda::mr::default_cuda_malloc_alignment) {
    return chunks_->acquire(bytes, alignment, nullptr);
  }
  /// @brief Releases at once (or behind the streams the chunk was acquired on). Never throws.
  void deallocate(void* p, std::size_t /*bytes*/,
                  std::size_t /*alignment*/ = cuda::mr::default_cuda_malloc_alignment) noexcept {
    chunks_->release(p);
  }
  /// @brief A chunk safe for work enqueued on `stream` from now on; the host must not touch it
  /// before synchronising `stream`. Does not synchronise.
  /// @throws std::invalid_argument for a stream the pool cannot use; the pool's exceptions.
  void* allocate_async(std::size_t bytes, std::size_t alignment, cuda::stream_ref stream) {
    const stream_ref s = from_cuda(stream);
    return chunks_->acquire(bytes, alignment, &s);
  }
  void* allocate_async(std::size_t bytes, cuda::stream_ref stream) {
    return allocate_async(bytes, cuda::mr::default_cuda_malloc_alignment, stream);
  }
  /// @brief Releases on `stream` only: reused after the work enqueued on it so far. Never
  /// throws (a stream the pool cannot use is reported; the chunk then goes back behind the
  /// streams it was acquired on).
  void deallocate_async(void* p, std::size_t /*bytes*/, std::size_t /*alignment*/,
                        cuda::stream_ref stream) noexcept {
    std::optional<stream_ref> s;
    try {
      s = from_cuda(stream);
    } catch (const std::exception& e) {
      ::pinpool::detail::log_message(
          "pinpool: deallocate_async of %p on a stream the pool cannot use (%s); "
          "released on the streams it was acquired on instead",
          p, e.what());
    }
    chunks_->release(p, s ? &*s : nullptr);
  }
  void deallocate_async(void* p, std::size_t bytes, cuda::stream_ref stream) noexcept {
    deallocate_async(p, bytes, cuda::mr::default_cuda_malloc_alignment, stream);
  }

  pool& get_pool() const noexcept { return chunks_->get_pool(); }
  /// @brief Allocations not yet deallocated (over all copies).
  std::size_t outstanding() const { return chunks_->size(); }

 protected:
  pool_resource_base(pool& p, memory_kind kind, const char* adaptor)
      : chunks_(std::make_shared<raw_allocations>(p)) {
    if (p.options().kind != kind) {
      throw std::invalid_argument(std::string("pinpool::") + adaptor + ": needs a '" +
                                  to_string(kind) + "' pool, this one is '" +
                                  to_string(p.options().kind) + "'");
    }
  }
  bool same_allocations(const pool_resource_base& other) const noexcept {
    return chunks_ == other.chunks_;
  }

 private:
  stream_ref from_cuda(cuda::stream_ref stream) const {
    backend& be = chunks_->get_pool().get_backend();
    if (be.kind() == backend_kind::cuda) return stream_ref{be, stream.get()};
    if (stream.get() == nullptr) {
      throw std::invalid_argument("pinpool: the CPU backend has no default stream");
    }
    return stream_ref{be, static_cast<void*>(stream.get()), chunks_->get_pool().options().device};
  }

  std::shared_ptr<raw_allocations> chunks_;
};

}  // namespace detail

/// @brief A `pinned_host` pool as a `cuda::mr` async resource, host and device accessible.
/// Copies share one count of allocations and compare equal. Thread-safe.
class pinned_pool_resource : public detail::pool_resource_base {
 public:
  /// @throws std::invalid_argument when `p` is not a `pinned_host` pool.
  explicit pinned_pool_resource(pool& p)
      : pool_resource_base(p, memory_kind::pinned_host, "pinned_pool_resource") {}
  friend bool operator==(const pinned_pool_resource& a, const pinned_pool_resource& b) noexcept {
    return a.same_allocations(b);
  }
  friend bool operator!=(const pinned_pool_resource& a, const pinned_pool_resource& b) noexcept {
    return !a.same_allocations(b);
  }
  friend constexpr void get_property(const pinned_pool_resource&,
                                     cuda::mr::host_accessible) noexcept {}
  friend constexpr void get_property(const pinned_pool_resource&,
                                     cuda::mr::device_accessible) noexcept {}
};

/// @brief A `device` pool as a `cuda::mr` async resource, device accessible.
class device_pool_resource : public detail::pool_resource_base {
 public:
  /// @throws std::invalid_argument when `p` is not a `device` pool.
  explicit device_pool_resource(pool& p)
      : pool_resource_base(p, memory_kind::device, "device_pool_resource") {}
  friend bool operator==(const device_pool_resource& a, const device_pool_resource& b) noexcept {
    return a.same_allocations(b);
  }
  friend bool operator!=(const device_pool_resource& a, const device_pool_resource& b) noexcept {
    return !a.same_allocations(b);
  }
  friend constexpr void get_property(const device_pool_resource&,
                                     cuda::mr::device_accessible) noexcept {}
};

/// @brief A `host` (pageable) pool as a `cuda::mr` async resource, host accessible.
class host_pool_resource : public detail::pool_resource_base {
 public:
  /// @throws std::invalid_argument when `p` is not a `host` pool.
  explicit host_pool_resource(pool& p)
      : pool_resource_base(p, memory_kind::host, "host_pool_resource") {}
  friend bool operator==(const host_pool_resource& a, const host_pool_resource& b) noexcept {
    return a.same_allocations(b);
  }
  friend bool operator!=(const host_pool_resource& a, const host_pool_resource& b) noexcept {
    return !a.same_allocations(b);
  }
  friend constexpr void get_property(const host_pool_resource&,
                                     cuda::mr::host_accessible) noexcept {}
};

}  // namespace pinpool
