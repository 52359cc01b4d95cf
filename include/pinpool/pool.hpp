#pragma once
/// @file pool.hpp
/// @brief `pool`: chunks of one memory_kind on one device of one backend, with stream-ordered
/// release. Thread-safe.

#include <pinpool/backend.hpp>
#include <pinpool/buffer.hpp>
#include <pinpool/pool_leak_report.hpp>
#include <pinpool/pool_options.hpp>
#include <pinpool/pool_stats.hpp>
#include <pinpool/stream.hpp>

#include <cstddef>
#include <memory>
#include <optional>

namespace pinpool {

namespace detail {
class pool_core;
}
class graph_scope;

/// @brief A pool of chunks carved from large slabs, grouped in size classes.
///
/// Steady state makes no backend allocation: slabs are allocated when the pool grows and
/// returned only by `trim()` or when the pool's memory is finally released. Every member is
/// thread-safe. Locks are held briefly; acquisitions never call the backend's allocator unless
/// the pool must grow.
class pool {
 public:
  /// @brief Reserves `opt.initial_bytes` at once.
  /// @throws std::invalid_argument for bad options (device out of range, alignment not a power
  /// of two, initial_bytes above max_bytes, ...); out_of_memory / cuda_error from the backend.
  pool(std::shared_ptr<backend> be, const pool_options& opt = {});
  /// @brief Releases idle memory after pending releases completed (host wait). Buffers still
  /// outstanding keep the memory alive until they go; the log sink (log.hpp; default stderr)
  /// reports them: a line with their count, then a line per chunk of `leak_report()` (the first
  /// 20, then how many more).
  ~pool();
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  pool(pool&&) = delete;
  pool& operator=(pool&&) = delete;

  /// @brief A chunk of at least `bytes` that is idle now: the host may touch it at once.
  /// @note May wait (host block) up to `acquire_timeout` when the cap is reached.
  /// @throws std::invalid_argument for 0 bytes or a size no class can hold; pool_exhausted
  /// when the cap is reached; out_of_memory / cuda_error when growth fails. The pool stays usable.
  buffer acquire(std::size_t bytes);
  /// @brief A chunk safe for work enqueued on `s` from now on, released on `s` when destroyed.
  /// It may still be used by earlier work on `s`, or (device memory) by another stream's work
  /// that `s` has been made to wait for on the device. The host must not touch it before
  /// synchronising `s`. Same errors as `acquire(bytes)`.
  buffer acquire(std::size_t bytes, stream_ref s);
  /// @brief As `acquire(bytes)`, but never waits: empty when it would have to wait or grow
  /// beyond the cap. Still throws for invalid sizes and backend failures.
  std::optional<buffer> try_acquire(std::size_t bytes);
  /// @brief As `acquire(bytes, s)`, but never waits.
  std::optional<buffer> try_acquire(std::size_t bytes, stream_ref s);

  /// @name Raw pointers (cudaMallocAsync / cudaFreeAsync style)
  /// For code that holds memory by pointer. A pointer from `allocate` is a chunk acquired as by
  /// `acquire` whose handle is the pointer itself: the same reuse rules, the same statistics (an
  /// outstanding buffer), the same errors. It stays out until `deallocate` (which must be called
  /// before the pool is destroyed: a pointer cannot be given back without its pool, and the
  /// memory of one never given back is kept). Thread-safe: any thread may deallocate a pointer
  /// another thread allocated; calls on the same pointer must not race (as cudaFree's).
  /// @{

  /// @brief `bytes` (0: null) idle now: the host may touch them at once (as `acquire(bytes)`).
  /// Released at once by `deallocate(p)`, or behind the streams given to `record_stream`.
  /// @note Aligned to `options().alignment`. May wait (host block) at the cap as `acquire`.
  /// @throws as `acquire(bytes)`.
  void* allocate(std::size_t bytes);
  /// @brief `bytes` (0: null) safe for work enqueued on `s` from now on (as `acquire(bytes, s)`
  /// and cudaMallocAsync): the host must not touch them before synchronising `s`. Does not
  /// synchronise. @throws as `acquire(bytes, s)`.
  void* allocate(std::size_t bytes, stream_ref s);
  /// @brief As `allocate`, aligned to `alignment` (a power of two; above the pool's alignment
  /// the chunk is padded). @throws std::invalid_argument for a bad alignment.
  void* allocate_aligned(std::size_t bytes, std::size_t alignment);
  void* allocate_aligned(std::size_t bytes, std::size_t alignment, stream_ref s);
  /// @brief Gives `p` back as its buffer's destructor would: at once when it has no stream, else
  /// behind the stream it was allocated on and those given to `record_stream`. Null: nothing.
  /// Never blocks.
  /// @throws std::invalid_argument (naming the pool) when `p` is not out from this pool now: a
  /// foreign pointer, another pool's, an interior pointer, or one already deallocated. The
  /// pool is unchanged then.
  void deallocate(void* p);
  /// @brief As cudaFreeAsync: `p` is reused only after the work enqueued on `s` so far (and on
  /// the streams given to `record_stream`); the stream it was allocated on is not waited for:
  /// its work using `p` must be ordered before `s`'s (same stream, or an event wait). Never
  /// blocks. @throws std::invalid_argument as `deallocate(p)`, or for a stream the pool cannot
  /// use (`p` stays out).
  void deallocate(void* p, stream_ref s);
  /// @brief Adds `s` to the streams `p`'s release waits for (as `buffer::record_stream`).
  /// Does not synchronise. @throws std::invalid_argument as `deallocate(p, s)`.
  void record_stream(const void* p, stream_ref s);
  /// @}

  /// @brief Returns idle slabs (every chunk free and its release completed) to the backend.
  /// @return bytes returned. May synchronise the device (cudaFree).
  std::size_t trim();

  pool_stats stats() const;
  /// @brief The chunks handed out now and not released: buffers, shared buffers and raw
  /// pointers, each with its size, size class, holder and the streams its release will wait for
  /// (chunks parked in thread caches are idle: not listed). One snapshot under the pool's lock.
  /// @note Safe from any thread while others acquire, record streams and release (their chunks
  /// may then be listed or not). Does not synchronise; calls no backend.
  pool_leak_report leak_report() const;
  /// @brief Starts `peak_bytes_in_use` again from the bytes in use now (e.g. after warm-up, to
  /// see one phase's peak). Thread-safe; does not synchronise.
  void reset_peak() noexcept;
  const pool_options& options() const noexcept;
  backend& get_backend() const noexcept;
  /// @brief The chunk size a request of `bytes` is rounded to (0 if it cannot be served).
  std::size_t chunk_size_for(std::size_t bytes) const noexcept;

 private:
  friend class graph_scope;
  detail::pool_core* core_;  // owned; outlives the pool while buffers are outstanding
};

}  // namespace pinpool
