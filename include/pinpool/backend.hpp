#pragma once
/// @file backend.hpp
/// @brief `backend`: the provider of memory and ordering (slabs, streams, events, async copies,
/// host callbacks), and `make_backend`. Two implementations: CPU and CUDA.

#include <pinpool/memory_kind.hpp>
#include <pinpool/stream.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace pinpool {

/// @brief A block of backend memory; pools carve chunks out of slabs.
struct slab {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  bool page_locked = false;  ///< pinned_host only: true when the memory really is page-locked.
};

/// @brief Memory and ordering provider. Thread-safe: every member may be called concurrently.
///
/// Users call `create_stream`, `kind`, `name` and `device_count`; the remaining members are the
/// low-level interface pools and streams are built on (events are opaque `void*` handles). All
/// are non-blocking unless documented otherwise.
class backend : public std::enable_shared_from_this<backend> {
 public:
  virtual ~backend() = default;
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;

  virtual backend_kind kind() const noexcept = 0;
  /// @brief "cpu" or "cuda".
  virtual const char* name() const noexcept = 0;
  virtual int device_count() const noexcept = 0;

  /// @brief Creates an owning stream on `device`.
  /// @throws std::invalid_argument for a bad device; cuda_error when the runtime fails.
  stream create_stream(int device = 0);

  // ---- memory: slow path only (never called in a pool's steady state) -----------------------
  /// @brief Allocates `bytes` of `kind` on `device`, aligned to at least 256 bytes.
  /// @throws out_of_memory when the memory is not available; cuda_error for other failures.
  virtual slab allocate(memory_kind kind, int device, std::size_t bytes) = 0;
  /// @brief Returns a slab. May synchronise the device (cudaFree does). Never throws.
  virtual void deallocate(memory_kind kind, int device, slab s) noexcept = 0;

  // ---- streams -----------------------------------------------------------------------------
  virtual void* create_native_stream(int device) = 0;
  /// @note Waits for the stream's queued work, then destroys it. Never throws.
  virtual void destroy_native_stream(void* handle, int device) noexcept = 0;
  virtual void memcpy_async(stream_ref s, void* dst, const void* src, std::size_t bytes) = 0;
  virtual void launch_host_func(stream_ref s, std::function<void()> fn) = 0;
  /// @note Blocks the calling thread until the stream's queued work has run.
  virtual void synchronize(stream_ref s) = 0;
  /// @brief See `stream_ref::has_stable_identity`.
  virtual bool has_stable_identity(const stream_ref& s) const noexcept = 0;
  /// @brief The device of a native stream handle (CUDA: cudaStreamGetDevice).
  virtual int stream_device(void* handle) = 0;

  // ---- events: one-shot completion markers, recorded on a stream of their device -----------
  virtual void* create_event(int device) = 0;
  virtual void destroy_event(void* event, int device) noexcept = 0;
  /// @brief Marks the point after all work enqueued on `s` so far. @pre `s.device()` == `device`.
  virtual void record_event(void* event, int device, stream_ref s) = 0;
  /// @brief True when the recorded work has completed (or the event was never recorded).
  virtual bool event_done(void* event, int device) = 0;
  /// @brief Makes later work on `s` wait for the event, without blocking the host.
  virtual void stream_wait_event(stream_ref s, void* event, int device) = 0;
  /// @brief Blocks the calling host thread until the event has completed.
  virtual void synchronize_event(void* event, int device) = 0;

 protected:
  backend() = default;
};

/// @brief Makes a backend. `automatic` picks CUDA when a usable device exists, else CPU, and
/// writes one line to stderr giving the runtime's reason when it falls back (set
/// `PINPOOL_QUIET=1` to silence it).
/// @throws cuda_error for `backend_kind::cuda` when CUDA is unusable or not compiled in.
std::shared_ptr<backend> make_backend(backend_kind kind = backend_kind::automatic);

/// @brief Whether this build of pinpool contains the CUDA backend.
bool built_with_cuda() noexcept;

}  // namespace pinpool
