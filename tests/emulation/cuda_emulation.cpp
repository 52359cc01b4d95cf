// CPU emulation of the CUDA runtime entry points the CUDA backend calls (see cuda_emulation.hpp).
//
// This file defines the plain names and, explicitly, the _ptsz names; so it is always compiled
// without the per-thread-default-stream renaming, whatever the build flags say.
#undef CUDA_API_PER_THREAD_DEFAULT_STREAM

#include "cuda_emulation.hpp"

#include <cuda_runtime_api.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace {

using lock_guard = std::lock_guard<std::mutex>;
using unique_lock = std::unique_lock<std::mutex>;

constexpr std::size_t alignment = 256;
constexpr std::uintptr_t first_handle = 0x1000;  // event handles: never reused; streams: LIFO
constexpr std::uintptr_t handle_step = 0x10;

std::size_t round_up(std::size_t bytes) {
  return (bytes + alignment - 1) / alignment * alignment;
}
std::uintptr_t address(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}

std::string hex(std::uintptr_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%jx", static_cast<std::uintmax_t>(value));
  return text;
}

// ---- model ------------------------------------------------------------------------------------

/// One cudaEventRecord: completed when its stream reaches it.
struct marker {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;

  void complete() {
    {
      lock_guard lock(mutex);
      done = true;
    }
    cv.notify_all();
  }
  bool is_done() {
    lock_guard lock(mutex);
    return done;
  }
  void wait() {
    unique_lock lock(mutex);
    cv.wait(lock, [&] { return done; });
  }
};

struct emu_event {
  explicit emu_event(int d) : device(d) {}
  const int device;
  std::mutex mutex;
  std::shared_ptr<marker> latest;  // the last record; null: never recorded (counts as done)

  std::shared_ptr<marker> current() {
    lock_guard lock(mutex);
    return latest;
  }
};

/// A cudaMalloc/cudaHostAlloc block. `pending` and `freed` are guarded by the state's mutex.
struct allocation {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  int device = 0;
  bool pinned = false;
  int pending = 0;     // queued copies that touch it
  bool freed = false;  // freed while copies were pending: released by the last of them
};

struct task {
  enum class kind { copy, host_func, signal, wait } what = kind::copy;
  void* dst = nullptr;
  const void* src = nullptr;
  std::size_t bytes = 0;
  std::shared_ptr<allocation> uses[2];  // tracked allocations a copy touches
  cudaHostFn_t fn = nullptr;
  void* user_data = nullptr;
  std::shared_ptr<marker> mark;  // signal: completes it; wait: waits for it
};

void execute(task& t);

/// An in-order queue run by one worker thread.
class emu_stream {
 public:
  explicit emu_stream(int device) : device_(device), id_(next_id()), worker_([this] { run(); }) {}
  /// Runs the queued work to the end, then joins the worker.
  ~emu_stream() {
    {
      lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_one();
    worker_.join();
  }
  emu_stream(const emu_stream&) = delete;
  emu_stream& operator=(const emu_stream&) = delete;

  int device() const { return device_; }
  /// cudaStreamGetId: unique for the process's lifetime, whatever handle value names it.
  unsigned long long id() const { return id_; }

  void push(task t) {
    {
      lock_guard lock(mutex_);
      queue_.push_back(std::move(t));
      ++enqueued_;
    }
    work_cv_.notify_one();
  }

  /// Blocks until everything enqueued before the call has run.
  void synchronize() {
    unique_lock lock(mutex_);
    const std::uint64_t target = enqueued_;
    idle_cv_.wait(lock, [&] { return finished_ >= target; });
  }

 private:
  void run() {
    unique_lock lock(mutex_);
    for (;;) {
      work_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping and drained
      task t = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      execute(t);
      lock.lock();
      ++finished_;
      idle_cv_.notify_all();
    }
  }

  static unsigned long long next_id() {
    static std::atomic<unsigned long long> last{0};
    return ++last;
  }

  const int device_;
  const unsigned long long id_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<task> queue_;
  std::uint64_t enqueued_ = 0;
  std::uint64_t finished_ = 0;
  bool stopping_ = false;
  std::thread worker_;  // last: starts once the rest is built
};

/// Process-wide state. Lock order: `mutex`, then `violations_mutex` (or a stream's/event's).
struct state {
  std::mutex mutex;
  int device_count = pinpool_emu::default_device_count();
  std::map<std::uintptr_t, std::shared_ptr<allocation>> allocations;  // by address
  std::map<std::uintptr_t, std::shared_ptr<emu_stream>> streams;      // by handle, implicit too
  std::map<std::uintptr_t, std::shared_ptr<emu_event>> events;        // by handle
  // Destroyed streams still running their queued work (cudaStreamDestroy does not wait), and
  // their handle values, which the next cudaStreamCreateWithFlags reuses (last freed first), as
  // the driver may: "same handle" never means "same stream".
  std::vector<std::shared_ptr<emu_stream>> retired_streams;
  std::vector<std::uintptr_t> free_stream_handles;
  std::uintptr_t next_handle = first_handle;
  pinpool_emu::counters counters;
  unsigned fail_countdown = 0;         // cudaMalloc / cudaHostAlloc
  unsigned fail_event_countdown = 0;   // cudaEventCreateWithFlags / cudaEventRecord
  unsigned fail_stream_countdown = 0;  // cudaStreamCreateWithFlags
  std::atomic<bool> sticky{false};

  std::mutex violations_mutex;
  std::vector<std::string> violations;

  std::uintptr_t new_handle() { return next_handle += handle_step; }
  /// "a destroyed stream 0x1010" or "an unknown stream 0x..." for a handle not in a registry.
  std::string missing(const char* what, std::uintptr_t h) {
    lock_guard lock(mutex);
    const bool ours = h > first_handle && h <= next_handle && h % handle_step == 0;
    return std::string(ours ? "a destroyed " : "an unknown ") + what + " " + hex(h);
  }
};

state& g() {
  static state* s = new state;  // never destroyed: worker threads may outlive static teardown
  return *s;
}

thread_local int t_device = 0;
thread_local cudaError_t t_last_error = cudaSuccess;
thread_local bool t_in_callback = false;

/// The calling thread's implicit streams (null/legacy/per-thread handles), one per device.
struct implicit_streams {
  std::map<int, std::uintptr_t> by_device;
  ~implicit_streams() { destroy_all(); }
  void destroy_all() {
    for (const auto& entry : by_device) {
      std::shared_ptr<emu_stream> s;
      {
        lock_guard lock(g().mutex);
        auto it = g().streams.find(entry.second);
        if (it == g().streams.end()) continue;
        s = std::move(it->second);
        g().streams.erase(it);
      }
    }  // each `s` joins its worker here, outside the lock
    by_device.clear();
  }
};
thread_local implicit_streams t_implicit;

void violation(const std::string& what) {
  state& st = g();
  lock_guard lock(st.violations_mutex);
  st.violations.push_back(what);
  std::fprintf(stderr, "pinpool-emu: rule violation: %s\n", what.c_str());
}

cudaError_t fail(cudaError_t e) {
  t_last_error = e;
  return e;
}

/// Every entry point starts here: the callback rule, the sticky error, the no-device machine.
cudaError_t enter(const char* call, bool needs_device = true) {
  if (t_in_callback) {
    violation(std::string(call) + " called from inside a cudaLaunchHostFunc callback");
    return fail(cudaErrorNotPermitted);
  }
  if (g().sticky) return fail(cudaErrorIllegalAddress);
  if (needs_device) {
    lock_guard lock(g().mutex);
    if (g().device_count == 0) return fail(cudaErrorNoDevice);
  }
  return cudaSuccess;
}

/// Completes a copy: drops its uses, releasing memory whose free was deferred.
void finish_copy(task& t) {
  state& st = g();
  lock_guard lock(st.mutex);
  for (auto& a : t.uses) {
    if (!a || --a->pending > 0 || !a->freed) continue;
    std::free(a->ptr);
    auto it = st.allocations.find(address(a->ptr));
    if (it != st.allocations.end() && it->second == a) st.allocations.erase(it);
  }
}

void execute(task& t) {
  switch (t.what) {
    case task::kind::copy:
      if (t.bytes != 0) std::memmove(t.dst, t.src, t.bytes);
      finish_copy(t);
      break;
    case task::kind::host_func:
      t_in_callback = true;
      t.fn(t.user_data);
      t_in_callback = false;
      break;
    case task::kind::signal:
      t.mark->complete();
      break;
    case task::kind::wait:
      t.mark->wait();
      break;
  }
}

// ---- lookups ----------------------------------------------------------------------------------

/// The stream a handle names; the special handles name the calling thread's implicit stream on
/// the current device (created on first use). Null (after a violation) for a bad handle.
std::shared_ptr<emu_stream> find_stream(cudaStream_t s, const char* call) {
  state& st = g();
  const std::uintptr_t h = address(s);
  if (h <= address(cudaStreamPerThread)) {
    lock_guard lock(st.mutex);
    std::uintptr_t& mine = t_implicit.by_device[t_device];
    if (mine == 0) {
      mine = st.new_handle();
      st.streams[mine] = std::make_shared<emu_stream>(t_device);
    }
    return st.streams[mine];
  }
  {
    lock_guard lock(st.mutex);
    auto it = st.streams.find(h);
    if (it != st.streams.end()) return it->second;
  }
  violation(std::string(call) + ": use of " + st.missing("stream", h));
  return nullptr;
}

std::shared_ptr<emu_event> find_event(cudaEvent_t e, const char* call) {
  state& st = g();
  {
    lock_guard lock(st.mutex);
    auto it = st.events.find(address(e));
    if (it != st.events.end()) return it->second;
  }
  violation(std::string(call) + ": use of " + st.missing("event", address(e)));
  return nullptr;
}

/// The allocation `[p, p + bytes)` lies in, counted as used by one more queued copy; null for
/// untracked memory. Caller holds the state's mutex.
std::shared_ptr<allocation> use_locked(const void* p, std::size_t bytes, const char* role) {
  state& st = g();
  auto it = st.allocations.upper_bound(address(p));
  if (it == st.allocations.begin()) return nullptr;
  --it;
  allocation& a = *it->second;
  if (address(p) >= it->first + a.bytes) return nullptr;
  if (a.freed)
    violation(std::string("cudaMemcpyAsync: ") + role + " " + hex(address(p)) +
              " is in freed memory");
  if (address(p) + bytes > it->first + a.bytes) {
    violation(std::string("cudaMemcpyAsync: ") + role + " " + hex(address(p)) + " + " +
              std::to_string(bytes) + " bytes runs past the end of a " + std::to_string(a.bytes) +
              "-byte allocation at " + hex(it->first));
  }
  ++a.pending;
  return it->second;
}

// ---- implementations (shared by the plain and _ptsz entry points) ----------------------------

// Fault injection: true when this call is the injected failure (under the state's mutex).
bool counts_down(unsigned& countdown) {
  return countdown != 0 && --countdown == 0;
}

cudaError_t allocate(void** ptr, std::size_t bytes, bool pinned, const char* call) {
  if (cudaError_t e = enter(call)) return e;
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  state& st = g();
  lock_guard lock(st.mutex);
  ++(pinned ? st.counters.host_alloc_calls : st.counters.malloc_calls);
  if (st.fail_countdown != 0 && --st.fail_countdown == 0) return fail(cudaErrorMemoryAllocation);
  if (bytes == 0) return cudaSuccess;
  void* p = std::aligned_alloc(alignment, round_up(bytes));
  if (p == nullptr) return fail(cudaErrorMemoryAllocation);
  st.allocations[address(p)] = std::make_shared<allocation>(allocation{p, bytes, t_device, pinned});
  *ptr = p;
  return cudaSuccess;
}

cudaError_t release(void* ptr, bool pinned, const char* call) {
  const cudaError_t e = enter(call);
  if (e == cudaErrorNotPermitted) return e;  // sticky: still release, return the error
  state& st = g();
  lock_guard lock(st.mutex);
  ++(pinned ? st.counters.free_host_calls : st.counters.free_calls);
  if (ptr == nullptr) return e;
  auto it = st.allocations.find(address(ptr));
  if (it == st.allocations.end() || it->second->freed) {
    violation(std::string(call) + ": " + hex(address(ptr)) +
              " was not allocated by cudaMalloc/cudaHostAlloc, or was already freed");
    return fail(cudaErrorInvalidValue);
  }
  allocation& a = *it->second;
  if (a.pinned != pinned) {
    violation(std::string(call) + ": " + hex(address(ptr)) + " was allocated by " +
              (a.pinned ? "cudaHostAlloc" : "cudaMalloc") + " (not freed)");
    return fail(cudaErrorInvalidValue);
  }
  if (a.pending > 0) {
    violation(std::string(call) + ": " + hex(address(ptr)) + " freed while " +
              std::to_string(a.pending) + " queued cudaMemcpyAsync still use it");
    a.freed = true;  // the last of those copies frees it
  } else {
    std::free(a.ptr);
    st.allocations.erase(it);
  }
  return e;
}

cudaError_t memcpy_async(void* dst, const void* src, std::size_t bytes, cudaStream_t s) {
  if (cudaError_t e = enter("cudaMemcpyAsync")) return e;
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaMemcpyAsync");
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  task t;
  t.what = task::kind::copy;
  t.dst = dst;
  t.src = src;
  t.bytes = bytes;
  {
    lock_guard lock(g().mutex);
    t.uses[0] = use_locked(dst, bytes, "destination");
    t.uses[1] = use_locked(src, bytes, "source");
  }
  stream->push(std::move(t));
  return cudaSuccess;
}

cudaError_t launch_host_func(cudaStream_t s, cudaHostFn_t fn, void* user_data) {
  if (cudaError_t e = enter("cudaLaunchHostFunc")) return e;
  if (fn == nullptr) return fail(cudaErrorInvalidValue);
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaLaunchHostFunc");
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  task t;
  t.what = task::kind::host_func;
  t.fn = fn;
  t.user_data = user_data;
  stream->push(std::move(t));
  return cudaSuccess;
}

cudaError_t stream_synchronize(cudaStream_t s) {
  if (cudaError_t e = enter("cudaStreamSynchronize")) return e;
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamSynchronize");
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  stream->synchronize();
  return cudaSuccess;
}

cudaError_t stream_get_id(cudaStream_t s, unsigned long long* id) {
  if (cudaError_t e = enter("cudaStreamGetId")) return e;
  if (id == nullptr) return fail(cudaErrorInvalidValue);
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamGetId");
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  *id = stream->id();
  return cudaSuccess;
}

cudaError_t stream_get_device(cudaStream_t s, int* device) {
  if (cudaError_t e = enter("cudaStreamGetDevice")) return e;
  if (device == nullptr) return fail(cudaErrorInvalidValue);
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamGetDevice");
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  *device = stream->device();
  return cudaSuccess;
}

cudaError_t event_record(cudaEvent_t e, cudaStream_t s) {
  if (cudaError_t err = enter("cudaEventRecord")) return err;
  {
    lock_guard lock(g().mutex);
    if (counts_down(g().fail_event_countdown)) return fail(cudaErrorLaunchOutOfResources);
  }
  std::shared_ptr<emu_event> event = find_event(e, "cudaEventRecord");
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaEventRecord");
  if (!event || !stream) return fail(cudaErrorInvalidResourceHandle);
  if (event->device != stream->device()) {
    violation("cudaEventRecord: event " + hex(address(e)) + " of device " +
              std::to_string(event->device) + " recorded on a stream of device " +
              std::to_string(stream->device()));
    return fail(cudaErrorInvalidResourceHandle);
  }
  task t;
  t.what = task::kind::signal;
  t.mark = std::make_shared<marker>();
  {
    lock_guard lock(event->mutex);
    event->latest = t.mark;
  }
  stream->push(std::move(t));
  return cudaSuccess;
}

cudaError_t stream_wait_event(cudaStream_t s, cudaEvent_t e, unsigned int /*flags*/) {
  if (cudaError_t err = enter("cudaStreamWaitEvent")) return err;
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamWaitEvent");
  std::shared_ptr<emu_event> event = find_event(e, "cudaStreamWaitEvent");
  if (!event || !stream) return fail(cudaErrorInvalidResourceHandle);
  task t;
  t.what = task::kind::wait;
  t.mark = event->current();  // the record as of now: later re-records do not affect the wait
  if (t.mark) stream->push(std::move(t));
  return cudaSuccess;
}

struct error_text {
  cudaError_t code;
  const char* name;
  const char* text;
};
constexpr error_text error_texts[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorCudartUnloading, "cudaErrorCudartUnloading", "driver shutting down"},
    {cudaErrorInsufficientDriver, "cudaErrorInsufficientDriver",
     "CUDA driver version is insufficient for CUDA runtime version"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress",
     "an illegal memory access was encountered"},
    {cudaErrorNotPermitted, "cudaErrorNotPermitted", "operation not permitted"},
    {cudaErrorLaunchOutOfResources, "cudaErrorLaunchOutOfResources",
     "too many resources requested for launch"},
};

const error_text* find_error_text(cudaError_t code) {
  for (const error_text& t : error_texts) {
    if (t.code == code) return &t;
  }
  return nullptr;
}

}  // namespace

// ---- the runtime's entry points ---------------------------------------------------------------

extern "C" {

const char* CUDARTAPI cudaGetErrorName(cudaError_t error) {
  const error_text* t = find_error_text(error);
  return t != nullptr ? t->name : "unrecognized error code";
}

const char* CUDARTAPI cudaGetErrorString(cudaError_t error) {
  const error_text* t = find_error_text(error);
  return t != nullptr ? t->text : "unrecognized error code";
}

cudaError_t CUDARTAPI cudaGetLastError(void) {
  if (cudaError_t e = enter("cudaGetLastError", false)) return e;
  return std::exchange(t_last_error, cudaSuccess);
}

cudaError_t CUDARTAPI cudaPeekAtLastError(void) {
  if (cudaError_t e = enter("cudaPeekAtLastError", false)) return e;
  return t_last_error;
}

cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) {
  if (cudaError_t e = enter("cudaGetDeviceCount", false)) return e;
  if (count == nullptr) return fail(cudaErrorInvalidValue);
  lock_guard lock(g().mutex);
  *count = g().device_count;
  return *count > 0 ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t CUDARTAPI cudaGetDevice(int* device) {
  if (cudaError_t e = enter("cudaGetDevice")) return e;
  if (device == nullptr) return fail(cudaErrorInvalidValue);
  *device = t_device;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaSetDevice(int device) {
  if (cudaError_t e = enter("cudaSetDevice")) return e;
  lock_guard lock(g().mutex);
  if (device < 0 || device >= g().device_count) return fail(cudaErrorInvalidDevice);
  t_device = device;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaDeviceSynchronize(void) {
  if (cudaError_t e = enter("cudaDeviceSynchronize")) return e;
  std::vector<std::shared_ptr<emu_stream>> streams;
  {
    lock_guard lock(g().mutex);
    for (const auto& entry : g().streams) {
      if (entry.second->device() == t_device) streams.push_back(entry.second);
    }
  }
  for (const auto& s : streams) s->synchronize();
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaMalloc(void** ptr, size_t size) {
  return allocate(ptr, size, false, "cudaMalloc");
}
cudaError_t CUDARTAPI cudaHostAlloc(void** ptr, size_t size, unsigned int /*flags*/) {
  return allocate(ptr, size, true, "cudaHostAlloc");
}
cudaError_t CUDARTAPI cudaFree(void* ptr) {
  return release(ptr, false, "cudaFree");
}
cudaError_t CUDARTAPI cudaFreeHost(void* ptr) {
  return release(ptr, true, "cudaFreeHost");
}

cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int /*flags*/) {
  if (cudaError_t e = enter("cudaStreamCreateWithFlags")) return e;
  if (stream == nullptr) return fail(cudaErrorInvalidValue);
  lock_guard lock(g().mutex);
  ++g().counters.stream_create_calls;
  if (counts_down(g().fail_stream_countdown)) return fail(cudaErrorLaunchOutOfResources);
  std::uintptr_t h = 0;
  if (g().free_stream_handles.empty()) {
    h = g().new_handle();
  } else {
    h = g().free_stream_handles.back();
    g().free_stream_handles.pop_back();
  }
  g().streams[h] = std::make_shared<emu_stream>(t_device);
  *stream = reinterpret_cast<cudaStream_t>(h);
  return cudaSuccess;
}

/// Returns at once, as the runtime does: the stream's queued work still runs, and its handle
/// value may name the next stream created.
cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t stream) {
  const cudaError_t e = enter("cudaStreamDestroy");
  if (e == cudaErrorNotPermitted) return e;
  state& st = g();
  std::shared_ptr<emu_stream> doomed;
  {
    lock_guard lock(st.mutex);
    auto it = st.streams.find(address(stream));
    if (address(stream) > address(cudaStreamPerThread) && it != st.streams.end()) {
      doomed = std::move(it->second);
      st.streams.erase(it);
      st.retired_streams.push_back(doomed);  // joined by reset()
      st.free_stream_handles.push_back(address(stream));
    }
  }
  if (!doomed) {
    violation("cudaStreamDestroy: destroying " + st.missing("stream", address(stream)));
    return fail(cudaErrorInvalidResourceHandle);
  }
  return e;
}

cudaError_t CUDARTAPI cudaStreamSynchronize(cudaStream_t stream) {
  return stream_synchronize(stream);
}
cudaError_t CUDARTAPI cudaStreamGetDevice(cudaStream_t stream, int* device) {
  return stream_get_device(stream, device);
}
cudaError_t CUDARTAPI cudaStreamGetId(cudaStream_t stream, unsigned long long* id) {
  return stream_get_id(stream, id);
}
cudaError_t CUDARTAPI cudaMemcpyAsync(void* dst, const void* src, size_t count,
                                      enum cudaMemcpyKind /*kind*/, cudaStream_t stream) {
  return memcpy_async(dst, src, count, stream);
}
cudaError_t CUDARTAPI cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* user_data) {
  return launch_host_func(stream, fn, user_data);
}

cudaError_t CUDARTAPI cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int /*flags*/) {
  if (cudaError_t e = enter("cudaEventCreateWithFlags")) return e;
  if (event == nullptr) return fail(cudaErrorInvalidValue);
  lock_guard lock(g().mutex);
  ++g().counters.event_create_calls;
  if (counts_down(g().fail_event_countdown)) return fail(cudaErrorLaunchOutOfResources);
  const std::uintptr_t h = g().new_handle();
  g().events[h] = std::make_shared<emu_event>(t_device);
  *event = reinterpret_cast<cudaEvent_t>(h);
  return cudaSuccess;
}

/// Pending records of the event still complete (they hold the event's markers).
cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t event) {
  const cudaError_t e = enter("cudaEventDestroy");
  if (e == cudaErrorNotPermitted) return e;
  state& st = g();
  {
    lock_guard lock(st.mutex);
    if (st.events.erase(address(event)) == 1) return e;
  }
  violation("cudaEventDestroy: destroying " + st.missing("event", address(event)));
  return fail(cudaErrorInvalidResourceHandle);
}

cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  return event_record(event, stream);
}

cudaError_t CUDARTAPI cudaEventQuery(cudaEvent_t event) {
  if (cudaError_t e = enter("cudaEventQuery")) return e;
  std::shared_ptr<emu_event> ev = find_event(event, "cudaEventQuery");
  if (!ev) return fail(cudaErrorInvalidResourceHandle);
  std::shared_ptr<marker> m = ev->current();
  // As the runtime: not ready becomes the thread's last error too (PyTorch clears it after
  // queries for this reason).
  return !m || m->is_done() ? cudaSuccess : fail(cudaErrorNotReady);
}

cudaError_t CUDARTAPI cudaEventSynchronize(cudaEvent_t event) {
  if (cudaError_t e = enter("cudaEventSynchronize")) return e;
  std::shared_ptr<emu_event> ev = find_event(event, "cudaEventSynchronize");
  if (!ev) return fail(cudaErrorInvalidResourceHandle);
  if (std::shared_ptr<marker> m = ev->current()) m->wait();
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event,
                                          unsigned int flags) {
  return stream_wait_event(stream, event, flags);
}

// The names a -DCUDA_API_PER_THREAD_DEFAULT_STREAM build references (__CUDART_API_PTSZ).
// The emulation's null/legacy stream is per-thread already, so they behave as the plain ones.
cudaError_t CUDARTAPI cudaStreamSynchronize_ptsz(cudaStream_t stream) {
  return stream_synchronize(stream);
}
cudaError_t CUDARTAPI cudaStreamGetId_ptsz(cudaStream_t stream, unsigned long long* id) {
  return stream_get_id(stream, id);
}
cudaError_t CUDARTAPI cudaStreamGetDevice_ptsz(cudaStream_t stream, int* device) {
  return stream_get_device(stream, device);
}
cudaError_t CUDARTAPI cudaMemcpyAsync_ptsz(void* dst, const void* src, size_t count,
                                           enum cudaMemcpyKind /*kind*/, cudaStream_t stream) {
  return memcpy_async(dst, src, count, stream);
}
cudaError_t CUDARTAPI cudaLaunchHostFunc_ptsz(cudaStream_t stream, cudaHostFn_t fn,
                                              void* user_data) {
  return launch_host_func(stream, fn, user_data);
}
cudaError_t CUDARTAPI cudaEventRecord_ptsz(cudaEvent_t event, cudaStream_t stream) {
  return event_record(event, stream);
}
cudaError_t CUDARTAPI cudaStreamWaitEvent_ptsz(cudaStream_t stream, cudaEvent_t event,
                                               unsigned int flags) {
  return stream_wait_event(stream, event, flags);
}

}  // extern "C"

// ---- control API ------------------------------------------------------------------------------

namespace pinpool_emu {

int default_device_count() {
  const char* text = std::getenv("PINPOOL_EMU_DEVICES");
  if (text == nullptr || *text == '\0') return 2;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  return *end == '\0' && n >= 0 && n <= 64 ? static_cast<int>(n) : 2;
}

void reset(int device_count) {
  if (device_count < 0) throw std::invalid_argument("pinpool_emu::reset: negative device count");
  t_implicit.destroy_all();
  state& st = g();
  std::vector<std::shared_ptr<emu_stream>> retired;
  {
    lock_guard lock(st.mutex);
    retired.swap(st.retired_streams);
  }
  retired.clear();  // joins their workers (outside the lock: their copies take it)
  lock_guard lock(st.mutex);
  if (!st.streams.empty()) {
    throw std::logic_error("pinpool_emu::reset: " + std::to_string(st.streams.size()) +
                           " streams still alive");
  }
  st.device_count = device_count;
  // A new machine: memory a previous test deliberately leaked (a pool quarantines chunks after
  // a runtime failure) is reclaimed, so leak checks start from zero.
  for (auto& entry : st.allocations) {
    if (!entry.second->freed && entry.second->pending == 0) std::free(entry.second->ptr);
  }
  st.allocations.clear();
  st.counters = {};
  st.fail_countdown = 0;
  st.fail_event_countdown = 0;
  st.fail_stream_countdown = 0;
  st.sticky = false;
  {
    lock_guard violations_lock(st.violations_mutex);
    st.violations.clear();
  }
  t_device = 0;
  t_last_error = cudaSuccess;
}

std::vector<std::string> violations() {
  lock_guard lock(g().violations_mutex);
  return g().violations;
}

void clear_violations() {
  lock_guard lock(g().violations_mutex);
  g().violations.clear();
}

counters get_counters() {
  lock_guard lock(g().mutex);
  return g().counters;
}

std::size_t live_allocations() {
  lock_guard lock(g().mutex);
  std::size_t n = 0;
  for (const auto& entry : g().allocations) n += entry.second->freed ? 0 : 1;
  return n;
}

std::size_t live_streams() {
  lock_guard lock(g().mutex);
  return g().streams.size();
}

void fail_nth_allocation(unsigned n) {
  lock_guard lock(g().mutex);
  g().fail_countdown = n;
}

void fail_nth_event_call(unsigned n) {
  lock_guard lock(g().mutex);
  g().fail_event_countdown = n;
}

void fail_nth_stream_call(unsigned n) {
  lock_guard lock(g().mutex);
  g().fail_stream_countdown = n;
}

void set_sticky_error() {
  g().sticky = true;
}

}  // namespace pinpool_emu
