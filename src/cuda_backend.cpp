#include "cuda_backend.hpp"
#include "cuda_check.hpp"
#include "numa.hpp"
#include "pinned_slab.hpp"

#include <pinpool/error.hpp>
#include <pinpool/log.hpp>

#include <cuda_runtime_api.h>
#ifdef PINPOOL_HAS_NVTX
#include <nvtx3/nvToolsExtCudaRt.h>
#endif

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

namespace pinpool::detail {
namespace {

cudaStream_t as_cuda(void* handle) noexcept {
  return static_cast<cudaStream_t>(handle);
}
cudaStream_t as_cuda(const stream_ref& s) noexcept {
  return as_cuda(s.native_handle());
}
cudaEvent_t as_event(void* e) noexcept {
  return static_cast<cudaEvent_t>(e);
}

/// True for the handles that name a different stream in each host thread.
bool is_special_stream(void* handle) noexcept {
  return handle == nullptr || as_cuda(handle) == cudaStreamLegacy ||
         as_cuda(handle) == cudaStreamPerThread;
}

std::string hex(const void* p) {
  std::array<char, 2 + 2 * sizeof(void*) + 1> text{};
  std::snprintf(text.data(), text.size(), "%p", p);
  return text.data();
}

/// Makes `device` current for the guard's lifetime; restores the previous device afterwards
/// (cudaSetDevice is called only when they differ). The nothrow form reports failures instead.
class device_guard {
 public:
  explicit device_guard(int device) {
    PINPOOL_CUDA_TRY(cudaGetDevice(&previous_));
    if (previous_ != device) {
      PINPOOL_CUDA_TRY(cudaSetDevice(device));
      switched_ = true;
    }
  }
  device_guard(int device, std::nothrow_t /*tag*/) noexcept {
    if (!PINPOOL_CUDA_TRY_NOTHROW(cudaGetDevice(&previous_))) return;
    if (previous_ != device) switched_ = PINPOOL_CUDA_TRY_NOTHROW(cudaSetDevice(device));
  }
  ~device_guard() {
    if (switched_) PINPOOL_CUDA_TRY_NOTHROW(cudaSetDevice(previous_));
  }
  device_guard(const device_guard&) = delete;
  device_guard& operator=(const device_guard&) = delete;

 private:
  int previous_ = 0;
  bool switched_ = false;
};

/// For work on a stream: the special handles (null, legacy, per-thread) name the stream of the
/// current device, so that device is made current for them; any other stream carries its device,
/// and copies and event records on it work whichever device is current (CUDA Programming Guide,
/// "Stream and Event Behavior"), so nothing is asked (no cudaGetDevice).
class stream_device_guard {
 public:
  explicit stream_device_guard(const stream_ref& s) {
    if (is_special_stream(s.native_handle())) guard_.emplace(s.device());
  }

 private:
  std::optional<device_guard> guard_;
};

/// First failure of a host function per stream, reported by the stream's next synchronize.
/// Shared with pending callbacks, so it outlives the backend if they do.
class failure_log {
 public:
  /// Special handles name a stream per (thread, device): the key includes both for them.
  struct key {
    void* handle;
    int device;
    std::thread::id thread;
    bool operator<(const key& o) const {
      return std::tie(handle, device, thread) < std::tie(o.handle, o.device, o.thread);
    }
  };
  static key key_of(const stream_ref& s) {
    if (!is_special_stream(s.native_handle())) return {s.native_handle(), s.device(), {}};
    return {s.native_handle(), s.device(), std::this_thread::get_id()};
  }

  void note(const key& k, std::string what) {
    std::lock_guard<std::mutex> lock(mutex_);
    failures_.emplace(k, std::move(what));  // keeps the first one
  }
  /// @return the failure noted for `k` ("" if none), forgetting it.
  std::string take(const key& k) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = failures_.find(k);
    if (it == failures_.end()) return {};
    std::string what = std::move(it->second);
    failures_.erase(it);
    return what;
  }

 private:
  std::mutex mutex_;
  std::map<key, std::string> failures_;
};

/// What cudaLaunchHostFunc carries to the trampoline (heap-allocated; the trampoline owns it).
struct host_call {
  std::function<void()> fn;
  std::shared_ptr<failure_log> log;
  failure_log::key key;
};

/// Runs on a runtime thread: no CUDA call allowed here, and no exception may escape.
void CUDART_CB run_host_call(void* data) noexcept {
  std::unique_ptr<host_call> call(static_cast<host_call*>(data));
  try {
    call->fn();
  } catch (const std::exception& e) {
    call->log->note(call->key, e.what());
  } catch (...) {
    call->log->note(call->key, "unknown exception");
  }
}

[[noreturn]] void throw_out_of_memory(memory_kind kind, int device, std::size_t bytes,
                                      const std::string& cause) {
  throw out_of_memory("pinpool: cuda backend: cannot allocate " + std::to_string(bytes) +
                      " bytes of " + to_string(kind) + " memory on device " +
                      std::to_string(device) + " (" + cause + ")");
}

/// Throws out_of_memory for cudaErrorMemoryAllocation, cuda_error for other failures.
void check_allocation(cudaError_t status, const char* call, memory_kind kind, int device,
                      std::size_t bytes, const char* file, int line) {
  if (status == cudaSuccess) return;
  if (status != cudaErrorMemoryAllocation) throw_cuda_error(status, call, file, line);
  clear_if_last(status);
  throw_out_of_memory(kind, device, bytes, std::string(call) + ": cudaErrorMemoryAllocation");
}
#define PINPOOL_CUDA_TRY_ALLOCATION(call, kind, device, bytes) \
  check_allocation((call), #call, kind, device, bytes, __FILE__, __LINE__)

class cuda_backend final : public backend {
 public:
  explicit cuda_backend(int devices) : device_count_(devices) {}

  backend_kind kind() const noexcept override { return backend_kind::cuda; }
  const char* name() const noexcept override { return "cuda"; }
  int device_count() const noexcept override { return device_count_; }

  /// device: cudaMalloc; host: anonymous memory, untouched; pinned_host: anonymous memory
  /// first-touched on a few threads and registered (cudaHostRegister, portable), or cudaHostAlloc
  /// (portable) when registration fails (pinned_slab.hpp). Host slabs are placed on
  /// `r.numa_node`.
  /// @note cudaMalloc/cudaHostAlloc/cudaHostRegister may synchronise the device.
  slab allocate(const slab_request& r) override {
    check_device(r.device);
    if (r.bytes == 0) throw std::invalid_argument("pinpool: cuda backend: cannot allocate 0 bytes");
    if (r.kind == memory_kind::device && r.numa_node != -1) {
      throw std::invalid_argument("pinpool: cuda backend: numa_node applies to host memory only");
    }
    check_numa_node(r.numa_node, "pinpool: cuda backend");
    if (r.kind == memory_kind::host) {
      // Untouched, as the CPU backend's host slabs (through malloc, ASan would poison and
      // unpoison the shadow of every slab: seconds per fuzz input).
      const host_slab h = make_host_slab({r.bytes, r.numa_node, 0, false, false});
      return slab{h.ptr, r.bytes, r.kind, r.device, false, -1, false};
    }
    device_guard guard(r.device);
    if (r.kind == memory_kind::pinned_host) return allocate_pinned(r);
    slab s{nullptr, r.bytes, r.kind, r.device, false, -1, false};
    PINPOOL_CUDA_TRY_ALLOCATION(cudaMalloc(&s.ptr, r.bytes), r.kind, r.device, r.bytes);
    return s;
  }

  /// @note cudaFree/cudaFreeHost/cudaHostUnregister may synchronise the device.
  void deallocate(const slab& s) noexcept override {
    switch (s.kind) {
      case memory_kind::host:
        free_host_slab(s.ptr, s.bytes);
        break;
      case memory_kind::pinned_host:
        if (s.registered) {
          PINPOOL_CUDA_TRY_NOTHROW(cudaHostUnregister(s.ptr));
          free_host_slab(s.ptr, s.bytes);
        } else {
          PINPOOL_CUDA_TRY_NOTHROW(cudaFreeHost(s.ptr));
        }
        break;
      case memory_kind::device: {
        device_guard guard(s.device, std::nothrow);
        PINPOOL_CUDA_TRY_NOTHROW(cudaFree(s.ptr));
        break;
      }
    }
  }

  void* create_native_stream(int device) override {
    check_device(device);
    device_guard guard(device);
    cudaStream_t s = nullptr;
    PINPOOL_CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
#ifdef PINPOOL_HAS_NVTX
    // Named for Nsight Systems' stream rows, as the CPU backend names its stream threads.
    const std::string name = "pinpool-stream-" + std::to_string(++streams_created_);
    nvtxNameCudaStreamA(s, name.c_str());
#endif
    return s;
  }

  /// @note Synchronises the stream, then destroys it. A host-function failure never reported
  /// by a synchronize is printed on stderr.
  void destroy_native_stream(void* handle, int device) noexcept override {
    device_guard guard(device, std::nothrow);
    PINPOOL_CUDA_TRY_NOTHROW(cudaStreamSynchronize(as_cuda(handle)));
    PINPOOL_CUDA_TRY_NOTHROW(cudaStreamDestroy(as_cuda(handle)));
    try {
      const std::string lost = failures_->take({handle, device, {}});
      if (!lost.empty()) {
        ::pinpool::detail::log_message(
            "pinpool: stream %s destroyed with an unreported host function "
            "failure: %s",
            hex(handle).c_str(), lost.c_str());
      }
    } catch (...) {  // std::string allocation: nothing more to report
    }
  }

  /// @note Asynchronous (cudaMemcpyDefault: unified addressing decides the direction). No
  /// device switch except for the special handles (stream_device_guard).
  void memcpy_async(stream_ref s, void* dst, const void* src, std::size_t bytes) override {
    stream_device_guard guard(s);
    PINPOOL_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, as_cuda(s)));
  }

  /// @note Asynchronous. An exception thrown by `fn` is kept and thrown by the next synchronize.
  void launch_host_func(stream_ref s, std::function<void()> fn) override {
    auto call =
        std::make_unique<host_call>(host_call{std::move(fn), failures_, failure_log::key_of(s)});
    device_guard guard(s.device());
    PINPOOL_CUDA_TRY(cudaLaunchHostFunc(as_cuda(s), run_host_call, call.get()));
    static_cast<void>(call.release());  // owned by the pending callback now
  }

  /// @note Blocks the calling thread until the stream's queued work has run.
  /// @throws pinpool::error when a host function on `s` failed since the last synchronize.
  void synchronize(stream_ref s) override {
    {
      device_guard guard(s.device());
      PINPOOL_CUDA_TRY(cudaStreamSynchronize(as_cuda(s)));
    }
    const std::string failure = failures_->take(failure_log::key_of(s));
    if (!failure.empty()) {
      throw error("pinpool: stream " + hex(s.native_handle()) +
                  ": host function failed: " + failure);
    }
  }

  /// cudaStreamGetId: unique for the process's lifetime, even when the handle value is reused.
  std::uint64_t stream_id(void* handle, int /*device*/) noexcept override {
    if (is_special_stream(handle)) return 0;
    unsigned long long id = 0;
    if (!PINPOOL_CUDA_TRY_NOTHROW(cudaStreamGetId(as_cuda(handle), &id))) return 0;
    return id;
  }

  /// The special handles (null, legacy, per-thread) belong to the current device.
  int stream_device(void* handle) override {
    int device = 0;
    if (is_special_stream(handle)) {
      PINPOOL_CUDA_TRY(cudaGetDevice(&device));
    } else {
      PINPOOL_CUDA_TRY(cudaStreamGetDevice(as_cuda(handle), &device));
    }
    return device;
  }

  /// cudaDeviceCanAccessPeer, then cudaDeviceEnablePeerAccess with `device` current; "already
  /// enabled" (by the application, or another backend) counts as success.
  bool enable_native_peer_access(int device, int peer) override {
    int can = 0;
    PINPOOL_CUDA_TRY(cudaDeviceCanAccessPeer(&can, device, peer));
    if (can == 0) return false;
    device_guard guard(device);
    const cudaError_t status = cudaDeviceEnablePeerAccess(peer, 0);
    if (status == cudaErrorPeerAccessAlreadyEnabled) {
      clear_if_last(status);
      return true;
    }
    PINPOOL_CUDA_TRY(status);
    return true;
  }

  bool is_capturing(stream_ref s) override {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    PINPOOL_CUDA_TRY(cudaStreamIsCapturing(as_cuda(s), &status));
    return status != cudaStreamCaptureStatusNone;
  }

  std::uint64_t capture_id(stream_ref s) override {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    unsigned long long id = 0;
    PINPOOL_CUDA_TRY(cudaStreamGetCaptureInfo(as_cuda(s), &status, &id));
    return status == cudaStreamCaptureStatusActive ? id : 0;
  }

  /// The thread's capture mode relaxed for the call, restored even when it throws.
  slab allocate_during_capture(const slab_request& r) override {
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    PINPOOL_CUDA_TRY(cudaThreadExchangeStreamCaptureMode(&mode));
    struct restore {
      cudaStreamCaptureMode& mode;
      ~restore() { PINPOOL_CUDA_TRY_NOTHROW(cudaThreadExchangeStreamCaptureMode(&mode)); }
    } guard{mode};
    return allocate(r);
  }

  void* create_event(int device) override {
    check_device(device);
    device_guard guard(device);
    cudaEvent_t e = nullptr;
    PINPOOL_CUDA_TRY(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }

  void destroy_event(void* event, int /*device*/) noexcept override {
    PINPOOL_CUDA_TRY_NOTHROW(cudaEventDestroy(as_event(event)));
  }

  /// @throws std::invalid_argument when `s` is not a stream of `device` (the event's device).
  /// @note One runtime call on a stream with its own identity: a record needs its event and
  /// stream on one device, not that device current (stream_device_guard).
  void record_event(void* event, int device, stream_ref s) override {
    check_device(device);
    if (s.device() != device) {
      throw std::invalid_argument("pinpool: cuda backend: event of device " +
                                  std::to_string(device) + " recorded on a stream of device " +
                                  std::to_string(s.device()));
    }
    stream_device_guard guard(s);
    PINPOOL_CUDA_TRY(cudaEventRecord(as_event(event), as_cuda(s)));
  }

  /// @note Does not block. One runtime call. A not-ready answer is not recorded as the thread's
  /// last error (CUDA 13, checked on an H100 by tests/test_runtime_conformance.cpp), so the
  /// query leaves an application's unchecked error alone and needs no clearing after it.
  bool event_done(void* event, int /*device*/) override {
    return query_answer(cudaEventQuery(as_event(event)), "cudaEventQuery(event)");
  }

  /// @note Does not block. One runtime call, as event_done.
  bool stream_idle(stream_ref s) override {
    return query_answer(cudaStreamQuery(as_cuda(s)), "cudaStreamQuery(stream)");
  }

  /// @note Device-side wait (cross-device allowed); does not block the host. No device switch
  /// except for the special handles (stream_device_guard).
  void stream_wait_event(stream_ref s, void* event, int /*device*/) override {
    stream_device_guard guard(s);
    PINPOOL_CUDA_TRY(cudaStreamWaitEvent(as_cuda(s), as_event(event), 0));
  }

  /// @note Blocks the calling thread until the event's recorded work has run.
  /// At process exit (cudaErrorCudartUnloading) there is nothing left to wait for: returns.
  void synchronize_event(void* event, int /*device*/) override {
    const cudaError_t status = cudaEventSynchronize(as_event(event));
    if (status == cudaErrorCudartUnloading) return;
    if (status != cudaSuccess)
      throw_cuda_error(status, "cudaEventSynchronize(event)", __FILE__, __LINE__);
  }

 private:
  /// Anonymous memory touched on a few threads, then cudaHostRegister; on failure (the driver
  /// refuses, or RLIMIT_MEMLOCK under some drivers) cudaHostAlloc, reported once per backend.
  /// @pre `r.device` is current.
  slab allocate_pinned(const slab_request& r) {
    slab s{nullptr, r.bytes, r.kind, r.device, true, -1, true};
    const host_slab h = make_host_slab({r.bytes, r.numa_node, r.touch_threads, true, false});
    const cudaError_t status = cudaHostRegister(h.ptr, r.bytes, cudaHostRegisterPortable);
    if (status == cudaSuccess) {
      s.ptr = h.ptr;
      s.numa_node = h.numa_node;
      return s;
    }
    clear_if_last(status);
    free_host_slab(h.ptr, h.bytes);
    if (!register_failed_.exchange(true)) {
      ::pinpool::detail::log_message(
          "pinpool: cuda backend: cudaHostRegister failed (%s: %s); pinned slabs come from "
          "cudaHostAlloc",
          cudaGetErrorName(status), cudaGetErrorString(status));
    }
    s.registered = false;
    PINPOOL_CUDA_TRY_ALLOCATION(cudaHostAlloc(&s.ptr, r.bytes, cudaHostAllocPortable), r.kind,
                                r.device, r.bytes);
    s.numa_node = numa_node_of(s.ptr, r.bytes);
    return s;
  }

  /// A query's answer: done, not ready (no failure, and not the thread's last error), or a
  /// failure, which throws.
  static bool query_answer(cudaError_t status, const char* call) {
    if (status == cudaSuccess) return true;
    if (status != cudaErrorNotReady) throw_cuda_error(status, call, __FILE__, __LINE__);
    return false;
  }

  void check_device(int device) const {
    if (device < 0 || device >= device_count_) {
      throw std::invalid_argument("pinpool: cuda backend: device " + std::to_string(device) +
                                  " out of range (" + std::to_string(device_count_) + " devices)");
    }
  }

  const int device_count_;
  std::shared_ptr<failure_log> failures_ = std::make_shared<failure_log>();
  std::atomic<int> streams_created_{0};       // numbers the NVTX stream names
  std::atomic<bool> register_failed_{false};  // the fallback to cudaHostAlloc was reported
};

}  // namespace

std::shared_ptr<backend> make_cuda_backend() {
  int count = 0;
  PINPOOL_CUDA_TRY(cudaGetDeviceCount(&count));
  if (count <= 0) throw cuda_error("pinpool: cuda backend: the runtime reports no device");
  return std::make_shared<cuda_backend>(count);
}

std::string cuda_unusable_reason() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    clear_if_last(status);
    return std::string("cudaGetDeviceCount: ") + cudaGetErrorName(status) + ": " +
           cudaGetErrorString(status);
  }
  return count > 0 ? std::string() : std::string("cudaGetDeviceCount: no device reported");
}

}  // namespace pinpool::detail
