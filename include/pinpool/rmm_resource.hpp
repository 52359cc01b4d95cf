#pragma once
/// @file rmm_resource.hpp
/// @brief Pools as RAPIDS RMM memory resources (tested with RMM 26.10 from PyPI `librmm-cu13`,
/// whose resources follow CCCL's stream-first `cuda::mr::resource` interface):
/// `rmm_device_resource` (a `device` pool) and `rmm_pinned_resource` (a `pinned_host` pool), usable
/// wherever RMM takes a resource: as the current device resource
/// (`rmm::mr::set_current_device_resource`), as the upstream of RMM's adaptors
/// (`statistics_resource_adaptor`, `limiting_resource_adaptor`,
/// `failure_callback_resource_adaptor`,
/// ...), behind `rmm::device_buffer` / `rmm::device_uvector`, and through
/// `rmm::device_async_resource_ref` / `rmm::host_device_async_resource_ref`.
///
/// Why a second adaptor beside memory_resource.hpp's `device_pool_resource`: those model the
/// `cuda::mr` concepts of CCCL 3.0 (the CUDA 13.0 toolkit's: `allocate(bytes, alignment)` and
/// `allocate_async(bytes, alignment, stream)`). RMM 26.10 bundles CCCL 3.5, whose
/// `cuda::mr::resource` wants `allocate_sync(bytes, alignment)` and
/// `allocate(stream, bytes, alignment)` instead (tests/adapters/test_rmm.cpp checks both facts).
///
/// | RMM / CCCL 3.5 call                      | pinpool                                      |
/// |------------------------------------------|----------------------------------------------|
/// | `allocate_sync(bytes, alignment)`        | `pool.allocate_aligned(bytes, alignment)`    |
/// | `deallocate_sync(p, bytes, alignment)`   | `pool.deallocate(p)`                         |
/// | `allocate(stream, bytes, alignment)`     | `pool.allocate_aligned(bytes, alignment, s)` |
/// | `deallocate(stream, p, bytes, alignment)`| `pool.deallocate(p, s)` (as cudaFreeAsync)   |
///
/// Streams: RMM's `cuda::stream_ref` is wrapped as `pinpool::stream_ref(backend, cudaStream_t)`,
/// which asks the runtime for the stream's device and identity (cudaStreamGetDevice,
/// cudaStreamGetId: two cheap calls per allocation and per deallocation). pinpool cannot see a
/// wrapped stream's destruction, so each release on it records an event (as RMM's own pool
/// does); same-stream reuse applies (a stream's identity is stable), except on the legacy and
/// per-thread default streams (`rmm::cuda_stream_default`, `cuda_stream_per_thread`), whose
/// chunks are reused only once their release completed.
///
/// Errors, as RMM's resources report them: a pool at its cap (`pinpool::pool_exhausted`) or a
/// backend out of memory (`pinpool::out_of_memory`) is `rmm::out_of_memory` (so
/// `failure_callback_resource_adaptor` and RMM users' handlers see it), with pinpool's message;
/// other errors pass through (`std::invalid_argument` for a bad alignment or size,
/// `pinpool::cuda_error`). Deallocations never throw: a pointer the pool does not hold out is
/// reported on pinpool's log, and fatal where this header is compiled without NDEBUG (as
/// memory_resource.hpp's adaptors).
///
/// Ownership: a resource refers to its pool; copies share one count of allocations and compare
/// equal. The pool must outlive every copy's allocations (and RMM's `any_resource` copies of it:
/// reset the current device resource before destroying the pool). Thread-safe.
///
/// Needs RMM's headers (C++20) and their bundled CCCL ahead of the CUDA toolkit's on the include
/// path, and librmm for `rmm::out_of_memory`. The pool must be on a CUDA backend.

#include <pinpool/backend.hpp>
#include <pinpool/error.hpp>
#include <pinpool/log.hpp>
#include <pinpool/memory_kind.hpp>
#include <pinpool/pool.hpp>
#include <pinpool/pool_allocator.hpp>
#include <pinpool/stream.hpp>

#include <cuda/memory_resource>
#include <cuda/stream_ref>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <rmm/error.hpp>
#include <stdexcept>
#include <string>

namespace pinpool {

namespace detail {

/// @brief What the two RMM adaptors share: the pool's raw pointers (one count over all copies)
/// and the translation of streams and errors.
class rmm_resource_base {
 public:
  /// @brief `bytes` idle now (for the host, or any stream), aligned to `alignment`.
  /// @throws rmm::out_of_memory at the pool's cap or when the backend is out of memory;
  /// std::invalid_argument for a bad alignment; the pool's other exceptions.
  /// @note May wait up to the pool's acquire_timeout at its cap. 0 bytes: a 1-byte chunk.
  void* allocate_sync(std::size_t bytes,
                      std::size_t alignment = cuda::mr::default_cuda_malloc_alignment) {
    return translate_errors([&] { return chunks_->acquire(bytes, alignment, nullptr); });
  }
  /// @brief Gives `p` back at once (or behind the streams it was allocated on). Never throws.
  void deallocate_sync(
      void* p, std::size_t /*bytes*/,
      std::size_t /*alignment*/ = cuda::mr::default_cuda_malloc_alignment) noexcept {
    chunks_->release(p);
  }
  /// @brief `bytes` safe for work enqueued on `stream` from now on (as cudaMallocAsync); the
  /// host must not touch them before synchronising `stream`. Does not synchronise.
  /// @throws as `allocate_sync`; std::invalid_argument for a stream of another device.
  void* allocate(cuda::stream_ref stream, std::size_t bytes,
                 std::size_t alignment = cuda::mr::default_cuda_malloc_alignment) {
    return translate_errors([&] {
      const stream_ref s = wrap(stream);
      return chunks_->acquire(bytes, alignment, &s);
    });
  }
  /// @brief As cudaFreeAsync: `p` is reused only after the work enqueued on `stream` so far.
  /// Never throws, never synchronises (a stream the pool cannot use is reported; `p` then goes
  /// back behind the stream it was allocated on).
  void deallocate(cuda::stream_ref stream, void* p, std::size_t /*bytes*/,
                  std::size_t /*alignment*/ = cuda::mr::default_cuda_malloc_alignment) noexcept {
    try {
      const stream_ref s = wrap(stream);
      chunks_->release(p, &s);
    } catch (const std::exception& e) {  // wrapping the stream failed (a runtime error)
      ::pinpool::detail::log_message(
          "pinpool: RMM deallocate of %p on a stream pinpool cannot wrap (%s); released on "
          "the streams it was allocated on instead",
          p, e.what());
      chunks_->release(p);
    }
  }

  pool& get_pool() const noexcept { return chunks_->get_pool(); }
  /// @brief Allocations not yet deallocated (over all copies).
  std::size_t outstanding() const noexcept { return chunks_->size(); }

 protected:
  rmm_resource_base(pool& p, memory_kind kind, const char* adaptor)
      : chunks_(std::make_shared<raw_allocations>(p)) {
    if (p.options().kind != kind) {
      throw std::invalid_argument(std::string("pinpool::") + adaptor + ": needs a '" +
                                  to_string(kind) + "' pool, pool '" + p.options().name + "' is '" +
                                  to_string(p.options().kind) + "'");
    }
    if (p.get_backend().kind() != backend_kind::cuda) {
      throw std::invalid_argument(std::string("pinpool::") + adaptor + ": pool '" +
                                  p.options().name +
                                  "' is on the CPU backend; RMM's streams are cudaStream_t, "
                                  "so the pool must be on a CUDA backend");
    }
  }
  bool same_allocations(const rmm_resource_base& other) const noexcept {
    return chunks_ == other.chunks_;
  }

 private:
  stream_ref wrap(cuda::stream_ref stream) const {
    return stream_ref{chunks_->get_pool().get_backend(), stream.get()};
  }

  template <class Allocate>
  static void* translate_errors(Allocate&& allocate) {
    try {
      return allocate();
    } catch (const pool_exhausted& e) {
      throw rmm::out_of_memory(e.what());
    } catch (const out_of_memory& e) {
      throw rmm::out_of_memory(e.what());
    }
  }

  std::shared_ptr<raw_allocations> chunks_;
};

}  // namespace detail

/// @brief A `device` pool as an RMM device memory resource (`cuda::mr::device_accessible`).
class rmm_device_resource : public detail::rmm_resource_base {
 public:
  /// @throws std::invalid_argument when `p` is not a `device` pool on a CUDA backend.
  explicit rmm_device_resource(pool& p)
      : rmm_resource_base(p, memory_kind::device, "rmm_device_resource") {}
  friend bool operator==(const rmm_device_resource& a, const rmm_device_resource& b) noexcept {
    return a.same_allocations(b);
  }
  friend bool operator!=(const rmm_device_resource& a, const rmm_device_resource& b) noexcept {
    return !a.same_allocations(b);
  }
  friend constexpr void get_property(const rmm_device_resource&,
                                     cuda::mr::device_accessible) noexcept {}
};

/// @brief A `pinned_host` pool as an RMM resource reachable from host and device
/// (`host_accessible` and `device_accessible`, as RMM's pinned_host_memory_resource): for
/// `rmm::host_device_async_resource_ref`, and wherever a device resource is taken.
class rmm_pinned_resource : public detail::rmm_resource_base {
 public:
  /// @throws std::invalid_argument when `p` is not a `pinned_host` pool on a CUDA backend.
  explicit rmm_pinned_resource(pool& p)
      : rmm_resource_base(p, memory_kind::pinned_host, "rmm_pinned_resource") {}
  friend bool operator==(const rmm_pinned_resource& a, const rmm_pinned_resource& b) noexcept {
    return a.same_allocations(b);
  }
  friend bool operator!=(const rmm_pinned_resource& a, const rmm_pinned_resource& b) noexcept {
    return !a.same_allocations(b);
  }
  friend constexpr void get_property(const rmm_pinned_resource&,
                                     cuda::mr::host_accessible) noexcept {}
  friend constexpr void get_property(const rmm_pinned_resource&,
                                     cuda::mr::device_accessible) noexcept {}
};

static_assert(cuda::mr::resource_with<rmm_device_resource, cuda::mr::device_accessible>,
              "pinpool/rmm_resource.hpp needs the CCCL that RMM bundles (librmm/include/rapids, "
              "3.5 in RMM 26.10) ahead of the CUDA toolkit's on the include path");
static_assert(cuda::mr::resource_with<rmm_pinned_resource, cuda::mr::host_accessible,
                                      cuda::mr::device_accessible>);

}  // namespace pinpool
