// Stream capture and graphs in the CUDA runtime emulation (tests/emulation/cuda_emulation.hpp):
// what is captured, what replays, and the calls that break a capture on a GPU.

#include "emulation/cuda_emulation.hpp"
#include "emulation/violation_check.hpp"

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <thread>
#include <vector>

namespace {

class capture_test : public pinpool_emu::checked_test {
 protected:
  void SetUp() override {
    pinpool_emu::reset(2);
    pinpool_emu::checked_test::SetUp();
  }
  void TearDown() override {
    for (cudaStream_t s : streams_) cudaStreamDestroy(s);
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    pinpool_emu::checked_test::TearDown();
  }
  cudaStream_t stream() {
    cudaStream_t s = nullptr;
    EXPECT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    streams_.push_back(s);
    return s;
  }
  cudaEvent_t event() {
    cudaEvent_t e = nullptr;
    EXPECT_EQ(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), cudaSuccess);
    events_.push_back(e);
    return e;
  }
  static cudaStreamCaptureStatus status(cudaStream_t s) {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    EXPECT_EQ(cudaStreamIsCapturing(s, &st), cudaSuccess);
    return st;
  }

 private:
  std::vector<cudaStream_t> streams_;
  std::vector<cudaEvent_t> events_;
};

void count_call(void* n) {
  static_cast<std::atomic<int>*>(n)->fetch_add(1);
}

// The model: a per-frame chain captured once and replayed on new inputs. Nothing runs
// during the capture; every replay runs the copies and the host function in order.
TEST_F(capture_test, a_captured_chain_replays_100_times_on_new_inputs) {
  constexpr std::size_t bytes = 4096;
  cudaStream_t s = stream();
  void* in = nullptr;
  void* out = nullptr;
  void* dev = nullptr;
  ASSERT_EQ(cudaHostAlloc(&in, bytes, 0), cudaSuccess);
  ASSERT_EQ(cudaHostAlloc(&out, bytes, 0), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dev, bytes), cudaSuccess);
  std::memset(out, 0xEE, bytes);
  std::atomic<int> host_calls{0};

  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusActive);
  ASSERT_EQ(cudaMemcpyAsync(dev, in, bytes, cudaMemcpyHostToDevice, s), cudaSuccess);
  ASSERT_EQ(cudaLaunchHostFunc(s, count_call, &host_calls), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(out, dev, bytes, cudaMemcpyDeviceToHost, s), cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  ASSERT_NE(graph, nullptr);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusNone);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(host_calls.load(), 0) << "captured work ran during the capture";
  EXPECT_EQ(static_cast<unsigned char*>(out)[0], 0xEE);

  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphDestroy(graph), cudaSuccess);  // the executable keeps its own copy
  for (int i = 0; i < 100; ++i) {
    std::memset(in, i, bytes);
    ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    const auto* got = static_cast<const unsigned char*>(out);
    ASSERT_EQ(got[0], static_cast<unsigned char>(i)) << "replay " << i;
    ASSERT_EQ(got[bytes - 1], static_cast<unsigned char>(i)) << "replay " << i;
  }
  EXPECT_EQ(host_calls.load(), 100);
  const pinpool_emu::counters c = pinpool_emu::get_counters();
  EXPECT_EQ(c.count("cudaMemcpyAsync"), 2u) << "replays are not runtime calls";
  EXPECT_EQ(c.count("cudaGraphLaunch"), 100u);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaFree(dev), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(in), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(out), cudaSuccess);
}

// A second stream joins by waiting on an event recorded in the capture, and must be joined back.
TEST_F(capture_test, a_forked_stream_joins_the_capture_and_must_be_joined_back) {
  cudaStream_t origin = stream();
  cudaStream_t side = stream();
  cudaEvent_t fork = event();
  cudaEvent_t join = event();
  void* a = nullptr;
  void* b = nullptr;
  ASSERT_EQ(cudaMalloc(&a, 256), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&b, 256), cudaSuccess);
  for (bool joined : {true, false}) {
    ASSERT_EQ(cudaStreamBeginCapture(origin, cudaStreamCaptureModeGlobal), cudaSuccess);
    ASSERT_EQ(cudaEventRecord(fork, origin), cudaSuccess);
    ASSERT_EQ(cudaStreamWaitEvent(side, fork, 0), cudaSuccess);
    EXPECT_EQ(status(side), cudaStreamCaptureStatusActive) << "the side stream joined";
    ASSERT_EQ(cudaMemcpyAsync(b, a, 256, cudaMemcpyDeviceToDevice, side), cudaSuccess);
    EXPECT_EQ(cudaStreamEndCapture(side, nullptr), cudaErrorInvalidValue);
    cudaGraph_t graph = nullptr;
    if (joined) {
      ASSERT_EQ(cudaEventRecord(join, side), cudaSuccess);
      ASSERT_EQ(cudaStreamWaitEvent(origin, join, 0), cudaSuccess);
      EXPECT_EQ(cudaStreamEndCapture(origin, &graph), cudaSuccess);
      EXPECT_NE(graph, nullptr);
      EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
    } else {
      EXPECT_EQ(cudaStreamEndCapture(origin, &graph), cudaErrorStreamCaptureUnjoined);
      EXPECT_EQ(graph, nullptr);
      pinpool_emu::expect_violation("never joined back");
    }
    EXPECT_EQ(status(side), cudaStreamCaptureStatusNone) << "the capture ended for every stream";
  }
  // EndCapture on the joined stream, not the origin: cudaErrorStreamCaptureUnmatched, and the
  // capture goes on invalidated (as on an H100): it takes no more work and gives no graph.
  ASSERT_EQ(cudaStreamBeginCapture(origin, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(fork, origin), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(side, fork, 0), cudaSuccess);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(side, &graph), cudaErrorStreamCaptureUnmatched);
  EXPECT_EQ(graph, nullptr);
  EXPECT_EQ(status(side), cudaStreamCaptureStatusInvalidated);
  EXPECT_EQ(status(origin), cudaStreamCaptureStatusInvalidated);
  EXPECT_EQ(cudaMemcpyAsync(b, a, 256, cudaMemcpyDeviceToDevice, side),
            cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(cudaEventRecord(join, side), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(cudaStreamWaitEvent(origin, join, 0), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(cudaStreamEndCapture(origin, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(graph, nullptr);
  EXPECT_EQ(status(side), cudaStreamCaptureStatusNone) << "the capture ended for every stream";
  // A record made in a capture that ended has no work to ask about: cudaErrorInvalidValue.
  EXPECT_EQ(cudaEventQuery(fork), cudaErrorInvalidValue) << "a captured record has no work";
  pinpool_emu::expect_violation("last recorded in a stream capture");
  EXPECT_EQ(cudaStreamWaitEvent(side, fork, 0), cudaErrorInvalidValue);
  pinpool_emu::expect_violation("last recorded in a capture that ended");
  cudaGetLastError();
  EXPECT_EQ(cudaFree(a), cudaSuccess);
  EXPECT_EQ(cudaFree(b), cudaSuccess);
}

// What a pool must not do in a capture: wait on an event recorded outside it, query or
// synchronise (an event recorded in the capture too), allocate or free (each invalidates the
// capture on a GPU).
TEST_F(capture_test, calls_that_break_a_capture_invalidate_it) {
  cudaStream_t s = stream();
  cudaStream_t other = stream();
  cudaEvent_t outside = event();
  ASSERT_EQ(cudaEventRecord(outside, other), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(other), cudaSuccess);
  void* p = nullptr;
  cudaEvent_t captured = event();
  void* dev = nullptr;
  ASSERT_EQ(cudaMalloc(&dev, 64), cudaSuccess);
  struct breaker {
    const char* name;
    cudaError_t expected;
    const char* violation;
    std::function<cudaError_t()> call;
  };
  const std::vector<breaker> breakers = {
      {"wait outside", cudaErrorStreamCaptureIsolation, "recorded outside the capture",
       [&] { return cudaStreamWaitEvent(s, outside, 0); }},
      {"event query", cudaErrorStreamCaptureUnsupported, "cudaEventQuery while",
       [&] { return cudaEventQuery(outside); }},
      {"captured event query", cudaErrorCapturedEvent, "last recorded in a stream capture",
       [&] {
         EXPECT_EQ(cudaEventRecord(captured, s), cudaSuccess);
         return cudaEventQuery(captured);
       }},
      {"stream sync", cudaErrorStreamCaptureUnsupported, "cudaStreamSynchronize while",
       [&] { return cudaStreamSynchronize(other); }},
      {"malloc", cudaErrorStreamCaptureUnsupported, "cudaMalloc while",
       [&] { return cudaMalloc(&p, 64); }},
      {"free", cudaErrorStreamCaptureUnsupported, "cudaFree while", [&] { return cudaFree(dev); }},
  };
  for (const breaker& b : breakers) {
    SCOPED_TRACE(b.name);
    ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    EXPECT_EQ(b.call(), b.expected);
    pinpool_emu::expect_violation(b.violation);
    EXPECT_EQ(status(s), cudaStreamCaptureStatusInvalidated);
    cudaGraph_t graph = nullptr;
    EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
    EXPECT_EQ(graph, nullptr);
  }
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(cudaFree(dev), cudaSuccess) << "the refused free freed nothing";
  cudaGetLastError();
}

// The capture modes: a global capture forbids unsafe calls on every thread in global mode; a
// thread-local one only on its own thread; relaxed mode (cudaThreadExchangeStreamCaptureMode)
// lifts the rule for the calling thread, as PyTorch's allocator does around cudaMalloc.
TEST_F(capture_test, capture_modes_decide_who_may_allocate) {
  cudaStream_t s = stream();
  auto malloc_elsewhere = [](cudaStreamCaptureMode mode) {
    cudaError_t result = cudaSuccess;
    std::thread([&] {
      cudaStreamCaptureMode m = mode;
      cudaThreadExchangeStreamCaptureMode(&m);
      void* p = nullptr;
      result = cudaMalloc(&p, 64);
      if (result == cudaSuccess) cudaFree(p);
    }).join();
    return result;
  };
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(malloc_elsewhere(cudaStreamCaptureModeThreadLocal), cudaSuccess);
  EXPECT_EQ(malloc_elsewhere(cudaStreamCaptureModeRelaxed), cudaSuccess);
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  ASSERT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  EXPECT_EQ(mode, cudaStreamCaptureModeGlobal) << "the previous mode is handed back";
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 64), cudaSuccess) << "relaxed on the capturing thread";
  ASSERT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusActive);
  EXPECT_EQ(malloc_elsewhere(cudaStreamCaptureModeGlobal), cudaErrorStreamCaptureUnsupported);
  pinpool_emu::expect_violation("cudaMalloc while a stream capture forbids it");
  EXPECT_EQ(status(s), cudaStreamCaptureStatusInvalidated);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);

  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  EXPECT_EQ(malloc_elsewhere(cudaStreamCaptureModeGlobal), cudaSuccess)
      << "a thread-local capture does not bind other threads";
  EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
  cudaGetLastError();
}

// Pageable (unregistered) host memory may be captured, both ways, as on CUDA 13 (an H100): a
// replay reads and writes that memory when it runs.
TEST_F(capture_test, pageable_copies_are_captured_and_replayed) {
  constexpr std::size_t bytes = 256;
  cudaStream_t s = stream();
  void* dev = nullptr;
  ASSERT_EQ(cudaMalloc(&dev, bytes), cudaSuccess);
  std::vector<unsigned char> in(bytes, 1);
  std::vector<unsigned char> out(bytes, 0);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(dev, in.data(), bytes, cudaMemcpyHostToDevice, s), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(out.data(), dev, bytes, cudaMemcpyDeviceToHost, s), cudaSuccess);
  EXPECT_EQ(status(s), cudaStreamCaptureStatusActive);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  EXPECT_EQ(out[0], 0) << "nothing ran during the capture";
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  std::memset(in.data(), 7, bytes);
  EXPECT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(out, in) << "the replay read the pageable source as it was then";
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(cudaFree(dev), cudaSuccess);
}

// The failure graph-private memory guards against: memory a graph's copies use, freed while the
// graph may still be launched. A replay then reports each copy that touches it.
TEST_F(capture_test, a_replay_after_its_memory_was_freed_is_reported) {
  cudaStream_t s = stream();
  void* host = nullptr;
  void* dev = nullptr;
  ASSERT_EQ(cudaHostAlloc(&host, 256, 0), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dev, 256), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(dev, host, 256, cudaMemcpyHostToDevice, s), cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaFree(dev), cudaSuccess);
  EXPECT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  pinpool_emu::expect_violation("touches memory freed since the capture");
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaErrorInvalidResourceHandle);
  pinpool_emu::expect_violation("graph");
  EXPECT_EQ(cudaFreeHost(host), cudaSuccess);
  cudaGetLastError();
}

}  // namespace
