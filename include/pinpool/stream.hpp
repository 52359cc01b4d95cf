#pragma once
/// @file stream.hpp
/// @brief `stream_ref` (non-owning view of an in-order work queue) and `stream` (owning).

#include <pinpool/memory_kind.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

struct CUstream_st;  // cudaStream_t is `CUstream_st*`; declared here so no CUDA header is needed.

namespace pinpool {

class backend;

/// @brief Non-owning, cheap-to-copy view of a backend stream.
///
/// There is no default constructor and no conversion from `int`/`nullptr`: pinpool has no
/// implicit default stream. A `stream_ref` must not outlive the stream it views.
class stream_ref {
 public:
  stream_ref() = delete;
  stream_ref(int) = delete;             // NOLINT: forbid stream_ref{0}
  stream_ref(std::nullptr_t) = delete;  // NOLINT: forbid stream_ref{nullptr}

  /// @brief Wraps a native handle of `be` (CPU: a stream object; CUDA: a `cudaStream_t`).
  /// @param device the device the stream belongs to.
  /// @note Reads the stream's identity from the backend (CUDA: cudaStreamGetId).
  stream_ref(backend& be, void* native_handle, int device) noexcept;
  /// @brief As above with the identity already known (`backend::stream_id`).
  stream_ref(backend& be, void* native_handle, int device, std::uint64_t id) noexcept
      : backend_(&be), handle_(native_handle), device_(device), id_(id) {}

  /// @brief Wraps an existing `cudaStream_t` (including `cudaStreamPerThread`) of a CUDA backend.
  /// @throws std::invalid_argument when `be` is not a CUDA backend.
  /// @note Queries the stream's device (cudaStreamGetDevice); does not synchronise.
  stream_ref(backend& be, CUstream_st* cuda_stream);

  backend& get_backend() const noexcept { return *backend_; }
  void* native_handle() const noexcept { return handle_; }
  int device() const noexcept { return device_; }
  /// @brief The stream's identity (`backend::stream_id`): unique for the process's lifetime
  /// even when a handle value is reused; 0 when it has none.
  std::uint64_t id() const noexcept { return id_; }

  /// @brief Whether the view names one stream whatever thread uses it. False for handles that
  /// name a different stream in each thread (cudaStreamPerThread, the legacy/null stream):
  /// pools never apply same-stream reuse to those (the CUB #373 trap).
  bool has_stable_identity() const noexcept { return id_ != 0; }
  /// @brief Whether the view comes from an owning `stream` (`stream::ref()`), whose backend
  /// knows when it is destroyed. Pools record no event when a chunk is released on such a stream
  /// alone; they record one later, when another stream or the host wants the chunk.
  bool lifetime_tracked() const noexcept { return tracked_; }

  /// @brief Enqueues a copy of `bytes` from `src` to `dst`. Asynchronous: returns at once; the
  /// memory must stay valid until the copy has run (ordered after earlier work on this stream).
  void memcpy_async(void* dst, const void* src, std::size_t bytes) const;
  /// @brief Enqueues `fn` to run on the host after earlier work on this stream. CUDA calls are
  /// not allowed inside `fn` (runtime rule); an exception it throws surfaces at the next
  /// `synchronize()` of this stream as `pinpool::error`.
  void launch_host_func(std::function<void()> fn) const;
  /// @brief Blocks the calling host thread until all work enqueued so far has run.
  /// @throws pinpool::error when a task on the stream failed since the last synchronize.
  void synchronize() const;

  friend bool operator==(const stream_ref& a, const stream_ref& b) noexcept {
    return a.backend_ == b.backend_ && a.handle_ == b.handle_ && a.id_ == b.id_;
  }
  friend bool operator!=(const stream_ref& a, const stream_ref& b) noexcept { return !(a == b); }

 private:
  friend class stream;
  stream_ref(backend& be, void* native_handle, int device, std::uint64_t id, bool tracked) noexcept
      : backend_(&be), handle_(native_handle), device_(device), tracked_(tracked), id_(id) {}

  backend* backend_;
  void* handle_;
  int device_;
  bool tracked_ = false;
  std::uint64_t id_ = 0;
};

/// @brief Owning stream: created by `backend::create_stream`, destroyed (after its queued work
/// has run) when the `stream` is destroyed. Move-only.
class stream {
 public:
  stream(stream&& other) noexcept;
  stream& operator=(stream&& other) noexcept;
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  /// @note Waits for queued work to finish, then destroys the native stream. Never throws.
  ~stream();

  /// @brief The non-owning view. @pre the stream is not moved-from.
  stream_ref ref() const noexcept { return stream_ref{*backend_, handle_, device_, id_, id_ != 0}; }
  operator stream_ref() const noexcept { return ref(); }  // NOLINT: implicit by design

  void* native_handle() const noexcept { return handle_; }
  int device() const noexcept { return device_; }
  std::uint64_t id() const noexcept { return id_; }
  const std::shared_ptr<backend>& get_backend() const noexcept { return backend_; }

  /// @copydoc stream_ref::memcpy_async
  void memcpy_async(void* dst, const void* src, std::size_t bytes) const {
    ref().memcpy_async(dst, src, bytes);
  }
  /// @copydoc stream_ref::launch_host_func
  void launch_host_func(std::function<void()> fn) const { ref().launch_host_func(std::move(fn)); }
  /// @copydoc stream_ref::synchronize
  void synchronize() const { ref().synchronize(); }

 private:
  friend class backend;
  stream(std::shared_ptr<backend> be, void* handle, int device, std::uint64_t id) noexcept
      : backend_(std::move(be)), handle_(handle), device_(device), id_(id) {}
  void reset() noexcept;

  std::shared_ptr<backend> backend_;
  void* handle_ = nullptr;
  int device_ = 0;
  std::uint64_t id_ = 0;
};

}  // namespace pinpool
