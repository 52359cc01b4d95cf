// Runtime conformance: the behaviour the CUDA runtime emulation (tests/emulation/) claims to
// model, written only against <cuda_runtime_api.h> and GoogleTest. The same source builds twice:
// pinpool_tests_runtime_conformance_emulated (linked with the emulation; must pass in CI) and
// pinpool_tests_runtime_conformance (linked with libcudart; skips without a device). A test that
// passes on the emulation and fails on a GPU shows where the emulation is wrong.
//
// Every test owns its streams, events, graphs and memory through the fixture, whose TearDown
// ends any capture left open, opens every gate, synchronises and frees, so a failure on a GPU
// does not cascade into the next test. No wait is unbounded: gates time out after 5 s.
//
// PINPOOL_CONFORMANCE_EMULATED is defined in the emulated build only.

#include <cuda_runtime_api.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <deque>
#include <gtest/gtest.h>
#include <memory>
#include <ostream>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
constexpr auto wait_limit = 5s;

/// Holds a stream busy: a host function that returns once the gate opens, or after 5 s.
struct gate {
  std::atomic<bool> open{false};
  std::atomic<bool> timed_out{false};
  std::atomic<int> passed{0};
};

void wait_at_gate(void* p) {
  auto& g = *static_cast<gate*>(p);
  const auto deadline = std::chrono::steady_clock::now() + wait_limit;
  while (!g.open.load()) {
    if (std::chrono::steady_clock::now() > deadline) {
      g.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  g.passed.fetch_add(1);
}

void count_call(void* n) {
  static_cast<std::atomic<int>*>(n)->fetch_add(1);
}

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// A host function that holds its stream 100 ms, stamping when it started and ended.
struct hold_probe {
  std::atomic<long long> started{0};
  std::atomic<long long> ended{0};
};

void hold_100ms(void* p) {
  auto& probe = *static_cast<hold_probe*>(p);
  probe.started = now_ns();
  std::this_thread::sleep_for(100ms);
  probe.ended = now_ns();
}

void stamp_now(void* p) {
  static_cast<std::atomic<long long>*>(p)->store(now_ns());
}

/// A host function that snapshots a pinned buffer (what the stream's earlier copies wrote).
struct snapshot_probe {
  const unsigned char* from = nullptr;
  std::size_t bytes = 0;
  std::vector<unsigned char> seen;
  std::atomic<int> calls{0};
};

void take_snapshot(void* p) {
  auto& probe = *static_cast<snapshot_probe*>(p);
  probe.seen.assign(probe.from, probe.from + probe.bytes);
  probe.calls.fetch_add(1);
}

const char* name(cudaError_t e) {
  return cudaGetErrorName(e);
}

/// The base of every suite: skips without a device, owns what a test creates.
class runtime_test : public ::testing::Test {
 protected:
  void SetUp() override {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
      (void)cudaGetLastError();
      GTEST_SKIP() << "no CUDA device: cudaGetDeviceCount returned " << name(e) << " ("
                   << cudaGetErrorString(e) << "), count " << n;
    }
    devices_ = n;
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
    (void)cudaGetLastError();  // start with no last error
  }

  void TearDown() override {
    if (devices_ == 0) return;
    cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
    (void)cudaThreadExchangeStreamCaptureMode(&mode);  // this thread back to the default
    for (int pass = 0; pass < 2; ++pass) {  // origins first; joined streams end with them
      for (const owned_stream& s : streams_) {
        cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
        if (cudaStreamIsCapturing(s.handle, &st) != cudaSuccess) continue;
        if (st == cudaStreamCaptureStatusNone) continue;
        cudaGraph_t graph = nullptr;
        if (cudaStreamEndCapture(s.handle, &graph) == cudaSuccess && graph != nullptr)
          (void)cudaGraphDestroy(graph);
      }
    }
    for (auto& g : gates_) g.open = true;
    for (const owned_stream& s : streams_) {
      (void)cudaSetDevice(s.device);
      (void)cudaStreamSynchronize(s.handle);
    }
    (void)cudaSetDevice(0);
    for (cudaGraphExec_t x : execs_) (void)cudaGraphExecDestroy(x);
    for (cudaGraph_t g : graphs_) (void)cudaGraphDestroy(g);
    for (void* p : device_) (void)cudaFree(p);
    for (void* p : pinned_) (void)cudaFreeHost(p);
    for (const owned_stream& s : streams_) (void)cudaStreamDestroy(s.handle);
    for (cudaEvent_t e : events_) (void)cudaEventDestroy(e);
    (void)cudaSetDevice(0);
    (void)cudaGetLastError();
  }

  int devices() const { return devices_; }

  /// A stream of the current device (non-blocking unless `flags` says otherwise).
  cudaStream_t stream(unsigned flags = cudaStreamNonBlocking) {
    cudaStream_t s = nullptr;
    EXPECT_EQ(cudaStreamCreateWithFlags(&s, flags), cudaSuccess);
    int device = 0;
    EXPECT_EQ(cudaGetDevice(&device), cudaSuccess);
    streams_.push_back({s, device});
    return s;
  }
  cudaEvent_t event() {
    cudaEvent_t e = nullptr;
    EXPECT_EQ(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), cudaSuccess);
    events_.push_back(e);
    return e;
  }
  void* device_memory(std::size_t bytes) {
    void* p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, bytes), cudaSuccess);
    if (p != nullptr) device_.push_back(p);
    return p;
  }
  unsigned char* pinned(std::size_t bytes) {
    void* p = nullptr;
    EXPECT_EQ(cudaHostAlloc(&p, bytes, cudaHostAllocDefault), cudaSuccess);
    if (p != nullptr) pinned_.push_back(p);
    return static_cast<unsigned char*>(p);
  }
  /// Memory a test allocated itself (cudaMalloc from another thread), freed by TearDown.
  void adopt_device_memory(void* p) {
    if (p != nullptr) device_.push_back(p);
  }
  gate& new_gate() { return gates_.emplace_back(); }
  /// Host-function data that must outlive the test body (a failed ASSERT returns early).
  template <class T>
  T& keep() {
    auto p = std::make_shared<T>();
    kept_.push_back(p);
    return *p;
  }
  cudaGraphExec_t instantiate(cudaGraph_t graph) {
    cudaGraphExec_t exec = nullptr;
    EXPECT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    if (exec != nullptr) execs_.push_back(exec);
    return exec;
  }
  /// EndCapture, expecting `want`; keeps the graph on success, checks there is none on failure.
  cudaGraph_t end_capture(cudaStream_t s, cudaError_t want) {
    cudaGraph_t graph = nullptr;
    const cudaError_t got = cudaStreamEndCapture(s, &graph);
    EXPECT_EQ(got, want) << name(got) << " instead of " << name(want);
    if (graph != nullptr) graphs_.push_back(graph);
    if (got != cudaSuccess) {
      EXPECT_EQ(graph, nullptr) << "a failed EndCapture gave a graph";
    }
    return graph;
  }

 public:
  /// The capture status of `s` (public: capture_breakers' calls ask it too).
  static cudaStreamCaptureStatus status(cudaStream_t s) {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    EXPECT_EQ(cudaStreamIsCapturing(s, &st), cudaSuccess);
    return st;
  }

 private:
  struct owned_stream {
    cudaStream_t handle;
    int device;
  };
  int devices_ = 0;
  std::vector<owned_stream> streams_;
  std::vector<cudaEvent_t> events_;
  std::vector<cudaGraph_t> graphs_;
  std::vector<cudaGraphExec_t> execs_;
  std::vector<void*> device_;
  std::vector<void*> pinned_;
  std::deque<gate> gates_;
  std::vector<std::shared_ptr<void>> kept_;
};

class conformance_capture : public runtime_test {};
class conformance_capture_modes : public runtime_test {};
class conformance_memory : public runtime_test {};
class conformance_events : public runtime_test {};
class conformance_device : public runtime_test {};

/// Runs `body` on a new thread and joins it (the thread has the default capture mode).
template <class F>
void on_another_thread(F body) {
  std::thread t(body);
  t.join();
}

// ---- capture basics -----------------------------------------------------------------------

TEST_F(conformance_capture, a_new_stream_is_not_capturing) {
  cudaStream_t s = stream();
  EXPECT_EQ(status(s), cudaStreamCaptureStatusNone);
}

TEST_F(conformance_capture, begin_capture_makes_the_stream_active_and_end_capture_ends_it) {
  cudaStream_t s = stream();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusActive);
  EXPECT_NE(end_capture(s, cudaSuccess), nullptr) << "an empty capture still gives a graph";
  EXPECT_EQ(status(s), cudaStreamCaptureStatusNone);
}

TEST_F(conformance_capture, a_captured_copy_and_host_function_replay_100_times_on_new_input) {
  constexpr std::size_t bytes = 4096;
  cudaStream_t s = stream();
  unsigned char* in = pinned(bytes);
  unsigned char* out = pinned(bytes);
  void* dev = device_memory(bytes);
  ASSERT_TRUE(in && out && dev);
  std::memset(out, 0xEE, bytes);
  auto& probe = keep<snapshot_probe>();
  probe.from = out;
  probe.bytes = bytes;

  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(dev, in, bytes, cudaMemcpyHostToDevice, s), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(out, dev, bytes, cudaMemcpyDeviceToHost, s), cudaSuccess);
  ASSERT_EQ(cudaLaunchHostFunc(s, take_snapshot, &probe), cudaSuccess);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusActive);
  cudaGraph_t graph = end_capture(s, cudaSuccess);
  ASSERT_NE(graph, nullptr);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(probe.calls.load(), 0) << "captured work ran during the capture";
  EXPECT_EQ(out[0], 0xEE);

  cudaGraphExec_t exec = instantiate(graph);
  ASSERT_NE(exec, nullptr);
  for (int i = 0; i < 100; ++i) {
    for (std::size_t j = 0; j < bytes; ++j) in[j] = static_cast<unsigned char>(i * 7 + j);
    ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess) << "replay " << i;
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess) << "replay " << i;
    ASSERT_EQ(probe.calls.load(), i + 1) << "replay " << i;
    ASSERT_EQ(std::memcmp(out, in, bytes), 0) << "replay " << i << ": output differs";
    ASSERT_EQ(probe.seen.size(), bytes);
    ASSERT_EQ(std::memcmp(probe.seen.data(), in, bytes), 0)
        << "replay " << i << ": the host function ran before the copies";
  }
}

TEST_F(conformance_capture, a_graph_executable_outlives_its_graph) {
  cudaStream_t s = stream();
  auto& calls = keep<std::atomic<int>>();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cudaLaunchHostFunc(s, count_call, &calls), cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  cudaGraphExec_t exec = instantiate(graph);
  ASSERT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  ASSERT_NE(exec, nullptr);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(conformance_capture, capture_cannot_begin_on_the_legacy_stream) {
  EXPECT_EQ(cudaStreamBeginCapture(cudaStreamLegacy, cudaStreamCaptureModeGlobal),
            cudaErrorStreamCaptureUnsupported);
  EXPECT_EQ(status(cudaStreamLegacy), cudaStreamCaptureStatusNone);
}

TEST_F(conformance_capture, a_second_begin_capture_on_a_capturing_stream_fails_illegal_state) {
  cudaStream_t s = stream();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaErrorIllegalState);
  end_capture(s, cudaSuccess);
}

TEST_F(conformance_capture, end_capture_on_a_stream_not_capturing_fails_illegal_state) {
  cudaStream_t s = stream();
  end_capture(s, cudaErrorIllegalState);
}

// The refused EndCapture ends the capture all the same, without a graph (CUDA 13 on an H100):
// the stream is no longer capturing, and a second EndCapture finds nothing to end.
TEST_F(conformance_capture,
       end_capture_from_another_thread_of_a_global_capture_fails_wrong_thread) {
  cudaStream_t s = stream();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  cudaError_t from_other = cudaSuccess;
  cudaGraph_t graph = nullptr;
  on_another_thread([&] { from_other = cudaStreamEndCapture(s, &graph); });
  EXPECT_EQ(from_other, cudaErrorStreamCaptureWrongThread) << name(from_other);
  EXPECT_EQ(graph, nullptr);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusNone) << "the refused EndCapture ended it";
  end_capture(s, cudaErrorIllegalState);
}

TEST_F(conformance_capture, end_capture_from_another_thread_of_a_relaxed_capture_succeeds) {
  cudaStream_t s = stream();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaSuccess);
  cudaError_t from_other = cudaErrorUnknown;
  cudaGraph_t graph = nullptr;
  on_another_thread([&] { from_other = cudaStreamEndCapture(s, &graph); });
  EXPECT_EQ(from_other, cudaSuccess) << name(from_other);
  EXPECT_NE(graph, nullptr);
  if (graph != nullptr) {
    EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  }
  EXPECT_EQ(status(s), cudaStreamCaptureStatusNone);
}

// ---- fork and join ------------------------------------------------------------------------

TEST_F(conformance_capture, a_stream_waiting_on_a_captured_event_joins_the_capture) {
  constexpr std::size_t bytes = 1024;
  cudaStream_t origin = stream();
  cudaStream_t side = stream();
  cudaEvent_t fork = event();
  cudaEvent_t join = event();
  unsigned char* in = pinned(bytes);
  unsigned char* out = pinned(bytes);
  void* dev = device_memory(bytes);
  ASSERT_TRUE(in && out && dev);

  ASSERT_EQ(cudaStreamBeginCapture(origin, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(dev, in, bytes, cudaMemcpyHostToDevice, origin), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(fork, origin), cudaSuccess);
  EXPECT_EQ(status(side), cudaStreamCaptureStatusNone);
  ASSERT_EQ(cudaStreamWaitEvent(side, fork, 0), cudaSuccess);
  EXPECT_EQ(status(side), cudaStreamCaptureStatusActive) << "the side stream joined";
  ASSERT_EQ(cudaMemcpyAsync(out, dev, bytes, cudaMemcpyDeviceToHost, side), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(join, side), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(origin, join, 0), cudaSuccess);
  cudaGraph_t graph = end_capture(origin, cudaSuccess);
  EXPECT_EQ(status(origin), cudaStreamCaptureStatusNone);
  EXPECT_EQ(status(side), cudaStreamCaptureStatusNone) << "EndCapture ends it for every stream";
  ASSERT_NE(graph, nullptr);

  cudaGraphExec_t exec = instantiate(graph);
  ASSERT_NE(exec, nullptr);
  for (int i = 0; i < 10; ++i) {
    std::memset(in, i + 1, bytes);
    ASSERT_EQ(cudaGraphLaunch(exec, origin), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(origin), cudaSuccess);
    ASSERT_EQ(out[0], static_cast<unsigned char>(i + 1)) << "replay " << i;
    ASSERT_EQ(out[bytes - 1], static_cast<unsigned char>(i + 1)) << "replay " << i;
  }
}

// The emulation ends the capture for every joined stream even when EndCapture fails.
TEST_F(conformance_capture, end_capture_fails_unjoined_when_a_forked_stream_is_not_joined_back) {
  cudaStream_t origin = stream();
  cudaStream_t side = stream();
  cudaEvent_t fork = event();
  auto& calls = keep<std::atomic<int>>();
  ASSERT_EQ(cudaStreamBeginCapture(origin, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(fork, origin), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(side, fork, 0), cudaSuccess);
  ASSERT_EQ(cudaLaunchHostFunc(side, count_call, &calls), cudaSuccess);
  end_capture(origin, cudaErrorStreamCaptureUnjoined);
  EXPECT_EQ(status(origin), cudaStreamCaptureStatusNone);
  EXPECT_EQ(status(side), cudaStreamCaptureStatusNone) << "the failed EndCapture ended it too";
  ASSERT_EQ(cudaStreamSynchronize(side), cudaSuccess);
  EXPECT_EQ(calls.load(), 0) << "captured work never runs";
}

// The refused EndCapture invalidates the capture, which goes on (CUDA 13 on an H100): no more
// work is taken on its streams, and EndCapture on the origin fails and ends it for all.
TEST_F(conformance_capture, end_capture_on_a_joined_stream_fails_unmatched) {
  cudaStream_t origin = stream();
  cudaStream_t side = stream();
  cudaEvent_t fork = event();
  cudaEvent_t join = event();
  ASSERT_EQ(cudaStreamBeginCapture(origin, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(fork, origin), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(side, fork, 0), cudaSuccess);
  end_capture(side, cudaErrorStreamCaptureUnmatched);
  EXPECT_EQ(status(side), cudaStreamCaptureStatusInvalidated);
  EXPECT_EQ(status(origin), cudaStreamCaptureStatusInvalidated);
  EXPECT_EQ(cudaEventRecord(join, side), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(cudaStreamWaitEvent(origin, join, 0), cudaErrorStreamCaptureInvalidated);
  end_capture(origin, cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(status(origin), cudaStreamCaptureStatusNone);
  EXPECT_EQ(status(side), cudaStreamCaptureStatusNone);
  end_capture(side, cudaErrorIllegalState);
}

TEST_F(conformance_capture, waiting_on_an_event_recorded_outside_the_capture_fails_isolation) {
  cudaStream_t s = stream();
  cudaStream_t other = stream();
  cudaEvent_t outside = event();
  ASSERT_EQ(cudaEventRecord(outside, other), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(other), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaStreamWaitEvent(s, outside, 0), cudaErrorStreamCaptureIsolation);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusInvalidated);
  end_capture(s, cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusNone);
}

// An event last recorded in a capture that ended has no work to ask about (CUDA 13 on an H100).
TEST_F(conformance_capture, an_event_recorded_in_a_capture_that_ended_is_invalid_value) {
  cudaStream_t s = stream();
  cudaStream_t other = stream();
  cudaEvent_t e = event();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, s), cudaSuccess);
  ASSERT_NE(end_capture(s, cudaSuccess), nullptr);
  EXPECT_EQ(cudaEventQuery(e), cudaErrorInvalidValue);
  EXPECT_EQ(cudaEventSynchronize(e), cudaErrorInvalidValue);
  EXPECT_EQ(cudaStreamWaitEvent(other, e, 0), cudaErrorInvalidValue);
  EXPECT_EQ(status(other), cudaStreamCaptureStatusNone);
}

// Copies with an end in pageable (unregistered) host memory are captured, both ways, and a
// replay reads and writes that memory as it is then (CUDA 13 on an H100).
TEST_F(conformance_capture, a_pageable_copy_in_a_capture_is_captured_and_replays) {
  constexpr std::size_t bytes = 256;
  cudaStream_t s = stream();
  void* dev = device_memory(bytes);
  ASSERT_NE(dev, nullptr);
  std::vector<unsigned char> in(bytes, 1);
  std::vector<unsigned char> out(bytes, 0);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(dev, in.data(), bytes, cudaMemcpyHostToDevice, s), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(out.data(), dev, bytes, cudaMemcpyDeviceToHost, s), cudaSuccess);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusActive);
  cudaGraph_t graph = end_capture(s, cudaSuccess);
  ASSERT_NE(graph, nullptr);
  EXPECT_EQ(out[0], 0) << "captured work ran during the capture";
  cudaGraphExec_t exec = instantiate(graph);
  ASSERT_NE(exec, nullptr);
  std::memset(in.data(), 7, bytes);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(out, in) << "the replay copied the pageable source as it was at the launch";
}

// ---- capture modes ------------------------------------------------------------------------

TEST_F(conformance_capture_modes, exchange_capture_mode_returns_the_previous_mode) {
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  ASSERT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  EXPECT_EQ(mode, cudaStreamCaptureModeGlobal) << "a thread starts in global mode";
  mode = cudaStreamCaptureModeThreadLocal;
  ASSERT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  EXPECT_EQ(mode, cudaStreamCaptureModeRelaxed);
  mode = cudaStreamCaptureModeGlobal;
  ASSERT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  EXPECT_EQ(mode, cudaStreamCaptureModeThreadLocal);
}

TEST_F(conformance_capture_modes, the_capture_mode_is_per_thread) {
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  ASSERT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  cudaStreamCaptureMode seen = cudaStreamCaptureModeRelaxed;
  on_another_thread([&] { (void)cudaThreadExchangeStreamCaptureMode(&seen); });
  EXPECT_EQ(seen, cudaStreamCaptureModeGlobal) << "another thread kept the default";
}

TEST_F(conformance_capture_modes,
       a_cuda_free_during_a_global_capture_fails_frees_nothing_and_invalidates) {
  cudaStream_t s = stream();
  void* p = nullptr;
  ASSERT_EQ(cudaMalloc(&p, 1 << 20), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaErrorStreamCaptureUnsupported);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusInvalidated);
  end_capture(s, cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(cudaFree(p), cudaSuccess) << "the refused cudaFree freed nothing";
}

// ---- calls that invalidate a capture, or may run beside one ---------------------------------

/// What a capture breaker works on: made before the capture begins, except what `call` allocates.
struct breaker_env {
  cudaStream_t s = nullptr;      // the capturing stream
  cudaStream_t other = nullptr;  // a stream that is not capturing
  cudaEvent_t event = nullptr;   // for `call` to record in the capture
  void* device = nullptr;        // cudaMalloc'ed by `call`; the fixture frees it
  void* host = nullptr;          // cudaHostAlloc'ed by `call`; the test frees it
};

/// One call made while `s` captures in `capture` mode: what it returns and what the capture is
/// then (active: EndCapture succeeds; invalidated: EndCapture fails invalidated). `after_end`,
/// where set, checks more once the capture has ended.
struct capture_breaker {
  const char* name;
  cudaStreamCaptureMode capture;
  cudaError_t (*call)(breaker_env&);
  cudaError_t want;
  cudaStreamCaptureStatus status;
  void (*after_end)(breaker_env&) = nullptr;
};

void PrintTo(const capture_breaker& c, std::ostream* os) {
  *os << c.name;
}

/// Runs `body` with this thread in capture mode `mode`, then restores the thread's mode.
template <class F>
cudaError_t in_mode(cudaStreamCaptureMode mode, F body) {
  EXPECT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  const cudaError_t got = body();
  EXPECT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  return got;
}

/// cudaMalloc of 1 MiB from a new thread in capture mode `mode` (global: the default).
cudaError_t malloc_on_another_thread(breaker_env& env, cudaStreamCaptureMode mode) {
  cudaError_t got = cudaErrorUnknown;
  on_another_thread([&] {
    if (mode != cudaStreamCaptureModeGlobal) {
      (void)cudaThreadExchangeStreamCaptureMode(&mode);
    }
    got = cudaMalloc(&env.device, 1 << 20);
  });
  return got;
}

cudaError_t malloc_here(breaker_env& env) {
  return cudaMalloc(&env.device, 1 << 20);
}

/// Records `env.event` in the capture, then queries (or synchronises) it twice: the first call
/// breaks the capture, the second finds an event of an invalidated capture.
template <cudaError_t (*Ask)(cudaEvent_t)>
cudaError_t ask_captured_event_twice(breaker_env& env) {
  EXPECT_EQ(cudaEventRecord(env.event, env.s), cudaSuccess);
  const cudaError_t got = Ask(env.event);
  EXPECT_EQ(Ask(env.event), cudaErrorInvalidValue);
  return got;
}

constexpr cudaStreamCaptureMode global = cudaStreamCaptureModeGlobal;
constexpr cudaStreamCaptureMode thread_local_mode = cudaStreamCaptureModeThreadLocal;
constexpr cudaStreamCaptureMode relaxed = cudaStreamCaptureModeRelaxed;
constexpr cudaError_t unsupported = cudaErrorStreamCaptureUnsupported;
constexpr cudaStreamCaptureStatus active = cudaStreamCaptureStatusActive;
constexpr cudaStreamCaptureStatus invalidated = cudaStreamCaptureStatusInvalidated;

const capture_breaker capture_breakers[] = {
    {"a_stream_synchronize_on_a_capturing_stream_invalidates_the_capture", global,
     [](breaker_env& env) { return cudaStreamSynchronize(env.s); }, unsupported, invalidated},
    {"a_stream_query_on_a_capturing_stream_invalidates_the_capture", global,
     [](breaker_env& env) { return cudaStreamQuery(env.s); }, unsupported, invalidated},
    {"a_stream_synchronize_in_relaxed_mode_still_invalidates_the_capture", relaxed,
     [](breaker_env& env) { return cudaStreamSynchronize(env.s); }, unsupported, invalidated},
    {"a_device_synchronize_during_a_global_capture_invalidates_it", global,
     [](breaker_env&) { return cudaDeviceSynchronize(); }, unsupported, invalidated},
    // The emulation treats every stream synchronisation as a potentially unsafe call in global
    // mode (the capturing stream is non-blocking, so the legacy stream does not encompass it).
    {"a_legacy_stream_synchronize_during_a_global_capture_invalidates_it", global,
     [](breaker_env&) { return cudaStreamSynchronize(cudaStreamLegacy); }, unsupported,
     invalidated},
    // As above: the emulation forbids cudaStreamQuery of any stream during a global capture.
    {"a_query_of_another_stream_during_a_global_capture_invalidates_it", global,
     [](breaker_env& env) {
       const cudaError_t got = cudaStreamQuery(env.other);
       EXPECT_EQ(runtime_test::status(env.other), cudaStreamCaptureStatusNone);
       return got;
     },
     unsupported, invalidated},
    // The event is checked before the capture mode (CUDA 13 on an H100): a global-mode thread
    // gets cudaErrorCapturedEvent, not cudaErrorStreamCaptureUnsupported, and the capture
    // breaks. Asked again, the event of the invalidated capture is cudaErrorInvalidValue.
    {"an_event_query_of_a_captured_event_in_global_mode_invalidates_it", global,
     ask_captured_event_twice<cudaEventQuery>, cudaErrorCapturedEvent, invalidated},
    {"an_event_synchronize_of_a_captured_event_in_global_mode_invalidates_it", global,
     ask_captured_event_twice<cudaEventSynchronize>, cudaErrorCapturedEvent, invalidated},
    // Relaxed mode changes nothing for a captured event (CUDA 13 on an H100): the first query is
    // cudaErrorCapturedEvent and invalidates the capture; after that the event is
    // cudaErrorInvalidValue, also once the capture has ended.
    {"a_relaxed_thread_querying_a_captured_event_gets_captured_event", global,
     [](breaker_env& env) {
       EXPECT_EQ(cudaEventRecord(env.event, env.s), cudaSuccess);
       return in_mode(relaxed, [&] {
         const cudaError_t got = cudaEventQuery(env.event);
         EXPECT_EQ(cudaEventSynchronize(env.event), cudaErrorInvalidValue);
         return got;
       });
     },
     cudaErrorCapturedEvent, invalidated,
     [](breaker_env& env) { EXPECT_EQ(cudaEventQuery(env.event), cudaErrorInvalidValue); }},
    {"a_cuda_malloc_in_the_capturing_thread_invalidates_a_global_capture", global, malloc_here,
     unsupported, invalidated},
    {"a_cuda_host_alloc_in_the_capturing_thread_invalidates_a_global_capture", global,
     [](breaker_env& env) { return cudaHostAlloc(&env.host, 1 << 20, cudaHostAllocDefault); },
     unsupported, invalidated},
    {"a_cuda_malloc_from_another_global_thread_invalidates_a_global_capture", global,
     [](breaker_env& env) { return malloc_on_another_thread(env, global); }, unsupported,
     invalidated},
    {"a_thread_local_thread_may_cuda_malloc_during_another_threads_global_capture", global,
     [](breaker_env& env) { return malloc_on_another_thread(env, thread_local_mode); }, cudaSuccess,
     active},
    {"a_relaxed_thread_may_cuda_malloc_during_another_threads_global_capture", global,
     [](breaker_env& env) { return malloc_on_another_thread(env, relaxed); }, cudaSuccess, active},
    {"the_capturing_thread_in_relaxed_mode_may_cuda_malloc_and_free", global,
     [](breaker_env&) {
       return in_mode(relaxed, [] {
         void* p = nullptr;
         const cudaError_t got = cudaMalloc(&p, 1 << 20);
         EXPECT_EQ(cudaFree(p), cudaSuccess);
         return got;
       });
     },
     cudaSuccess, active},
    {"a_global_thread_may_cuda_malloc_during_another_threads_thread_local_capture",
     thread_local_mode, [](breaker_env& env) { return malloc_on_another_thread(env, global); },
     cudaSuccess, active},
    {"a_cuda_malloc_in_the_capturing_thread_invalidates_a_thread_local_capture", thread_local_mode,
     malloc_here, unsupported, invalidated},
    {"the_capturing_thread_may_cuda_malloc_during_its_relaxed_capture", relaxed, malloc_here,
     cudaSuccess, active},
};

class conformance_capture_breaker : public runtime_test,
                                    public ::testing::WithParamInterface<capture_breaker> {};

TEST_P(conformance_capture_breaker, as_on_a_gpu) {
  const capture_breaker& c = GetParam();
  breaker_env env{stream(), stream(), event()};
  ASSERT_EQ(cudaStreamBeginCapture(env.s, c.capture), cudaSuccess);
  const cudaError_t got = c.call(env);
  adopt_device_memory(env.device);
  EXPECT_EQ(got, c.want) << name(got) << " instead of " << name(c.want);
  EXPECT_EQ(status(env.s), c.status);
  end_capture(env.s, c.status == active ? cudaSuccess : cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(status(env.s), cudaStreamCaptureStatusNone);
  if (c.after_end != nullptr) c.after_end(env);
  if (env.host != nullptr) {
    EXPECT_EQ(cudaFreeHost(env.host), cudaSuccess);
  }
}

INSTANTIATE_TEST_SUITE_P(calls, conformance_capture_breaker, ::testing::ValuesIn(capture_breakers),
                         [](const ::testing::TestParamInfo<capture_breaker>& info) {
                           return std::string(info.param.name);
                         });

// ---- memory -------------------------------------------------------------------------------

TEST_F(conformance_memory,
       an_impossible_cuda_malloc_fails_with_memory_allocation_and_is_not_sticky) {
  void* huge = nullptr;
  EXPECT_EQ(cudaMalloc(&huge, std::size_t{1} << 50), cudaErrorMemoryAllocation);
  adopt_device_memory(huge);
  void* small = nullptr;
  EXPECT_EQ(cudaMalloc(&small, std::size_t{1} << 20), cudaSuccess) << "the failure is not sticky";
  adopt_device_memory(small);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation) << "the last error, once";
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST_F(conformance_memory, cuda_free_of_null_succeeds) {
  EXPECT_EQ(cudaFree(nullptr), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(nullptr), cudaSuccess);
}

TEST_F(conformance_memory, pinned_memory_round_trips_through_device_memory) {
  constexpr std::size_t bytes = 1 << 16;
  cudaStream_t s = stream();
  unsigned char* in = pinned(bytes);
  unsigned char* out = pinned(bytes);
  void* dev = device_memory(bytes);
  ASSERT_TRUE(in && out && dev);
  for (std::size_t i = 0; i < bytes; ++i) in[i] = static_cast<unsigned char>(i * 13);
  std::memset(out, 0, bytes);
  ASSERT_EQ(cudaMemcpyAsync(dev, in, bytes, cudaMemcpyHostToDevice, s), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(out, dev, bytes, cudaMemcpyDeviceToHost, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(std::memcmp(in, out, bytes), 0);
}

TEST_F(conformance_memory, cuda_host_alloc_and_cuda_free_host_succeed) {
  void* p = nullptr;
  ASSERT_EQ(cudaHostAlloc(&p, 1 << 20, cudaHostAllocDefault), cudaSuccess);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x5A, 1 << 20);  // host memory: the host may touch it
  EXPECT_EQ(cudaFreeHost(p), cudaSuccess);
}

// The CUDA backend's pinned slabs: anonymous memory registered, copied through, unregistered.
TEST_F(conformance_memory, registered_host_memory_round_trips_through_device_memory) {
  constexpr std::size_t bytes = std::size_t{1} << 21;
  void* host = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(host, MAP_FAILED);
  auto* h = static_cast<unsigned char*>(host);
  for (std::size_t i = 0; i < bytes; ++i) h[i] = static_cast<unsigned char>(i * 7);
  ASSERT_EQ(cudaHostRegister(host, bytes, cudaHostRegisterPortable), cudaSuccess);
  EXPECT_EQ(cudaHostRegister(host, bytes, cudaHostRegisterPortable),
            cudaErrorHostMemoryAlreadyRegistered);
  EXPECT_EQ(cudaGetLastError(), cudaErrorHostMemoryAlreadyRegistered);
  void* dev = device_memory(bytes);
  cudaStream_t s = stream();
  ASSERT_EQ(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, s), cudaSuccess);
  std::vector<unsigned char> expected(h, h + bytes);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  std::memset(host, 0, bytes);
  ASSERT_EQ(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(std::memcmp(expected.data(), host, bytes), 0);
  EXPECT_EQ(cudaHostUnregister(host), cudaSuccess);
  ::munmap(host, bytes);
}

// ---- events and streams -------------------------------------------------------------------

TEST_F(conformance_events, an_event_never_recorded_queries_as_complete) {
  cudaEvent_t e = event();
  EXPECT_EQ(cudaEventQuery(e), cudaSuccess);
  EXPECT_EQ(cudaEventSynchronize(e), cudaSuccess);
}

TEST_F(conformance_events, an_event_query_is_not_ready_while_its_stream_is_held_then_success) {
  cudaStream_t s = stream();
  cudaEvent_t e = event();
  gate& held = new_gate();
  ASSERT_EQ(cudaLaunchHostFunc(s, wait_at_gate, &held), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, s), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(e), cudaErrorNotReady);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "not ready is no error (CUDA 13 on an H100)";
  EXPECT_EQ(cudaStreamQuery(s), cudaErrorNotReady);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "not ready is no error (CUDA 13 on an H100)";
  held.open = true;
  EXPECT_EQ(cudaEventSynchronize(e), cudaSuccess);
  EXPECT_FALSE(held.timed_out.load());
  EXPECT_EQ(cudaEventQuery(e), cudaSuccess);
  EXPECT_EQ(cudaStreamQuery(s), cudaSuccess);
}

TEST_F(conformance_events, a_stream_waiting_on_an_event_runs_after_the_recording_stream) {
  cudaStream_t first = stream();
  cudaStream_t second = stream();
  cudaEvent_t e = event();
  gate& held = new_gate();
  auto& after = keep<std::atomic<int>>();
  ASSERT_EQ(cudaLaunchHostFunc(first, wait_at_gate, &held), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, first), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(second, e, 0), cudaSuccess);
  ASSERT_EQ(cudaLaunchHostFunc(second, count_call, &after), cudaSuccess);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(after.load(), 0) << "the second stream ran before the event";
  EXPECT_EQ(cudaStreamQuery(second), cudaErrorNotReady);
  (void)cudaGetLastError();
  held.open = true;
  ASSERT_EQ(cudaStreamSynchronize(second), cudaSuccess);
  EXPECT_EQ(after.load(), 1);
  EXPECT_EQ(held.passed.load(), 1);
  EXPECT_FALSE(held.timed_out.load());
}

// The second stream's progress is seen through an event, not a host function: CUDA runs the host
// functions of a device's streams on one thread (an H100 held the second stream's host function
// behind the gate's), so a host function there would wait for the gate whatever the event did.
TEST_F(conformance_events, a_wait_covers_the_record_made_before_it_not_later_ones) {
  cudaStream_t first = stream();
  cudaStream_t second = stream();
  cudaEvent_t e = event();
  cudaEvent_t done = event();
  gate& held = new_gate();
  ASSERT_EQ(cudaEventRecord(e, first), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(first), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(second, e, 0), cudaSuccess);  // the completed record
  ASSERT_EQ(cudaLaunchHostFunc(first, wait_at_gate, &held), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, first), cudaSuccess);  // a later record does not matter
  ASSERT_EQ(cudaEventRecord(done, second), cudaSuccess);
  const auto deadline = std::chrono::steady_clock::now() + wait_limit / 2;
  cudaError_t got = cudaEventQuery(done);
  while (got == cudaErrorNotReady && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
    got = cudaEventQuery(done);
  }
  EXPECT_EQ(got, cudaSuccess) << name(got) << ": the second stream waited for the later record";
  EXPECT_EQ(held.passed.load(), 0) << "the gate was passed before the second stream finished";
  held.open = true;
  EXPECT_EQ(cudaStreamSynchronize(first), cudaSuccess);
  EXPECT_EQ(held.passed.load(), 1);
  EXPECT_FALSE(held.timed_out.load());
}

// CUDA runs the host functions of independent streams on one thread (an H100 did): a host
// function on a second stream waits for one blocked on the first. Held for 100 ms, not the gate.
TEST_F(conformance_events, host_functions_of_independent_streams_run_one_at_a_time) {
#ifdef PINPOOL_CONFORMANCE_EMULATED
  GTEST_SKIP() << "the emulation serialises host functions only when asked "
                  "(pinpool_emu::serialize_host_functions): a gap";
#endif
  cudaStream_t first = stream();
  cudaStream_t second = stream();
  auto& held = keep<hold_probe>();
  auto& after = keep<std::atomic<long long>>();
  ASSERT_EQ(cudaLaunchHostFunc(first, hold_100ms, &held), cudaSuccess);
  const auto deadline = std::chrono::steady_clock::now() + wait_limit;
  while (held.started.load() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_NE(held.started.load(), 0) << "the first host function never started";
  ASSERT_EQ(cudaLaunchHostFunc(second, stamp_now, &after), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(second), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(first), cudaSuccess);
  EXPECT_GE(after.load(), held.ended.load()) << "the second host function ran alongside";
}

TEST_F(conformance_events, stream_get_id_is_distinct_per_stream_and_stable) {
  cudaStream_t a = stream();
  cudaStream_t b = stream();
  unsigned long long id_a = 0;
  unsigned long long id_b = 0;
  unsigned long long again = 0;
  ASSERT_EQ(cudaStreamGetId(a, &id_a), cudaSuccess);
  ASSERT_EQ(cudaStreamGetId(b, &id_b), cudaSuccess);
  ASSERT_EQ(cudaStreamGetId(a, &again), cudaSuccess);
  EXPECT_NE(id_a, id_b);
  EXPECT_EQ(id_a, again);
}

TEST_F(conformance_events, stream_get_device_names_the_device_current_at_creation) {
  const int device = devices() - 1;
  ASSERT_EQ(cudaSetDevice(device), cudaSuccess);
  cudaStream_t s = stream();
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  int got = -1;
  ASSERT_EQ(cudaStreamGetDevice(s, &got), cudaSuccess);
  EXPECT_EQ(got, device);
}

TEST_F(conformance_events, an_event_record_on_a_stream_of_another_device_fails_invalid_handle) {
  if (devices() < 2) GTEST_SKIP() << "needs 2 devices, " << devices() << " present";
  cudaEvent_t e = event();  // device 0
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  cudaStream_t s = stream();
  EXPECT_EQ(cudaEventRecord(e, s), cudaErrorInvalidResourceHandle);
}

TEST_F(conformance_events, a_stream_may_wait_on_an_event_of_another_device) {
  if (devices() < 2) GTEST_SKIP() << "needs 2 devices, " << devices() << " present";
  cudaStream_t s0 = stream();
  cudaEvent_t e = event();
  ASSERT_EQ(cudaEventRecord(e, s0), cudaSuccess);
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  cudaStream_t s1 = stream();
  EXPECT_EQ(cudaStreamWaitEvent(s1, e, 0), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(s1), cudaSuccess);
}

// ---- devices ------------------------------------------------------------------------------

TEST_F(conformance_device, get_device_count_reports_at_least_one_device) {
  int n = 0;
  ASSERT_EQ(cudaGetDeviceCount(&n), cudaSuccess);
  EXPECT_GE(n, 1);
  EXPECT_EQ(n, devices());
}

TEST_F(conformance_device, set_device_out_of_range_fails_invalid_device) {
  EXPECT_EQ(cudaSetDevice(devices()), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaSetDevice(-1), cudaErrorInvalidDevice);
  int current = -1;
  ASSERT_EQ(cudaGetDevice(&current), cudaSuccess);
  EXPECT_EQ(current, 0) << "a failed cudaSetDevice changes nothing";
}

TEST_F(conformance_device, a_device_cannot_access_itself_as_a_peer) {
  int can = -1;
  ASSERT_EQ(cudaDeviceCanAccessPeer(&can, 0, 0), cudaSuccess);
  EXPECT_EQ(can, 0);
}

TEST_F(conformance_device, can_access_peer_with_an_out_of_range_device_fails_invalid_device) {
  int can = -1;
  EXPECT_EQ(cudaDeviceCanAccessPeer(&can, 0, devices()), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaDeviceCanAccessPeer(&can, devices(), 0), cudaErrorInvalidDevice);
}

TEST_F(conformance_device, enable_peer_access_to_an_out_of_range_peer_fails_invalid_device) {
  EXPECT_EQ(cudaDeviceEnablePeerAccess(devices(), 0), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaDeviceEnablePeerAccess(-1, 0), cudaErrorInvalidDevice);
}

// CUDA 13 on an H100: cudaErrorPeerAccessUnsupported, not cudaErrorInvalidDevice.
TEST_F(conformance_device, enable_peer_access_to_the_current_device_fails_peer_unsupported) {
  EXPECT_EQ(cudaDeviceEnablePeerAccess(0, 0), cudaErrorPeerAccessUnsupported);
}

TEST_F(conformance_device, enabling_peer_access_twice_fails_already_enabled) {
  if (devices() < 2) GTEST_SKIP() << "needs 2 devices, " << devices() << " present";
  int can = 0;
  ASSERT_EQ(cudaDeviceCanAccessPeer(&can, 0, 1), cudaSuccess);
  if (can == 0) GTEST_SKIP() << "devices 0 and 1 cannot access each other";
  const cudaError_t first = cudaDeviceEnablePeerAccess(1, 0);
  EXPECT_TRUE(first == cudaSuccess || first == cudaErrorPeerAccessAlreadyEnabled) << name(first);
  EXPECT_EQ(cudaDeviceEnablePeerAccess(1, 0), cudaErrorPeerAccessAlreadyEnabled);
}

}  // namespace
