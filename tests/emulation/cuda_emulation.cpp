// CPU emulation of the CUDA runtime entry points the CUDA backend calls (see cuda_emulation.hpp).
//
// This file defines the plain names and, explicitly, the _ptsz names; so it is always compiled
// without the per-thread-default-stream renaming, whatever the build flags say. Device memory
// lives in device_memory.cpp, the chaos delays in chaos.cpp.
#undef CUDA_API_PER_THREAD_DEFAULT_STREAM

#include "cuda_emulation.hpp"
#include "emulation_internal.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace {

using lock_guard = std::lock_guard<std::mutex>;
using unique_lock = std::unique_lock<std::mutex>;
using steady_clock = std::chrono::steady_clock;
using pinpool_emu::internal::device_view;

constexpr std::uintptr_t first_handle = 0x1000;  // event handles: never reused; streams: LIFO
constexpr std::uintptr_t handle_step = 0x10;
constexpr int max_devices = 64;
constexpr std::chrono::milliseconds default_block_timeout{10000};

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

struct capture_sequence;
class emu_stream;

/// What a stream of a capture has submitted (`submitted` nodes) and, for each other stream of the
/// capture, how many of that stream's nodes its own later work depends on (a vector clock).
using capture_clock = std::map<const emu_stream*, std::size_t>;

struct emu_event {
  explicit emu_event(int d) : device(d) {}
  const int device;
  std::mutex mutex;
  std::shared_ptr<marker> latest;  // the last record; null: never recorded (counts as done)
  // When the last record was made in a capture: that capture, and what the record covers.
  std::shared_ptr<capture_sequence> captured_in;
  capture_clock clock;

  std::shared_ptr<marker> current() {
    lock_guard lock(mutex);
    return latest;
  }
};

/// A cudaMalloc/cudaHostAlloc block. `pending` and `freed` are guarded by the state's mutex.
/// Device blocks are a memfd view the host cannot touch (`ptr`) plus the copies' view (`shadow`).
struct allocation {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  int device = 0;
  bool pinned = false;
  bool registered = false;   // cudaHostRegister: the application's memory (never unmapped here)
  void* shadow = nullptr;    // device: the read/write view of the same memory
  std::size_t capacity = 0;  // bytes really backing it (copies past the end stop there)
  int pending = 0;           // queued copies that touch it
  bool freed = false;        // freed while copies were pending: released by the last of them

  /// Where the emulated copy engine reads or writes `p` (an address in this block).
  void* engine_view(const void* p) const {
    if (pinned) return const_cast<void*>(p);
    return static_cast<char*>(shadow) + (address(p) - address(ptr));
  }
  void release_memory() const {
    if (registered) return;
    if (pinned) {
      munmap(ptr, capacity);
    } else {
      pinpool_emu::internal::unmap_device_memory(device_view{ptr, shadow, capacity});
    }
  }
};

struct task {
  enum class kind { copy, host_func, signal, wait } what = kind::copy;
  bool implicit = false;  // the legacy stream's implicit synchronisation: never delayed by chaos
  void* dst = nullptr;
  const void* src = nullptr;
  std::size_t bytes = 0;
  std::shared_ptr<allocation> uses[2];  // tracked allocations a copy touches (dst, src)
  bool tracked[2] = {false, false};     // a captured copy: whether each end was runtime memory
  std::vector<unsigned char> staged;    // a pageable source, read when the copy was enqueued
  cudaHostFn_t fn = nullptr;
  void* user_data = nullptr;
  std::shared_ptr<marker> mark;  // signal: completes it; wait: waits for it
};

void execute(task& t, int device);

/// The legacy stream (one per device), a blocking stream (cudaStreamDefault, or a per-thread
/// default stream: both synchronise with the legacy stream) or a non-blocking one.
enum class flavor { legacy, blocking, non_blocking };

/// An in-order queue run by one worker thread.
class emu_stream {
 public:
  emu_stream(int device, flavor f)
      : device_(device), flavor_(f), id_(next_id()), chaos_(id_), worker_([this] { run(); }) {}
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
  flavor kind() const { return flavor_; }
  /// cudaStreamGetId: unique for the process's lifetime, whatever handle value names it.
  unsigned long long id() const { return id_; }
  /// Between joining a capture (cudaStreamBeginCapture, or waiting on an event recorded in one)
  /// and its cudaStreamEndCapture: set with `capture`, read without the lock.
  std::atomic<bool> capturing{false};
  /// The capture this stream's work goes to instead of its queue. Guarded by the state's mutex.
  std::shared_ptr<capture_sequence> capture;

  /// @return the task's ticket, for wait_until().
  std::uint64_t push(task t) {
    std::uint64_t ticket = 0;
    {
      lock_guard lock(mutex_);
      queue_.push_back(std::move(t));
      ticket = ++enqueued_;
    }
    work_cv_.notify_one();
    return ticket;
  }

  /// A marker completed once everything enqueued so far has run; null when that is already so.
  std::shared_ptr<marker> mark_if_busy() {
    auto m = std::make_shared<marker>();
    {
      lock_guard lock(mutex_);
      if (finished_ == enqueued_) return nullptr;
      task t;
      t.what = task::kind::signal;
      t.implicit = true;
      t.mark = m;
      queue_.push_back(std::move(t));
      ++enqueued_;
    }
    work_cv_.notify_one();
    return m;
  }

  /// Whether everything enqueued so far has run.
  bool idle() {
    unique_lock lock(mutex_);
    return finished_ >= enqueued_;
  }
  /// Blocks until everything enqueued before the call has run.
  void synchronize() {
    unique_lock lock(mutex_);
    const std::uint64_t target = enqueued_;
    idle_cv_.wait(lock, [&] { return finished_ >= target; });
  }
  /// Blocks until the task of `ticket` (0: everything enqueued so far) has run, or `deadline`.
  /// @return false on timeout.
  bool wait_until(std::uint64_t ticket, steady_clock::time_point deadline) {
    unique_lock lock(mutex_);
    const std::uint64_t target = ticket != 0 ? ticket : enqueued_;
    return idle_cv_.wait_until(lock, deadline, [&] { return finished_ >= target; });
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
      if (!t.implicit && t.what != task::kind::wait) chaos_.delay(t.what == task::kind::host_func);
      if (t.what == task::kind::signal) {
        // An event completes together with the stream reaching it (under the stream's lock):
        // once cudaEventSynchronize of the stream's last record returns, cudaStreamQuery says
        // cudaSuccess, as on a GPU (else the count could lag behind the event).
        lock.lock();
        t.mark->complete();
      } else {
        execute(t, device_);
        lock.lock();
      }
      ++finished_;
      idle_cv_.notify_all();
    }
  }

  static unsigned long long next_id() {
    static std::atomic<unsigned long long> last{0};
    return ++last;
  }

  const int device_;
  const flavor flavor_;
  const unsigned long long id_;
  pinpool_emu::internal::chaos_clock chaos_;  // the worker's only
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<task> queue_;
  std::uint64_t enqueued_ = 0;
  std::uint64_t finished_ = 0;
  bool stopping_ = false;
  std::thread worker_;  // last: starts once the rest is built
};

/// One stream capture, from cudaStreamBeginCapture on its origin stream to cudaStreamEndCapture:
/// the copies and host functions its streams submitted, in submission order (a valid order of
/// the graph: every dependency points backwards), and each member stream's clock, so that
/// EndCapture can tell work that was never joined back into the origin. Event records and waits
/// inside the capture become dependencies only. Guarded by the state's mutex.
struct capture_sequence {
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id thread;  // the thread that began it
  const emu_stream* origin = nullptr;
  std::vector<task> nodes;
  std::map<const emu_stream*, capture_clock> members;  // each member's clock (origin included)
  std::vector<std::shared_ptr<emu_stream>> streams;    // the members, kept alive
  std::string invalidated;                             // why, once invalidated
  bool ended = false;
  unsigned long long id = 0;  // cudaStreamGetCaptureInfo's id: unique per capture, never 0
};

/// A graph (cudaStreamEndCapture) or an executable graph (cudaGraphInstantiate): its nodes, run
/// in order on the launch stream by cudaGraphLaunch.
struct emu_graph {
  int device = 0;
  std::vector<task> nodes;
};

thread_local bool t_in_callback = false;

/// The runtime's callback thread of one device: host functions of all its streams run here, one
/// at a time, as CUDA may serialise them. The stream's worker waits for its host function, so
/// stream order holds. Never destroyed (like the state).
class callback_thread {
 public:
  callback_thread() : worker_([this] { run(); }) {}
  void call(cudaHostFn_t fn, void* user_data) {
    job j{fn, user_data, false};
    unique_lock lock(mutex_);
    jobs_.push_back(&j);
    work_cv_.notify_one();
    done_cv_.wait(lock, [&] { return j.done; });
  }

 private:
  struct job {
    cudaHostFn_t fn;
    void* user_data;
    bool done;
  };
  void run() {
    t_in_callback = true;
    unique_lock lock(mutex_);
    for (;;) {
      work_cv_.wait(lock, [&] { return !jobs_.empty(); });
      job* j = jobs_.front();
      jobs_.pop_front();
      lock.unlock();
      j->fn(j->user_data);
      lock.lock();
      j->done = true;
      done_cv_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<job*> jobs_;
  std::thread worker_;
};

/// Process-wide state. Lock order: `mutex`, then `violations_mutex` (or a stream's/event's).
struct state {
  state() {
    std::atexit([] { g_unloading().store(true); });  // calls during exit: cudaErrorCudartUnloading
  }
  static std::atomic<bool>& g_unloading() {
    static std::atomic<bool> flag{false};
    return flag;
  }

  std::mutex mutex;
  int device_count = pinpool_emu::default_device_count();
  std::map<std::uintptr_t, std::shared_ptr<allocation>> allocations;  // by address
  std::map<std::uintptr_t, std::shared_ptr<emu_stream>> streams;      // by handle, implicit too
  std::map<std::uintptr_t, std::shared_ptr<emu_event>> events;        // by handle
  std::map<int, std::uintptr_t> legacy_streams;                       // by device
  std::map<std::uintptr_t, std::shared_ptr<emu_graph>> graphs;        // by handle, executables too
  std::vector<std::shared_ptr<capture_sequence>> captures;            // under way
  std::map<int, std::unique_ptr<callback_thread>> callback_threads;   // by device, never freed
  // Destroyed streams still running their queued work (cudaStreamDestroy does not wait), and
  // their handle values, which the next cudaStreamCreateWithFlags reuses (last freed first), as
  // the driver may: "same handle" never means "same stream".
  std::vector<std::shared_ptr<emu_stream>> retired_streams;
  std::vector<std::uintptr_t> free_stream_handles;
  std::uintptr_t next_handle = first_handle;
  pinpool_emu::counters counters;
  unsigned fail_countdown = 0;           // cudaMalloc / cudaHostAlloc
  unsigned fail_register_countdown = 0;  // cudaHostRegister
  unsigned fail_event_countdown = 0;     // cudaEventCreateWithFlags / cudaEventRecord
  unsigned fail_stream_countdown = 0;    // cudaStreamCreateWithFlags
  std::array<std::atomic<bool>, max_devices> sticky{};  // per device context
  std::atomic<long long> block_timeout_ms{default_block_timeout.count()};
  std::atomic<bool> serialized_host_functions{false};  // on the device's callback thread
  std::set<std::pair<int, int>> peer_access;           // (device, peer) enabled
  bool peers_capable = true;                           // cudaDeviceCanAccessPeer's answer

  std::mutex calls_mutex;  // counters.calls (every entry point counts there)

  std::mutex violations_mutex;
  std::vector<std::string> violations;

  std::uintptr_t new_handle() { return next_handle += handle_step; }
  /// "a destroyed stream 0x1010" or "an unknown stream 0x..." for a handle not in a registry.
  std::string missing(const char* what, std::uintptr_t h) {
    lock_guard lock(mutex);
    const bool ours = h > first_handle && h <= next_handle && h % handle_step == 0;
    return std::string(ours ? "a destroyed " : "an unknown ") + what + " " + hex(h);
  }
  void sticky_clear() {
    for (auto& flag : sticky) flag = false;
  }
  bool faulted(int device) const {
    return device >= 0 && device < max_devices && sticky[static_cast<std::size_t>(device)].load();
  }
  steady_clock::time_point block_deadline() const {
    return steady_clock::now() + std::chrono::milliseconds(block_timeout_ms.load());
  }
};

state& g() {
  static state* s = new state;  // never destroyed: worker threads may outlive static teardown
  return *s;
}

thread_local int t_device = 0;
thread_local cudaError_t t_last_error = cudaSuccess;

/// The calling thread's per-thread default streams (cudaStreamPerThread), one per device.
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

void count_call(const char* call) {
  state& st = g();
  lock_guard lock(st.calls_mutex);
  auto it = st.counters.calls.find(call);
  if (it == st.counters.calls.end()) it = st.counters.calls.emplace(call, 0).first;
  ++it->second;
}

/// Every entry point starts here: the count, the callback rule, process exit, the current
/// device's sticky error, the no-device machine.
cudaError_t enter(const char* call, bool needs_device = true) {
  count_call(call);
  if (t_in_callback) {
    violation(std::string(call) + " called from inside a cudaLaunchHostFunc callback");
    return fail(cudaErrorNotPermitted);
  }
  if (state::g_unloading().load()) return fail(cudaErrorCudartUnloading);
  if (g().faulted(t_device)) return fail(cudaErrorIllegalAddress);
  if (needs_device) {
    lock_guard lock(g().mutex);
    if (g().device_count == 0) return fail(cudaErrorNoDevice);
  }
  return cudaSuccess;
}

/// Work for a stream of a faulted device fails too (its context has the sticky error).
cudaError_t check_context(const emu_stream& s) {
  return g().faulted(s.device()) ? fail(cudaErrorIllegalAddress) : cudaSuccess;
}

/// Completes a copy: drops its uses, releasing memory whose free was deferred.
void finish_copy(task& t) {
  state& st = g();
  lock_guard lock(st.mutex);
  for (auto& a : t.uses) {
    if (!a || --a->pending > 0 || !a->freed) continue;
    a->release_memory();
    auto it = st.allocations.find(address(a->ptr));
    if (it != st.allocations.end() && it->second == a) st.allocations.erase(it);
  }
}

callback_thread& callbacks_of(int device) {
  lock_guard lock(g().mutex);
  std::unique_ptr<callback_thread>& c = g().callback_threads[device];
  if (!c) c = std::make_unique<callback_thread>();
  return *c;
}

void execute(task& t, int device) {
  switch (t.what) {
    case task::kind::copy:
      if (t.bytes != 0) {
        void* dst = t.uses[0] ? t.uses[0]->engine_view(t.dst) : t.dst;
        const void* src = !t.staged.empty() ? t.staged.data()
                          : t.uses[1]       ? t.uses[1]->engine_view(t.src)
                                            : t.src;
        std::memmove(dst, src, t.bytes);
      }
      finish_copy(t);
      break;
    case task::kind::host_func:
      // CUDA does not call host functions once the context has an error (their data leaks).
      if (g().faulted(device)) break;
      if (g().serialized_host_functions) {
        callbacks_of(device).call(t.fn, t.user_data);
      } else {
        t_in_callback = true;
        t.fn(t.user_data);
        t_in_callback = false;
      }
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

/// Which stream the special handles name: the null handle is the legacy stream, or in a
/// per-thread-default-stream call (`ptsz`) the calling thread's per-thread stream.
bool names_per_thread_stream(std::uintptr_t h, bool ptsz) {
  return h == address(cudaStreamPerThread) || (h == 0 && ptsz);
}

/// The stream a handle names; the special handles name the device's legacy stream or the calling
/// thread's per-thread stream on the current device (created on first use). Null (after a
/// violation) for a bad handle.
std::shared_ptr<emu_stream> find_stream(cudaStream_t s, const char* call, bool ptsz = false) {
  state& st = g();
  const std::uintptr_t h = address(s);
  if (h <= address(cudaStreamPerThread)) {
    lock_guard lock(st.mutex);
    const bool per_thread = names_per_thread_stream(h, ptsz);
    std::uintptr_t& mine =
        per_thread ? t_implicit.by_device[t_device] : st.legacy_streams[t_device];
    if (mine == 0) {
      mine = st.new_handle();
      st.streams[mine] =
          std::make_shared<emu_stream>(t_device, per_thread ? flavor::blocking : flavor::legacy);
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

/// The allocation `p` lies in; null for untracked (pageable) memory. Caller holds the state's
/// mutex.
std::shared_ptr<allocation> allocation_at_locked(const void* p) {
  state& st = g();
  auto it = st.allocations.upper_bound(address(p));
  if (it == st.allocations.begin()) return nullptr;
  --it;
  return address(p) < it->first + it->second->bytes ? it->second : nullptr;
}

/// The allocation `[p, p + bytes)` lies in, counted as used by one more queued copy; null for
/// untracked memory. Caller holds the state's mutex.
std::shared_ptr<allocation> use_locked(const void* p, std::size_t bytes, const char* role) {
  std::shared_ptr<allocation> found = allocation_at_locked(p);
  if (!found) return nullptr;
  const allocation& a = *found;
  const std::uintptr_t start = address(a.ptr);
  if (a.freed)
    violation(std::string("cudaMemcpyAsync: ") + role + " " + hex(address(p)) +
              " is in freed memory");
  if (address(p) + bytes > start + a.bytes) {
    violation(std::string("cudaMemcpyAsync: ") + role + " " + hex(address(p)) + " + " +
              std::to_string(bytes) + " bytes runs past the end of a " + std::to_string(a.bytes) +
              "-byte allocation at " + hex(start));
  }
  ++found->pending;
  return found;
}

/// Takes the uses of copy `t` (its tracked ends) and clips it where the memory ends (reported
/// by use_locked). Caller holds the state's mutex.
void use_copy_ends_locked(task& t) {
  t.uses[0] = use_locked(t.dst, t.bytes, "destination");
  t.uses[1] = use_locked(t.src, t.bytes, "source");
  for (int i = 0; i < 2; ++i) {
    if (!t.uses[i]) continue;
    const std::size_t offset = address(i == 0 ? t.dst : t.src) - address(t.uses[i]->ptr);
    t.bytes = std::min(t.bytes, t.uses[i]->capacity - offset);
  }
}

/// The streams of `device` still running work (destroyed ones included). `flavors`: which.
std::vector<std::shared_ptr<emu_stream>> streams_of(int device, bool only_blocking) {
  state& st = g();
  lock_guard lock(st.mutex);
  std::vector<std::shared_ptr<emu_stream>> found;
  auto consider = [&](const std::shared_ptr<emu_stream>& s) {
    if (s->device() == device && (!only_blocking || s->kind() == flavor::blocking))
      found.push_back(s);
  };
  for (const auto& entry : st.streams) consider(entry.second);
  for (const auto& s : st.retired_streams) consider(s);
  return found;
}

/// Enqueues `t` on `s` behind the legacy stream's implicit synchronisation: work on the legacy
/// stream waits for all earlier work of the device's blocking streams, and work on a blocking
/// stream waits for the legacy stream's earlier work. Non-blocking streams take no part.
/// @return the task's ticket.
std::uint64_t enqueue(const std::shared_ptr<emu_stream>& s, task t) {
  std::vector<std::shared_ptr<emu_stream>> before;
  if (s->kind() == flavor::legacy) {
    before = streams_of(s->device(), true);
  } else if (s->kind() == flavor::blocking) {
    lock_guard lock(g().mutex);
    auto it = g().legacy_streams.find(s->device());
    if (it != g().legacy_streams.end()) before.push_back(g().streams.at(it->second));
  }
  for (const auto& other : before) {
    if (other == s) continue;
    if (std::shared_ptr<marker> m = other->mark_if_busy()) {
      task w;
      w.what = task::kind::wait;
      w.implicit = true;
      w.mark = std::move(m);
      s->push(std::move(w));
    }
  }
  return s->push(std::move(t));
}

/// Waits, as a blocking runtime call does, for `s` to run the task of `ticket` (0: everything);
/// after the blocking timeout reports the deadlock a GPU would hang in, and returns.
void block_on(emu_stream& s, std::uint64_t ticket, const std::string& why) {
  if (s.wait_until(ticket, g().block_deadline())) return;
  violation(why + ": blocked for " + std::to_string(g().block_timeout_ms.load()) +
            " ms waiting for a stream of device " + std::to_string(s.device()) +
            " (a deadlock on a GPU)");
}

/// cudaFree/cudaFreeHost synchronise the device first: all its streams' queued work runs.
void synchronize_device_for(int device, const char* call) {
  const auto deadline = g().block_deadline();
  for (const auto& s : streams_of(device, false)) {
    if (!s->wait_until(0, deadline)) {
      violation(std::string(call) + " synchronises device " + std::to_string(device) +
                ": blocked for " + std::to_string(g().block_timeout_ms.load()) +
                " ms waiting for its streams (a deadlock on a GPU)");
      return;
    }
  }
}

// ---- stream capture ---------------------------------------------------------------------------

/// The calling thread's capture interaction mode (cudaThreadExchangeStreamCaptureMode).
thread_local cudaStreamCaptureMode t_capture_mode = cudaStreamCaptureModeGlobal;

/// Marks `c` invalidated: its EndCapture fails. The first reason is kept. Caller holds the
/// state's mutex.
void invalidate_locked(capture_sequence& c, const char* why) {
  if (c.invalidated.empty()) c.invalidated = why;
}

/// A potentially unsafe call (cudaMalloc, cudaHostAlloc, cudaFree, cudaFreeHost,
/// cudaDeviceSynchronize, cudaStreamSynchronize, cudaStreamQuery, cudaEventQuery,
/// cudaEventSynchronize) while a capture forbids it fails with cudaErrorStreamCaptureUnsupported
/// and invalidates that capture. Whether one forbids it follows the calling thread's mode: global
/// (the default) is forbidden by the thread's own non-relaxed captures and by any thread's global
/// ones, thread-local by its own non-relaxed ones, relaxed by none.
cudaError_t refuse_if_capture_forbids(const char* call) {
  if (t_capture_mode == cudaStreamCaptureModeRelaxed) return cudaSuccess;
  const std::thread::id me = std::this_thread::get_id();
  bool forbidden = false;
  {
    lock_guard lock(g().mutex);
    for (const auto& c : g().captures) {
      const bool own = c->thread == me && c->mode != cudaStreamCaptureModeRelaxed;
      const bool global =
          t_capture_mode == cudaStreamCaptureModeGlobal && c->mode == cudaStreamCaptureModeGlobal;
      if (!own && !global) continue;
      invalidate_locked(*c, call);
      forbidden = true;
    }
  }
  if (!forbidden) return cudaSuccess;
  violation(std::string(call) + " while a stream capture forbids it (the capture is invalidated)");
  return fail(cudaErrorStreamCaptureUnsupported);
}

/// Appends `t` to the capture of `s` as `s`'s next node. Caller holds the state's mutex and has
/// checked that `s` is being captured.
void append_node_locked(emu_stream& s, task& t) {
  capture_sequence& c = *s.capture;
  ++c.members[&s][&s];
  c.nodes.push_back(std::move(t));
}

/// When `s` is being captured, appends `t` (a host function) to its capture as `s`'s next node;
/// into an invalidated capture nothing is added: cudaErrorStreamCaptureInvalidated (CUDA 13 on an
/// H100 fails every call that would add to an invalidated capture so).
/// @return nothing, leaving `t`, when `s` is not being captured.
std::optional<cudaError_t> capture_node(emu_stream& s, task& t) {
  lock_guard lock(g().mutex);
  if (!s.capture) return std::nullopt;
  if (!s.capture->invalidated.empty()) return fail(cudaErrorStreamCaptureInvalidated);
  append_node_locked(s, t);
  return cudaSuccess;
}

/// cudaMemcpyAsync on a capturing stream becomes a node (no use is taken: a replay takes its
/// own). Either end may be pageable (unregistered) host memory, as on CUDA 13 (an H100 captures
/// and replays pageable copies in either direction); a replay reads and writes it then.
/// @return nothing, leaving `t`, when `s` is not being captured.
std::optional<cudaError_t> capture_copy(emu_stream& s, task& t) {
  lock_guard lock(g().mutex);
  if (!s.capture) return std::nullopt;
  if (!s.capture->invalidated.empty()) return fail(cudaErrorStreamCaptureInvalidated);
  t.tracked[0] = allocation_at_locked(t.dst) != nullptr;
  t.tracked[1] = allocation_at_locked(t.src) != nullptr;
  append_node_locked(s, t);
  return cudaSuccess;
}

/// cudaEventRecord on a capturing stream: the event stands for the stream's captured work so far,
/// for waits in the same capture; it is no longer recorded outside one. On an invalidated
/// capture: cudaErrorStreamCaptureInvalidated, the event unchanged.
/// @return nothing when `s` is not being captured.
std::optional<cudaError_t> capture_record(emu_stream& s, emu_event& e) {
  lock_guard lock(g().mutex);
  if (!s.capture) return std::nullopt;
  if (!s.capture->invalidated.empty()) return fail(cudaErrorStreamCaptureInvalidated);
  capture_clock clock = s.capture->members[&s];
  lock_guard event_lock(e.mutex);
  e.latest = nullptr;
  e.captured_in = s.capture;
  e.clock = std::move(clock);
  return cudaSuccess;
}

/// cudaStreamWaitEvent where a capture is involved. A capturing stream may wait only on an event
/// last recorded in its own capture (a dependency); an event recorded outside it is
/// cudaErrorStreamCaptureIsolation and invalidates the capture; once its capture is invalidated,
/// any wait is cudaErrorStreamCaptureInvalidated. A stream not capturing that waits on an event
/// recorded in a capture under way joins that capture; on one recorded in a capture that ended,
/// cudaErrorInvalidValue (CUDA 13 on an H100).
/// @return nothing when no capture is involved.
std::optional<cudaError_t> capture_wait(const std::shared_ptr<emu_stream>& s, emu_event& e) {
  std::shared_ptr<capture_sequence> from;
  capture_clock clock;
  bool recorded = false;
  {
    lock_guard event_lock(e.mutex);
    from = e.captured_in;
    clock = e.clock;
    recorded = e.latest != nullptr;
  }
  const char* broken = nullptr;
  {
    lock_guard lock(g().mutex);
    if (!s->capture && !from) return std::nullopt;
    if (s->capture && !s->capture->invalidated.empty())
      return fail(cudaErrorStreamCaptureInvalidated);
    if (s->capture && from == s->capture) {
      capture_clock& mine = s->capture->members[s.get()];
      for (const auto& [stream, n] : clock) mine[stream] = std::max(mine[stream], n);
      return cudaSuccess;
    }
    if (s->capture && !from && !recorded) return cudaSuccess;  // never recorded: no work
    if (!s->capture && !from->ended) {                         // joins the capture
      s->capture = from;
      s->capturing = true;
      from->members[s.get()] = std::move(clock);
      from->streams.push_back(s);
      return cudaSuccess;
    }
    broken = s->capture ? "cudaStreamWaitEvent on an event recorded outside the capture"
                        : "cudaStreamWaitEvent on an event last recorded in a capture that ended";
    if (s->capture) invalidate_locked(*s->capture, broken);
  }
  violation(std::string(broken) + (s->capturing ? " (the capture is invalidated)" : ""));
  return fail(s->capturing ? cudaErrorStreamCaptureIsolation : cudaErrorInvalidValue);
}

/// cudaEventQuery/cudaEventSynchronize of an event last recorded in a capture (a violation: there
/// is no work to ask about), whatever the calling thread's capture mode and thread, checked
/// before the mode (as CUDA 13 on an H100): while that capture is under way and valid,
/// cudaErrorCapturedEvent, and the capture is invalidated; once it is invalidated or ended,
/// cudaErrorInvalidValue.
cudaError_t refuse_captured(emu_event& e, const char* call) {
  cudaError_t refused = cudaSuccess;
  {
    lock_guard lock(g().mutex);
    lock_guard event_lock(e.mutex);
    if (!e.captured_in) return cudaSuccess;
    capture_sequence& c = *e.captured_in;
    if (!c.ended && c.invalidated.empty()) {
      invalidate_locked(c, call);
      refused = cudaErrorCapturedEvent;
    } else {
      refused = cudaErrorInvalidValue;
    }
  }
  violation(std::string(call) + " of an event last recorded in a stream capture" +
            (refused == cudaErrorCapturedEvent ? " (the capture is invalidated)" : ""));
  return fail(refused);
}

/// Whether every stream's captured work is joined back into the origin: the origin's clock
/// covers each member's nodes.
bool all_joined(const capture_sequence& c) {
  const capture_clock& origin = c.members.at(c.origin);
  for (const auto& [member, clock] : c.members) {
    auto own = clock.find(member);
    auto seen = origin.find(member);
    const std::size_t submitted = own == clock.end() ? 0 : own->second;
    if (submitted > (seen == origin.end() ? 0 : seen->second)) return false;
  }
  return true;
}

std::uintptr_t register_graph(std::shared_ptr<emu_graph> graph) {
  lock_guard lock(g().mutex);
  const std::uintptr_t h = g().new_handle();
  g().graphs[h] = std::move(graph);
  return h;
}

std::shared_ptr<emu_graph> find_graph(const void* handle, const char* call) {
  {
    lock_guard lock(g().mutex);
    auto it = g().graphs.find(address(handle));
    if (it != g().graphs.end()) return it->second;
  }
  violation(std::string(call) + ": use of " + g().missing("graph", address(handle)));
  return nullptr;
}

/// cudaGraphLaunch: the graph's nodes, in order, on `s`. A copy whose memory is gone since the
/// capture (freed) is a violation and is skipped.
cudaError_t graph_launch(cudaGraphExec_t exec, cudaStream_t s, bool ptsz) {
  if (cudaError_t e = enter("cudaGraphLaunch")) return e;
  std::shared_ptr<emu_graph> graph = find_graph(exec, "cudaGraphLaunch");
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaGraphLaunch", ptsz);
  if (!graph || !stream) return fail(cudaErrorInvalidResourceHandle);
  if (cudaError_t e = check_context(*stream)) return e;
  if (stream->capturing) return fail(cudaErrorStreamCaptureUnsupported);  // a gap: child graphs
  for (task t : graph->nodes) {
    if (t.what == task::kind::copy) {
      lock_guard lock(g().mutex);
      if ((t.tracked[0] && !allocation_at_locked(t.dst)) ||
          (t.tracked[1] && !allocation_at_locked(t.src))) {
        violation("cudaGraphLaunch: a captured copy " + hex(address(t.src)) + " -> " +
                  hex(address(t.dst)) + " touches memory freed since the capture (skipped)");
        continue;
      }
      use_copy_ends_locked(t);
    }
    enqueue(stream, std::move(t));
  }
  return cudaSuccess;
}

cudaError_t destroy_graph(const void* handle, const char* call) {
  if (cudaError_t e = enter(call)) return e;
  {
    lock_guard lock(g().mutex);
    if (g().graphs.erase(address(handle)) != 0) return cudaSuccess;
  }
  violation(std::string(call) + ": destroying " + g().missing("graph", address(handle)));
  return fail(cudaErrorInvalidResourceHandle);
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
  if (cudaError_t e = refuse_if_capture_forbids(call)) return e;
  state& st = g();
  lock_guard lock(st.mutex);
  ++(pinned ? st.counters.host_alloc_calls : st.counters.malloc_calls);
  if (st.fail_countdown != 0 && --st.fail_countdown == 0) return fail(cudaErrorMemoryAllocation);
  if (bytes == 0) return cudaSuccess;
  auto a = std::make_shared<allocation>();
  a->bytes = bytes;
  a->device = t_device;
  a->pinned = pinned;
  if (pinned) {
    // Whole anonymous pages, as cudaHostAlloc pins (and as the CPU backend allocates): untouched
    // pages cost nothing, and under ASan a large block skips its heap, which maps, poisons and
    // quarantines every one (the fuzz target on this runtime spent most of its time there).
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    a->capacity = (bytes + page - 1) / page * page;
    void* p =
        mmap(nullptr, a->capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    a->ptr = p == MAP_FAILED ? nullptr : p;
  } else {
    const device_view view = pinpool_emu::internal::map_device_memory(bytes);
    a->ptr = view.device;
    a->shadow = view.shadow;
    a->capacity = view.mapped;
  }
  if (a->ptr == nullptr) return fail(cudaErrorMemoryAllocation);
  st.allocations[address(a->ptr)] = a;
  *ptr = a->ptr;
  return cudaSuccess;
}

/// What a free call expects: cudaFree device memory, cudaFreeHost cudaHostAlloc memory,
/// cudaHostUnregister cudaHostRegister memory.
const char* origin_of(const allocation& a) {
  if (!a.pinned) return "cudaMalloc";
  return a.registered ? "cudaHostRegister" : "cudaHostAlloc";
}

cudaError_t release(void* ptr, bool pinned, const char* call, bool registered = false) {
  const cudaError_t e = enter(call);
  if (e == cudaErrorNotPermitted || e == cudaErrorCudartUnloading) return e;
  if (e == cudaSuccess) {
    if (cudaError_t refused = refuse_if_capture_forbids(call)) return refused;  // nothing freed
  }
  state& st = g();
  if (e == cudaSuccess && ptr != nullptr) {  // the implicit device synchronisation
    int device = t_device;                   // cudaFreeHost: the current device's context
    bool known = false;
    {
      lock_guard lock(st.mutex);
      auto it = st.allocations.find(address(ptr));
      known = it != st.allocations.end() && !it->second->freed && it->second->pinned == pinned &&
              it->second->registered == registered;
      if (known && !pinned) device = it->second->device;  // cudaFree: the memory's device
    }
    if (known) synchronize_device_for(device, call);
  }
  lock_guard lock(st.mutex);
  if (!registered) ++(pinned ? st.counters.free_host_calls : st.counters.free_calls);
  if (ptr == nullptr) return e;
  auto it = st.allocations.find(address(ptr));
  if (it == st.allocations.end() || it->second->freed) {
    violation(
        std::string(call) + ": " + hex(address(ptr)) +
        " was not allocated by cudaMalloc/cudaHostAlloc/cudaHostRegister, or was already freed");
    return fail(registered ? cudaErrorHostMemoryNotRegistered : cudaErrorInvalidValue);
  }
  allocation& a = *it->second;
  if (a.pinned != pinned || a.registered != registered) {
    violation(std::string(call) + ": " + hex(address(ptr)) + " was allocated by " + origin_of(a) +
              " (not freed)");
    return fail(registered ? cudaErrorHostMemoryNotRegistered : cudaErrorInvalidValue);
  }
  if (a.pending > 0) {
    violation(std::string(call) + ": " + hex(address(ptr)) + " freed while " +
              std::to_string(a.pending) + " queued cudaMemcpyAsync still use it");
    a.freed = true;  // the last of those copies frees it
  } else {
    a.release_memory();
    st.allocations.erase(it);
  }
  return e;
}

/// cudaHostRegister: the application's host memory becomes pinned (copies treat it as
/// cudaHostAlloc memory) until cudaHostUnregister; the emulation never unmaps it.
cudaError_t host_register(void* ptr, std::size_t bytes) {
  if (cudaError_t e = enter("cudaHostRegister")) return e;
  if (ptr == nullptr || bytes == 0) return fail(cudaErrorInvalidValue);
  if (cudaError_t e = refuse_if_capture_forbids("cudaHostRegister")) return e;
  state& st = g();
  lock_guard lock(st.mutex);
  if (counts_down(st.fail_register_countdown)) return fail(cudaErrorNotSupported);
  if (st.allocations.count(address(ptr)) != 0) return fail(cudaErrorHostMemoryAlreadyRegistered);
  auto a = std::make_shared<allocation>();
  a->ptr = ptr;
  a->bytes = bytes;
  a->capacity = bytes;
  a->device = t_device;
  a->pinned = true;
  a->registered = true;
  st.allocations[address(ptr)] = a;
  return cudaSuccess;
}

/// Copies are queued like any stream work, with CUDA's host-synchronous cases modelled:
/// host to host (pageable or pinned, either way) and device to pageable return only once the
/// copy ran; pageable to device reads the source into a staging buffer before returning.
cudaError_t memcpy_async(void* dst, const void* src, std::size_t bytes, cudaStream_t s, bool ptsz) {
  if (cudaError_t e = enter("cudaMemcpyAsync")) return e;
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaMemcpyAsync", ptsz);
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  if (cudaError_t e = check_context(*stream)) return e;
  task t;
  t.what = task::kind::copy;
  t.dst = dst;
  t.src = src;
  t.bytes = bytes;
  if (std::optional<cudaError_t> captured = capture_copy(*stream, t)) return *captured;
  {
    lock_guard lock(g().mutex);
    use_copy_ends_locked(t);
  }
  const bool dst_device = t.uses[0] && !t.uses[0]->pinned;
  const bool src_device = t.uses[1] && !t.uses[1]->pinned;
  const bool dst_pageable = !t.uses[0];
  const bool src_pageable = !t.uses[1];
  const bool host_synchronous = (!dst_device && !src_device) || (src_device && dst_pageable);
  if (src_pageable && dst_device && t.bytes != 0) {
    const auto* from = static_cast<const unsigned char*>(src);
    t.staged.assign(from, from + t.bytes);
  }
  const std::uint64_t ticket = enqueue(stream, std::move(t));
  if (host_synchronous) {
    block_on(*stream, ticket,
             std::string("cudaMemcpyAsync (") + (dst_device || src_device ? "device" : "host") +
                 " to " + (dst_pageable ? "pageable" : "host") +
                 " memory is synchronous with the host)");
  }
  return cudaSuccess;
}

cudaError_t launch_host_func(cudaStream_t s, cudaHostFn_t fn, void* user_data, bool ptsz) {
  if (cudaError_t e = enter("cudaLaunchHostFunc")) return e;
  if (fn == nullptr) return fail(cudaErrorInvalidValue);
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaLaunchHostFunc", ptsz);
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  if (cudaError_t e = check_context(*stream)) return e;
  task t;
  t.what = task::kind::host_func;
  t.fn = fn;
  t.user_data = user_data;
  if (std::optional<cudaError_t> captured = capture_node(*stream, t)) return *captured;
  enqueue(stream, std::move(t));
  return cudaSuccess;
}

/// The checks of a call that waits for or asks about a stream's work (synchronize, query): the
/// stream exists, is not being captured (such a call invalidates the capture) and its device has
/// no sticky error. Sets `stream` when the call may go on.
cudaError_t stream_for_work_call(cudaStream_t s, const char* call, bool ptsz,
                                 std::shared_ptr<emu_stream>& stream) {
  if (cudaError_t e = enter(call)) return e;
  stream = find_stream(s, call, ptsz);
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  if (cudaError_t e = refuse_if_capture_forbids(call)) return e;
  if (stream->capturing) {
    {
      lock_guard lock(g().mutex);
      if (stream->capture) invalidate_locked(*stream->capture, call);
    }
    violation(std::string(call) + ": the stream is being captured (the capture is invalidated)");
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  return check_context(*stream);
}

cudaError_t stream_synchronize(cudaStream_t s, bool ptsz) {
  std::shared_ptr<emu_stream> stream;
  if (cudaError_t e = stream_for_work_call(s, "cudaStreamSynchronize", ptsz, stream)) return e;
  stream->synchronize();
  return check_context(*stream);  // a fault while it waited
}

cudaError_t stream_query(cudaStream_t s, bool ptsz) {
  std::shared_ptr<emu_stream> stream;
  if (cudaError_t e = stream_for_work_call(s, "cudaStreamQuery", ptsz, stream)) return e;
  // Not ready is no error: the thread's last error keeps its value (CUDA 13 on an H100).
  return stream->idle() ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t begin_capture(cudaStream_t s, cudaStreamCaptureMode mode, bool ptsz) {
  if (cudaError_t e = enter("cudaStreamBeginCapture")) return e;
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamBeginCapture", ptsz);
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  if (stream->kind() == flavor::legacy) return fail(cudaErrorStreamCaptureUnsupported);
  lock_guard lock(g().mutex);
  if (stream->capture) return fail(cudaErrorIllegalState);
  auto c = std::make_shared<capture_sequence>();
  static unsigned long long next_capture_id = 0;  // under the state's mutex
  c->id = ++next_capture_id;
  c->mode = mode;
  c->thread = std::this_thread::get_id();
  c->origin = stream.get();
  c->members[stream.get()];
  c->streams.push_back(stream);
  stream->capture = c;
  stream->capturing = true;
  g().captures.push_back(std::move(c));
  return cudaSuccess;
}

/// Ends the capture begun on `s` for all its streams. Fails, giving no graph, when the capture
/// was invalidated or a stream's work was never joined back into `s`.
cudaError_t end_capture(cudaStream_t s, cudaGraph_t* graph, bool ptsz) {
  if (cudaError_t e = enter("cudaStreamEndCapture")) return e;
  if (graph == nullptr) return fail(cudaErrorInvalidValue);
  *graph = nullptr;
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamEndCapture", ptsz);
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  std::shared_ptr<capture_sequence> c;
  bool wrong_thread = false;
  {
    lock_guard lock(g().mutex);
    c = stream->capture;
    if (!c) return fail(cudaErrorIllegalState);
    if (c->origin != stream.get()) {  // the capture goes on, invalidated
      invalidate_locked(*c, "cudaStreamEndCapture on a stream that joined the capture");
      return fail(cudaErrorStreamCaptureUnmatched);
    }
    if (c->mode != cudaStreamCaptureModeRelaxed && c->thread != std::this_thread::get_id())
      wrong_thread = true;  // the capture ends all the same, giving no graph
    for (const auto& member : c->streams) {
      member->capture = nullptr;
      member->capturing = false;
    }
    c->ended = true;
    auto& under_way = g().captures;
    under_way.erase(std::find(under_way.begin(), under_way.end(), c));
  }
  if (wrong_thread) return fail(cudaErrorStreamCaptureWrongThread);
  if (!c->invalidated.empty()) return fail(cudaErrorStreamCaptureInvalidated);
  if (!all_joined(*c)) {
    violation(
        "cudaStreamEndCapture: work captured on another stream was never joined back into "
        "the origin stream (cudaEventRecord there, cudaStreamWaitEvent on the origin)");
    return fail(cudaErrorStreamCaptureUnjoined);
  }
  auto made = std::make_shared<emu_graph>();
  made->device = stream->device();
  made->nodes = std::move(c->nodes);
  *graph = reinterpret_cast<cudaGraph_t>(register_graph(std::move(made)));
  return cudaSuccess;
}

cudaError_t stream_is_capturing(cudaStream_t s, cudaStreamCaptureStatus* status, bool ptsz) {
  if (cudaError_t e = enter("cudaStreamIsCapturing")) return e;
  if (status == nullptr) return fail(cudaErrorInvalidValue);
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamIsCapturing", ptsz);
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  lock_guard lock(g().mutex);
  if (!stream->capture) {
    *status = cudaStreamCaptureStatusNone;
  } else {
    *status = stream->capture->invalidated.empty() ? cudaStreamCaptureStatusActive
                                                   : cudaStreamCaptureStatusInvalidated;
  }
  return cudaSuccess;
}

// The status and the id only (the graph, its dependencies and edges are not modelled: null/0).
cudaError_t stream_get_capture_info(cudaStream_t s, cudaStreamCaptureStatus* status,
                                    unsigned long long* id, cudaGraph_t* graph,
                                    const cudaGraphNode_t** deps, const cudaGraphEdgeData** edges,
                                    size_t* num_deps, bool ptsz) {
  if (cudaError_t e = enter("cudaStreamGetCaptureInfo")) return e;
  if (status == nullptr) return fail(cudaErrorInvalidValue);
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamGetCaptureInfo", ptsz);
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  if (graph != nullptr) *graph = nullptr;
  if (deps != nullptr) *deps = nullptr;
  if (edges != nullptr) *edges = nullptr;
  if (num_deps != nullptr) *num_deps = 0;
  lock_guard lock(g().mutex);
  if (!stream->capture) {
    *status = cudaStreamCaptureStatusNone;
    return cudaSuccess;  // id_out is left alone, as the runtime documents
  }
  *status = stream->capture->invalidated.empty() ? cudaStreamCaptureStatusActive
                                                 : cudaStreamCaptureStatusInvalidated;
  if (id != nullptr) *id = stream->capture->id;
  return cudaSuccess;
}

cudaError_t stream_get_id(cudaStream_t s, unsigned long long* id, bool ptsz) {
  if (cudaError_t e = enter("cudaStreamGetId")) return e;
  if (id == nullptr) return fail(cudaErrorInvalidValue);
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamGetId", ptsz);
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  *id = stream->id();
  return cudaSuccess;
}

cudaError_t stream_get_device(cudaStream_t s, int* device, bool ptsz) {
  if (cudaError_t e = enter("cudaStreamGetDevice")) return e;
  if (device == nullptr) return fail(cudaErrorInvalidValue);
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamGetDevice", ptsz);
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  *device = stream->device();
  return cudaSuccess;
}

cudaError_t event_record(cudaEvent_t e, cudaStream_t s, bool ptsz) {
  if (cudaError_t err = enter("cudaEventRecord")) return err;
  {
    lock_guard lock(g().mutex);
    if (counts_down(g().fail_event_countdown)) return fail(cudaErrorLaunchOutOfResources);
  }
  std::shared_ptr<emu_event> event = find_event(e, "cudaEventRecord");
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaEventRecord", ptsz);
  if (!event || !stream) return fail(cudaErrorInvalidResourceHandle);
  if (event->device != stream->device()) {
    violation("cudaEventRecord: event " + hex(address(e)) + " of device " +
              std::to_string(event->device) + " recorded on a stream of device " +
              std::to_string(stream->device()));
    return fail(cudaErrorInvalidResourceHandle);
  }
  if (cudaError_t err = check_context(*stream)) return err;
  if (std::optional<cudaError_t> captured = capture_record(*stream, *event)) return *captured;
  task t;
  t.what = task::kind::signal;
  t.mark = std::make_shared<marker>();
  {
    lock_guard lock(event->mutex);
    event->latest = t.mark;
    event->captured_in = nullptr;
    event->clock.clear();
  }
  enqueue(stream, std::move(t));
  return cudaSuccess;
}

/// Waiting on an event of another device is allowed (no violation), as in CUDA.
cudaError_t stream_wait_event(cudaStream_t s, cudaEvent_t e, unsigned int /*flags*/, bool ptsz) {
  if (cudaError_t err = enter("cudaStreamWaitEvent")) return err;
  std::shared_ptr<emu_stream> stream = find_stream(s, "cudaStreamWaitEvent", ptsz);
  std::shared_ptr<emu_event> event = find_event(e, "cudaStreamWaitEvent");
  if (!event || !stream) return fail(cudaErrorInvalidResourceHandle);
  if (cudaError_t err = check_context(*stream)) return err;
  if (std::optional<cudaError_t> captured = capture_wait(stream, *event)) return *captured;
  task t;
  t.what = task::kind::wait;
  t.mark = event->current();  // the record as of now: later re-records do not affect the wait
  if (t.mark) enqueue(stream, std::move(t));
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
    {cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported"},
    {cudaErrorHostMemoryAlreadyRegistered, "cudaErrorHostMemoryAlreadyRegistered",
     "part or all of the requested memory range is already mapped"},
    {cudaErrorHostMemoryNotRegistered, "cudaErrorHostMemoryNotRegistered",
     "pointer does not correspond to a registered memory region"},
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
    {cudaErrorIllegalState, "cudaErrorIllegalState",
     "operation not permitted when stream is capturing"},
    {cudaErrorStreamCaptureUnsupported, "cudaErrorStreamCaptureUnsupported",
     "operation not permitted when stream is capturing"},
    {cudaErrorPeerAccessAlreadyEnabled, "cudaErrorPeerAccessAlreadyEnabled",
     "peer access is already enabled"},
    {cudaErrorPeerAccessUnsupported, "cudaErrorPeerAccessUnsupported",
     "peer access is not supported between these two devices"},
    {cudaErrorStreamCaptureInvalidated, "cudaErrorStreamCaptureInvalidated",
     "operation failed due to a previous error during capture"},
    {cudaErrorStreamCaptureUnjoined, "cudaErrorStreamCaptureUnjoined",
     "capture sequence contains a fork that was not joined to the primary stream"},
    {cudaErrorStreamCaptureIsolation, "cudaErrorStreamCaptureIsolation",
     "dependency created on uncaptured work in another stream"},
    {cudaErrorStreamCaptureUnmatched, "cudaErrorStreamCaptureUnmatched",
     "capture was not initiated in this stream"},
    {cudaErrorStreamCaptureWrongThread, "cudaErrorStreamCaptureWrongThread",
     "attempt to terminate a thread-local capture sequence from another thread"},
    {cudaErrorCapturedEvent, "cudaErrorCapturedEvent",
     "operation not permitted on an event last recorded in a capturing stream"},
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
  count_call("cudaGetErrorName");  // allowed anywhere, host functions included
  const error_text* t = find_error_text(error);
  return t != nullptr ? t->name : "unrecognized error code";
}

const char* CUDARTAPI cudaGetErrorString(cudaError_t error) {
  count_call("cudaGetErrorString");
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
  if (cudaError_t e = refuse_if_capture_forbids("cudaDeviceSynchronize")) return e;
  for (const auto& s : streams_of(t_device, false)) s->synchronize();
  return g().faulted(t_device) ? fail(cudaErrorIllegalAddress) : cudaSuccess;
}

/// Any two distinct devices can, unless set_peer_access_capable(false).
cudaError_t CUDARTAPI cudaDeviceCanAccessPeer(int* can, int device, int peer) {
  if (cudaError_t e = enter("cudaDeviceCanAccessPeer")) return e;
  if (can == nullptr) return fail(cudaErrorInvalidValue);
  lock_guard lock(g().mutex);
  const int n = g().device_count;
  if (device < 0 || device >= n || peer < 0 || peer >= n) return fail(cudaErrorInvalidDevice);
  *can = device != peer && g().peers_capable ? 1 : 0;
  return cudaSuccess;
}

/// From the current device to `peer`: cudaErrorPeerAccessAlreadyEnabled the second time,
/// cudaErrorPeerAccessUnsupported when the devices cannot and when `peer` is the current device
/// (CUDA 13 on an H100).
cudaError_t CUDARTAPI cudaDeviceEnablePeerAccess(int peer, unsigned int flags) {
  if (cudaError_t e = enter("cudaDeviceEnablePeerAccess")) return e;
  if (flags != 0) return fail(cudaErrorInvalidValue);
  lock_guard lock(g().mutex);
  if (peer < 0 || peer >= g().device_count) return fail(cudaErrorInvalidDevice);
  if (peer == t_device || !g().peers_capable) return fail(cudaErrorPeerAccessUnsupported);
  if (!g().peer_access.emplace(t_device, peer).second) {
    return fail(cudaErrorPeerAccessAlreadyEnabled);
  }
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
cudaError_t CUDARTAPI cudaHostRegister(void* ptr, size_t size, unsigned int /*flags*/) {
  return host_register(ptr, size);
}
cudaError_t CUDARTAPI cudaHostUnregister(void* ptr) {
  return release(ptr, true, "cudaHostUnregister", true);
}

/// cudaStreamDefault: a blocking stream (synchronises with the legacy stream);
/// cudaStreamNonBlocking: independent of it.
cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
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
  g().streams[h] = std::make_shared<emu_stream>(
      t_device, (flags & cudaStreamNonBlocking) != 0 ? flavor::non_blocking : flavor::blocking);
  *stream = reinterpret_cast<cudaStream_t>(h);
  return cudaSuccess;
}

/// Returns at once, as the runtime does: the stream's queued work still runs, and its handle
/// value may name the next stream created.
cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t stream) {
  const cudaError_t e = enter("cudaStreamDestroy");
  if (e == cudaErrorNotPermitted || e == cudaErrorCudartUnloading) return e;
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
  return stream_synchronize(stream, false);
}
cudaError_t CUDARTAPI cudaStreamGetDevice(cudaStream_t stream, int* device) {
  return stream_get_device(stream, device, false);
}
cudaError_t CUDARTAPI cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode) {
  return begin_capture(stream, mode, false);
}
cudaError_t CUDARTAPI cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  return end_capture(stream, graph, false);
}
cudaError_t CUDARTAPI cudaStreamIsCapturing(cudaStream_t stream,
                                            enum cudaStreamCaptureStatus* status) {
  return stream_is_capturing(stream, status, false);
}
cudaError_t CUDARTAPI cudaStreamGetCaptureInfo(cudaStream_t stream,
                                               enum cudaStreamCaptureStatus* status,
                                               unsigned long long* id, cudaGraph_t* graph,
                                               const cudaGraphNode_t** deps,
                                               const cudaGraphEdgeData** edges, size_t* num_deps) {
  return stream_get_capture_info(stream, status, id, graph, deps, edges, num_deps, false);
}
cudaError_t CUDARTAPI cudaThreadExchangeStreamCaptureMode(enum cudaStreamCaptureMode* mode) {
  if (cudaError_t e = enter("cudaThreadExchangeStreamCaptureMode", false)) return e;
  if (mode == nullptr) return fail(cudaErrorInvalidValue);
  std::swap(*mode, t_capture_mode);
  return cudaSuccess;
}

/// The executable is a copy of the graph's nodes: destroying the graph afterwards is allowed.
cudaError_t CUDARTAPI cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                           unsigned long long /*flags*/) {
  if (cudaError_t e = enter("cudaGraphInstantiate")) return e;
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  std::shared_ptr<emu_graph> from = find_graph(graph, "cudaGraphInstantiate");
  if (!from) return fail(cudaErrorInvalidResourceHandle);
  *exec = reinterpret_cast<cudaGraphExec_t>(register_graph(std::make_shared<emu_graph>(*from)));
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  return graph_launch(exec, stream, false);
}

cudaError_t CUDARTAPI cudaGraphDestroy(cudaGraph_t graph) {
  return destroy_graph(graph, "cudaGraphDestroy");
}

/// Launches already queued still run (their nodes were copied into the stream).
cudaError_t CUDARTAPI cudaGraphExecDestroy(cudaGraphExec_t exec) {
  return destroy_graph(exec, "cudaGraphExecDestroy");
}

cudaError_t CUDARTAPI cudaStreamGetId(cudaStream_t stream, unsigned long long* id) {
  return stream_get_id(stream, id, false);
}
cudaError_t CUDARTAPI cudaStreamQuery(cudaStream_t stream) {
  return stream_query(stream, false);
}
cudaError_t CUDARTAPI cudaMemcpyAsync(void* dst, const void* src, size_t count,
                                      enum cudaMemcpyKind /*kind*/, cudaStream_t stream) {
  return memcpy_async(dst, src, count, stream, false);
}
cudaError_t CUDARTAPI cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* user_data) {
  return launch_host_func(stream, fn, user_data, false);
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
  if (e == cudaErrorNotPermitted || e == cudaErrorCudartUnloading) return e;
  state& st = g();
  {
    lock_guard lock(st.mutex);
    if (st.events.erase(address(event)) == 1) return e;
  }
  violation("cudaEventDestroy: destroying " + st.missing("event", address(event)));
  return fail(cudaErrorInvalidResourceHandle);
}

cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  return event_record(event, stream, false);
}

cudaError_t CUDARTAPI cudaEventQuery(cudaEvent_t event) {
  if (cudaError_t e = enter("cudaEventQuery")) return e;
  std::shared_ptr<emu_event> ev = find_event(event, "cudaEventQuery");
  if (!ev) return fail(cudaErrorInvalidResourceHandle);
  if (cudaError_t e = refuse_captured(*ev, "cudaEventQuery")) return e;
  if (cudaError_t e = refuse_if_capture_forbids("cudaEventQuery")) return e;
  std::shared_ptr<marker> m = ev->current();
  // Not ready is no error: the thread's last error keeps its value (CUDA 13 on an H100).
  return !m || m->is_done() ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t CUDARTAPI cudaEventSynchronize(cudaEvent_t event) {
  if (cudaError_t e = enter("cudaEventSynchronize")) return e;
  std::shared_ptr<emu_event> ev = find_event(event, "cudaEventSynchronize");
  if (!ev) return fail(cudaErrorInvalidResourceHandle);
  if (cudaError_t e = refuse_captured(*ev, "cudaEventSynchronize")) return e;
  if (cudaError_t e = refuse_if_capture_forbids("cudaEventSynchronize")) return e;
  if (std::shared_ptr<marker> m = ev->current()) m->wait();
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event,
                                          unsigned int flags) {
  return stream_wait_event(stream, event, flags, false);
}

// The names a -DCUDA_API_PER_THREAD_DEFAULT_STREAM build references (__CUDART_API_PTSZ).
// In them the null handle names the calling thread's per-thread stream, not the legacy one.
cudaError_t CUDARTAPI cudaStreamSynchronize_ptsz(cudaStream_t stream) {
  return stream_synchronize(stream, true);
}
cudaError_t CUDARTAPI cudaStreamBeginCapture_ptsz(cudaStream_t stream,
                                                  enum cudaStreamCaptureMode mode) {
  return begin_capture(stream, mode, true);
}
cudaError_t CUDARTAPI cudaStreamEndCapture_ptsz(cudaStream_t stream, cudaGraph_t* graph) {
  return end_capture(stream, graph, true);
}
cudaError_t CUDARTAPI cudaStreamIsCapturing_ptsz(cudaStream_t stream,
                                                 enum cudaStreamCaptureStatus* status) {
  return stream_is_capturing(stream, status, true);
}
cudaError_t CUDARTAPI cudaStreamGetCaptureInfo_ptsz(cudaStream_t stream,
                                                    enum cudaStreamCaptureStatus* status,
                                                    unsigned long long* id, cudaGraph_t* graph,
                                                    const cudaGraphNode_t** deps,
                                                    const cudaGraphEdgeData** edges,
                                                    size_t* num_deps) {
  return stream_get_capture_info(stream, status, id, graph, deps, edges, num_deps, true);
}
cudaError_t CUDARTAPI cudaGraphLaunch_ptsz(cudaGraphExec_t exec, cudaStream_t stream) {
  return graph_launch(exec, stream, true);
}
cudaError_t CUDARTAPI cudaStreamGetId_ptsz(cudaStream_t stream, unsigned long long* id) {
  return stream_get_id(stream, id, true);
}
cudaError_t CUDARTAPI cudaStreamQuery_ptsz(cudaStream_t stream) {
  return stream_query(stream, true);
}
cudaError_t CUDARTAPI cudaStreamGetDevice_ptsz(cudaStream_t stream, int* device) {
  return stream_get_device(stream, device, true);
}
cudaError_t CUDARTAPI cudaMemcpyAsync_ptsz(void* dst, const void* src, size_t count,
                                           enum cudaMemcpyKind /*kind*/, cudaStream_t stream) {
  return memcpy_async(dst, src, count, stream, true);
}
cudaError_t CUDARTAPI cudaLaunchHostFunc_ptsz(cudaStream_t stream, cudaHostFn_t fn,
                                              void* user_data) {
  return launch_host_func(stream, fn, user_data, true);
}
cudaError_t CUDARTAPI cudaEventRecord_ptsz(cudaEvent_t event, cudaStream_t stream) {
  return event_record(event, stream, true);
}
cudaError_t CUDARTAPI cudaStreamWaitEvent_ptsz(cudaStream_t stream, cudaEvent_t event,
                                               unsigned int flags) {
  return stream_wait_event(stream, event, flags, true);
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
  st.sticky_clear();  // first: work a fault left queued runs to its end
  std::vector<std::shared_ptr<emu_stream>> retired;
  {
    lock_guard lock(st.mutex);
    retired.swap(st.retired_streams);
    for (const auto& entry : st.legacy_streams) {  // the legacy streams go with the machine
      auto it = st.streams.find(entry.second);
      if (it == st.streams.end()) continue;
      retired.push_back(std::move(it->second));
      st.streams.erase(it);
    }
    st.legacy_streams.clear();
    for (const auto& c : st.captures) {  // captures under way end with the machine
      for (const auto& member : c->streams) {
        member->capture = nullptr;
        member->capturing = false;
      }
      c->ended = true;
    }
    st.captures.clear();
    st.graphs.clear();
  }
  t_capture_mode = cudaStreamCaptureModeGlobal;
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
    if (!entry.second->freed && entry.second->pending == 0) entry.second->release_memory();
  }
  st.allocations.clear();
  {
    lock_guard calls_lock(st.calls_mutex);
    st.counters = {};
  }
  st.fail_countdown = 0;
  st.fail_register_countdown = 0;
  st.fail_event_countdown = 0;
  st.fail_stream_countdown = 0;
  st.block_timeout_ms = default_block_timeout.count();
  st.serialized_host_functions = false;
  st.peer_access.clear();
  st.peers_capable = true;
  state::g_unloading() = false;
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
  lock_guard calls_lock(g().calls_mutex);
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

void fail_nth_host_register(unsigned n) {
  lock_guard lock(g().mutex);
  g().fail_register_countdown = n;
}

void fail_nth_event_call(unsigned n) {
  lock_guard lock(g().mutex);
  g().fail_event_countdown = n;
}

void fail_nth_stream_call(unsigned n) {
  lock_guard lock(g().mutex);
  g().fail_stream_countdown = n;
}

void set_sticky_error(int device) {
  if (device < 0) device = t_device;
  if (device >= max_devices) throw std::invalid_argument("pinpool_emu::set_sticky_error: device");
  g().sticky[static_cast<std::size_t>(device)] = true;
}

void set_chaos(std::uint64_t seed) {
  internal::set_chaos_seed(seed);
}

std::uint64_t chaos_seed() {
  return internal::chaos_seed();
}

void simulate_unloading(bool unloading) {
  state::g_unloading() = unloading;
}

void serialize_host_functions(bool on) {
  g().serialized_host_functions = on;
}

bool peer_access_enabled(int device, int peer) {
  lock_guard lock(g().mutex);
  return g().peer_access.count({device, peer}) != 0;
}

void set_peer_access_capable(bool capable) {
  lock_guard lock(g().mutex);
  g().peers_capable = capable;
}

void set_blocking_timeout(std::chrono::milliseconds timeout) {
  g().block_timeout_ms = timeout.count();
}

std::uint64_t counters::count(const std::string& entry_point) const {
  auto it = calls.find(entry_point);
  return it == calls.end() ? 0 : it->second;
}

}  // namespace pinpool_emu
