#pragma once
/// @file backend.hpp
/// @brief `backend`: the provider of memory and ordering (slabs, streams, events, async copies,
/// host callbacks), and `make_backend`. Two implementations: CPU and CUDA.

#include <pinpool/memory_kind.hpp>
#include <pinpool/stream.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace pinpool {

/// @brief What a pool asks its backend for when it grows: one request struct, so that new
/// placement settings extend it instead of every backend's signature.
struct slab_request {
  memory_kind kind = memory_kind::host;
  int device = 0;
  std::size_t bytes = 0;
  /// Host NUMA node for host and pinned_host slabs (mbind, preferred, before the first touch);
  /// -1 = the node of the thread that creates the slab where the system has several, else none.
  /// Device slabs: must be -1.
  int numa_node = -1;
  /// pinned_host: threads that first-touch the slab before it is page-locked; 0 = automatic
  /// (min(4, hardware threads, bytes / 16 MiB), at least 1: small slabs on the calling thread).
  unsigned touch_threads = 0;
};

/// @brief A block of backend memory; pools carve chunks out of slabs. It remembers what it is,
/// so that returning it needs nothing else.
struct slab {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  memory_kind kind = memory_kind::host;
  int device = 0;
  bool page_locked = false;  ///< pinned_host only: true when the memory really is page-locked.
  /// Host and pinned_host: the NUMA node the slab's pages are on, read back from the kernel
  /// after they were touched (move_pages); -1 when not known (untouched host slabs, device).
  int numa_node = -1;
  /// CUDA pinned_host: true when the slab is anonymous memory registered with cudaHostRegister
  /// (freed by cudaHostUnregister + munmap), false when cudaHostAlloc made it (cudaFreeHost).
  bool registered = false;
};

/// @brief Memory and ordering provider. Thread-safe: every member may be called concurrently.
///
/// Users call `create_stream`, `kind`, `name` and `device_count`; the remaining members are the
/// low-level interface pools and streams are built on (events are opaque `void*` handles). All
/// are non-blocking unless documented otherwise.
class backend : public std::enable_shared_from_this<backend> {
 public:
  virtual ~backend();
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
  /// @brief Allocates `r.bytes` of `r.kind` on `r.device`, aligned to at least 256 bytes.
  /// @throws std::invalid_argument for a bad device, 0 bytes or an unsupported setting;
  /// out_of_memory when the memory is not available; backend_error for other failures.
  virtual slab allocate(const slab_request& r) = 0;
  /// @brief Returns a slab from `allocate`. May synchronise the device (cudaFree does).
  /// Never throws.
  virtual void deallocate(const slab& s) noexcept = 0;

  // ---- streams -----------------------------------------------------------------------------
  virtual void* create_native_stream(int device) = 0;
  /// @note Waits for the stream's queued work, then destroys it. Never throws.
  virtual void destroy_native_stream(void* handle, int device) noexcept = 0;
  virtual void memcpy_async(stream_ref s, void* dst, const void* src, std::size_t bytes) = 0;
  virtual void launch_host_func(stream_ref s, std::function<void()> fn) = 0;
  /// @note Blocks the calling thread until the stream's queued work has run.
  virtual void synchronize(stream_ref s) = 0;
  /// @brief A number naming the stream behind `handle` that no other stream of this backend
  /// has had or will have while the process runs (CUDA: cudaStreamGetId; CPU: a counter), so a
  /// handle value reused by a new stream gets a new identity. 0 for handles that name a
  /// different stream in each thread (cudaStreamPerThread, the legacy/null stream) or when the
  /// identity cannot be read. Does not synchronise; never throws.
  virtual std::uint64_t stream_id(void* handle, int device) noexcept = 0;
  /// @brief The device of a native stream handle (CUDA: cudaStreamGetDevice).
  virtual int stream_device(void* handle) = 0;
  /// @brief Whether `s` is being captured into a graph (CUDA: cudaStreamIsCapturing). Backends
  /// without graphs answer false. Does not synchronise.
  virtual bool is_capturing(stream_ref s) {
    static_cast<void>(s);
    return false;
  }
  /// @brief The id of the capture `s` takes part in while that capture is active (CUDA:
  /// cudaStreamGetCaptureInfo; unique per capture); 0 when `s` is not being captured or its
  /// capture was invalidated. Backends without graphs answer 0. Does not synchronise and does not
  /// break a capture.
  virtual std::uint64_t capture_id(stream_ref s) {
    static_cast<void>(s);
    return 0;
  }
  /// @brief `allocate` while a stream may be captured into a graph: CUDA makes the call with the
  /// calling thread's capture mode relaxed (cudaThreadExchangeStreamCaptureMode), so that
  /// cudaMalloc/cudaHostAlloc do not invalidate a global or thread-local capture (PyTorch's
  /// allocator does the same). Default: `allocate`. @throws as `allocate`.
  virtual slab allocate_during_capture(const slab_request& r) { return allocate(r); }

  /// @brief True when every piece of work enqueued on `s` so far has run (CUDA:
  /// cudaStreamQuery). Backends that cannot tell answer false. Does not block.
  /// @pre `s` is not being captured (the query would invalidate the capture).
  virtual bool stream_idle(stream_ref s) {
    static_cast<void>(s);
    return false;
  }

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

  // ---- peer access (non-virtual; several devices) -------------------------------------------
  /// @brief Lets work on streams of `device` use device memory of `peer` (CUDA:
  /// cudaDeviceCanAccessPeer, then cudaDeviceEnablePeerAccess with `device` current; CPU: all
  /// memory is host memory, always possible). Idempotent and thread-safe. Device pools accept a
  /// stream of another device only once this has succeeded for (stream's device, pool's device).
  /// @return false, enabling nothing, when the hardware cannot.
  /// @throws std::invalid_argument for a device out of range or `device == peer`; cuda_error
  /// when the runtime fails. May synchronise nothing; slow path only.
  bool enable_peer_access(int device, int peer);
  /// @brief Whether `enable_peer_access(device, peer)` succeeded on this backend. Lock-free;
  /// false for devices out of range.
  bool peer_access_enabled(int device, int peer) const noexcept;

  // ---- owning streams' lifetimes (non-virtual: the same for every backend) -----------------
  enum class fence_result {
    recorded,  ///< `event` now marks the point after all work enqueued on the stream so far
    idle,      ///< nothing enqueued on the stream so far is left to run (nothing recorded)
    gone,      ///< the stream was destroyed, and every piece of its work had run
    not_now,   ///< the stream is being destroyed or captured: ask again later
  };
  /// @brief Fences `s`, a stream created by this backend's `create_stream`
  /// (`s.lifetime_tracked()`): `idle` when its work has all run (`stream_idle`), else records
  /// `event` on it. A destroyed stream answers `gone` (an owning `stream` waits for its work
  /// before it goes); one being destroyed or captured into a graph answers `not_now` (a record
  /// there would become a graph node). Serialised with the stream's destruction, so nothing is
  /// asked of a stream that is gone. `ask_idle` false: records without asking whether the stream
  /// is idle (never answers `idle`), for a caller that waits on the fence device-side anyway (the
  /// question would cost more calls than the record). @throws as `record_event`.
  fence_result record_fence(void* event, int device, stream_ref s, bool ask_idle = true);

 protected:
  backend();
  /// @brief The backend's part of `enable_peer_access` (arguments already checked): false when
  /// the hardware cannot. Default: true (nothing to enable).
  virtual bool enable_native_peer_access(int device, int peer);

 private:
  friend class stream;
  void retire_stream(void* handle, int device, std::uint64_t id) noexcept;

  struct stream_registry;  // the owning streams not yet destroyed (stream.cpp)
  std::unique_ptr<stream_registry> streams_;
  /// Bit `peer` of word `device`: enable_peer_access(device, peer) succeeded (peer_access.cpp).
  static constexpr int max_peer_devices = 64;
  std::array<std::atomic<std::uint64_t>, max_peer_devices> peers_{};
};

/// @brief Makes a backend. `automatic` picks CUDA when a usable device exists, else CPU, and
/// writes one line to stderr giving the runtime's reason when it falls back (set
/// `PINPOOL_QUIET=1` to silence it).
/// @throws cuda_error for `backend_kind::cuda` when CUDA is unusable or not compiled in.
std::shared_ptr<backend> make_backend(backend_kind kind = backend_kind::automatic);

/// @brief Whether this build of pinpool contains the CUDA backend.
bool built_with_cuda() noexcept;

}  // namespace pinpool
