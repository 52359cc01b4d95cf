// graph_scope on the emulated runtime (docs/design.md, "CUDA Graphs"): acquiring and releasing
// while a stream is captured, replaying the graph, and when the memory goes back to the pool.
// The emulation invalidates a capture on any call that would break it on a GPU (an event query,
// a stream synchronisation, cudaMalloc in a global capture, ...) and reports it as a violation,
// which fails the test (checked_test).
#include "emulation/violation_check.hpp"

#include <pinpool/pinpool.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t frame_bytes = 64 * 1024;

class graph_scope_test : public pinpool_emu::checked_test {
 protected:
  void SetUp() override {
    pinpool_emu::reset(2);
    pinpool_emu::checked_test::SetUp();
    be_ = pinpool::make_backend(pinpool::backend_kind::cuda);
  }
  pinpool::pool_options options(pinpool::memory_kind kind) const {
    pinpool::pool_options o;
    o.kind = kind;
    o.name = kind == pinpool::memory_kind::device ? "graph-device" : "graph-pinned";
    return o;
  }
  static cudaStream_t native(const pinpool::stream& s) {
    return static_cast<cudaStream_t>(s.native_handle());
  }
  static cudaStreamCaptureStatus status(cudaStream_t s) {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    EXPECT_EQ(cudaStreamIsCapturing(s, &st), cudaSuccess);
    return st;
  }
  /// Ends the capture begun on `s`, expecting it valid; instantiates it.
  static cudaGraphExec_t end_and_instantiate(cudaStream_t s) {
    cudaGraph_t graph = nullptr;
    EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess) << "the capture was invalidated";
    if (graph == nullptr) return nullptr;
    cudaGraphExec_t exec = nullptr;
    EXPECT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
    return exec;
  }

  std::shared_ptr<pinpool::backend> be_;
};

// Runtime calls by entry point between two counter snapshots.
std::map<std::string, std::uint64_t> calls_between(const pinpool_emu::counters& before,
                                                   const pinpool_emu::counters& after) {
  std::map<std::string, std::uint64_t> d;
  for (const auto& [name, n] : after.calls) {
    const std::uint64_t was = before.count(name);
    if (n != was) d[name] = n - was;
  }
  return d;
}

// A replayable host function (pinpool's stream_ref::launch_host_func frees its functor after
// one call): adds 1 to every byte of a pinned frame.
struct frame_arg {
  unsigned char* frame;
  std::size_t bytes;
};
void add_one(void* p) {
  const auto* a = static_cast<const frame_arg*>(p);
  for (std::size_t i = 0; i < a->bytes; ++i)
    a->frame[i] = static_cast<unsigned char>(a->frame[i] + 1);
}

unsigned char input_byte(int frame, std::size_t i) {
  return static_cast<unsigned char>(frame * 7 + static_cast<int>(i % 251));
}

// The test: a per-frame chain (pinned input -> device -> device -> pinned output -> host
// function) captured once, acquiring and releasing inside the capture, replayed 100 times on new
// inputs. The pool makes no runtime call during the replays: the replays' only calls are the
// test's own launches and synchronisations.
TEST_F(graph_scope_test, a_captured_frame_chain_replays_100_times_with_no_pool_call) {
  pinpool::pool pinned(be_, options(pinpool::memory_kind::pinned_host));
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  frame_arg arg{nullptr, frame_bytes};
  unsigned char* in_ptr = nullptr;
  cudaGraphExec_t exec = nullptr;
  {
    const auto before_capture = pinpool_emu::get_counters();
    ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
    pinpool::graph_scope pinned_scope(pinned, s);
    pinpool::graph_scope device_scope(device, s);
    {
      pinpool::buffer in = pinned.acquire(frame_bytes, s);
      pinpool::buffer out = pinned.acquire(frame_bytes, s);
      in_ptr = static_cast<unsigned char*>(in.data());
      arg.frame = static_cast<unsigned char*>(out.data());
      pinpool::buffer dev = device.acquire(frame_bytes, s);
      void* const dev_ptr = dev.data();
      s.memcpy_async(dev.data(), in.data(), frame_bytes);
      pinpool::buffer tmp = device.acquire(frame_bytes, s);
      s.memcpy_async(tmp.data(), dev.data(), frame_bytes);
      dev.reset();  // released inside the capture: the scope's, reusable on s
      pinpool::buffer dev2 = device.acquire(frame_bytes, s);
      EXPECT_EQ(dev2.data(), dev_ptr) << "a chunk released earlier in the capture on the same "
                                         "stream was not reused";
      s.memcpy_async(dev2.data(), tmp.data(), frame_bytes);
      s.memcpy_async(out.data(), dev2.data(), frame_bytes);
      ASSERT_EQ(cudaLaunchHostFunc(native(s), add_one, &arg), cudaSuccess);
    }  // every buffer released inside the capture
    EXPECT_EQ(status(native(s)), cudaStreamCaptureStatusActive);
    exec = end_and_instantiate(native(s));
    ASSERT_NE(exec, nullptr);
    const auto during = calls_between(before_capture, pinpool_emu::get_counters());
    for (const char* forbidden :
         {"cudaEventRecord", "cudaEventQuery", "cudaEventSynchronize", "cudaStreamWaitEvent",
          "cudaStreamSynchronize", "cudaStreamQuery", "cudaDeviceSynchronize"}) {
      EXPECT_EQ(during.count(forbidden), 0u) << forbidden << " during the capture";
    }

    const pinpool::pool_stats pinned_before = pinned.stats();
    const pinpool::pool_stats device_before = device.stats();
    const auto before = pinpool_emu::get_counters();
    for (int frame = 0; frame < 100; ++frame) {
      for (std::size_t i = 0; i < frame_bytes; ++i) in_ptr[i] = input_byte(frame, i);
      ASSERT_EQ(cudaGraphLaunch(exec, native(s)), cudaSuccess);
      ASSERT_EQ(cudaStreamSynchronize(native(s)), cudaSuccess);
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < frame_bytes; ++i) {
        wrong += arg.frame[i] != static_cast<unsigned char>(input_byte(frame, i) + 1) ? 1 : 0;
      }
      ASSERT_EQ(wrong, 0u) << "frame " << frame << ": wrong output bytes";
    }
    const auto after = pinpool_emu::get_counters();
    const std::map<std::string, std::uint64_t> expected{{"cudaGraphLaunch", 100},
                                                        {"cudaStreamSynchronize", 100}};
    EXPECT_EQ(calls_between(before, after), expected);
    EXPECT_EQ(after.malloc_calls, before.malloc_calls);
    EXPECT_EQ(after.host_alloc_calls, before.host_alloc_calls);
    EXPECT_EQ(after.event_create_calls, before.event_create_calls);
    EXPECT_EQ(pinned.stats().acquisitions, pinned_before.acquisitions);
    EXPECT_EQ(device.stats().bytes_in_use, device_before.bytes_in_use);
    EXPECT_GT(device_before.bytes_in_use, 0u) << "the graph's memory is the scope's until its end";
    EXPECT_EQ(pinned_before.bytes_in_use, 2 * pinned.chunk_size_for(frame_bytes));
    EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  }  // the scopes end: their chunks go back behind s
  EXPECT_EQ(pinned.stats().bytes_in_use, 0u);
  EXPECT_EQ(device.stats().bytes_in_use, 0u);
  EXPECT_EQ(device.stats().outstanding_buffers, 0u);
  const auto before_reuse = pinpool_emu::get_counters();
  pinpool::buffer again = pinned.acquire(frame_bytes, s);
  EXPECT_EQ(pinpool_emu::get_counters().host_alloc_calls, before_reuse.host_alloc_calls)
      << "the scope's memory did not return to the pool";
  s.synchronize();
}

TEST_F(graph_scope_test, acquiring_on_a_capturing_stream_without_a_scope_names_graph_scope) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  device.acquire(4096).reset();  // idle memory: the host acquisition below makes no call
  ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
  try {
    pinpool::buffer b = device.acquire(4096, s);
    ADD_FAILURE() << "an acquisition on a capturing stream with no scope was accepted";
  } catch (const pinpool::error& e) {
    EXPECT_NE(std::string(e.what()).find("graph_scope"), std::string::npos) << e.what();
  }
  pinpool::buffer host = device.acquire(4096);  // host acquisitions work as before
  EXPECT_NE(host.data(), nullptr);
  cudaGraphExec_t exec = end_and_instantiate(native(s));
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
}

TEST_F(graph_scope_test, a_scope_needs_a_capturing_stream_and_one_per_capture) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  try {
    pinpool::graph_scope scope(device, s);
    ADD_FAILURE() << "a scope for a stream not being captured was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not being captured"), std::string::npos) << e.what();
  }
  ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
  {
    pinpool::graph_scope scope(device, s);
    EXPECT_THROW(pinpool::graph_scope second(device, s), std::invalid_argument);
    cudaGraphExec_t exec = end_and_instantiate(native(s));
    EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  }
  pinpool::pool_options no_detect = options(pinpool::memory_kind::device);
  no_detect.detect_capture = false;
  pinpool::pool blind(be_, no_detect);
  ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_THROW(pinpool::graph_scope scope(blind, s), std::invalid_argument);
  cudaGraphExec_t exec = end_and_instantiate(native(s));
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
}

// The scope's chunks stay out of the pool (in use in its stats) until the scope is destroyed,
// then come back behind the scope's stream.
TEST_F(graph_scope_test, memory_returns_to_the_pool_only_when_the_scope_is_destroyed) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  const std::size_t chunk = device.chunk_size_for(4096);
  void* in_graph = nullptr;
  {
    ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
    pinpool::graph_scope scope(device, s);
    {
      pinpool::buffer b = device.acquire(4096, s);
      in_graph = b.data();
      EXPECT_EQ(scope.bytes_held(), chunk);
    }
    EXPECT_EQ(scope.bytes_held(), chunk) << "a release inside the capture left the scope";
    cudaGraphExec_t exec = end_and_instantiate(native(s));
    EXPECT_EQ(device.stats().bytes_in_use, chunk);
    EXPECT_EQ(device.stats().bytes_requested, 0u);
    pinpool::buffer outside = device.acquire(4096, s);  // the pool does not have it
    EXPECT_NE(outside.data(), in_graph);
    EXPECT_EQ(cudaGraphLaunch(exec, native(s)), cudaSuccess);
    EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  }
  EXPECT_EQ(device.stats().bytes_in_use, 0u);
  std::vector<pinpool::buffer> all;
  all.push_back(device.acquire(4096, s));
  all.push_back(device.acquire(4096, s));
  EXPECT_TRUE(all[0].data() == in_graph || all[1].data() == in_graph)
      << "the scope's chunk did not come back to the pool";
  s.synchronize();
}

// The rule for a chunk acquired outside the capture and released inside it: the capture's scope
// adopts it (never reused in the capture: work outside the graph may still use it), and it goes
// back to the pool when the scope ends, behind the scope's stream and its own.
TEST_F(graph_scope_test, a_buffer_from_outside_released_inside_is_kept_until_the_scope_ends) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  const std::size_t chunk = device.chunk_size_for(4096);
  pinpool::buffer before = device.acquire(4096, s);
  void* const outside = before.data();
  {
    ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
    pinpool::graph_scope scope(device, s);
    before.reset();  // released inside the capture: adopted
    EXPECT_EQ(scope.bytes_held(), chunk);
    {
      pinpool::buffer during = device.acquire(4096, s);
      EXPECT_NE(during.data(), outside) << "an adopted chunk was reused inside the capture";
    }
    cudaGraphExec_t exec = end_and_instantiate(native(s));
    EXPECT_EQ(device.stats().bytes_in_use, 2 * chunk);
    EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  }
  EXPECT_EQ(device.stats().bytes_in_use, 0u);
  std::vector<pinpool::buffer> all;
  all.push_back(device.acquire(4096, s));
  all.push_back(device.acquire(4096, s));
  EXPECT_TRUE(all[0].data() == outside || all[1].data() == outside);
  s.synchronize();
}

// Without a scope, a release inside a capture still quarantines the chunk (as before).
TEST_F(graph_scope_test, without_a_scope_a_release_inside_a_capture_is_never_reused) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  pinpool::buffer before = device.acquire(4096, s);
  void* const first = before.data();
  std::vector<std::string> logged;
  pinpool::log_sink old = pinpool::set_log_sink([&](const std::string& m) { logged.push_back(m); });
  ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
  before.reset();
  cudaGraphExec_t exec = end_and_instantiate(native(s));
  pinpool::set_log_sink(old);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("graph_scope"), std::string::npos) << logged[0];
  pinpool::buffer after = device.acquire(4096, s);
  EXPECT_NE(after.data(), first);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  s.synchronize();
}

// Destroying the scope before the capture ends: the graph may still be instantiated with the
// chunks' addresses, so they are never reused (and the log says so); the capture goes on.
TEST_F(graph_scope_test, a_scope_destroyed_during_its_capture_never_reuses_its_chunks) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  std::vector<std::string> logged;
  pinpool::log_sink old = pinpool::set_log_sink([&](const std::string& m) { logged.push_back(m); });
  ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
  void* in_graph = nullptr;
  {
    pinpool::graph_scope scope(device, s);
    pinpool::buffer b = device.acquire(4096, s);
    in_graph = b.data();
  }
  pinpool::set_log_sink(old);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("capture is active"), std::string::npos) << logged[0];
  EXPECT_EQ(status(native(s)), cudaStreamCaptureStatusActive);
  cudaGraphExec_t exec = end_and_instantiate(native(s));
  EXPECT_EQ(device.stats().bytes_in_use, 0u);
  pinpool::buffer after = device.acquire(4096, s);
  EXPECT_NE(after.data(), in_graph);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  s.synchronize();
}

// A stream joined into the capture (waiting on an event recorded in it) acquires through the
// same scope; its releases are reused on that stream only, and the origin's on the origin only.
TEST_F(graph_scope_test, a_joined_stream_acquires_through_the_captures_scope) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  pinpool::stream joined = be_->create_stream();
  cudaEvent_t fork = nullptr;
  cudaEvent_t join = nullptr;
  ASSERT_EQ(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&join, cudaEventDisableTiming), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
  {
    pinpool::graph_scope scope(device, s);
    ASSERT_EQ(cudaEventRecord(fork, native(s)), cudaSuccess);
    ASSERT_EQ(cudaStreamWaitEvent(native(joined), fork, 0), cudaSuccess);
    void* on_origin = nullptr;
    {
      pinpool::buffer a = device.acquire(4096, s);
      on_origin = a.data();
    }
    pinpool::buffer b = device.acquire(4096, joined);
    EXPECT_NE(b.data(), on_origin) << "a chunk released on another captured stream was reused";
    void* const on_joined = b.data();
    b.reset();
    pinpool::buffer c = device.acquire(4096, joined);
    EXPECT_EQ(c.data(), on_joined);
    c.reset();
    ASSERT_EQ(cudaEventRecord(join, native(joined)), cudaSuccess);
    ASSERT_EQ(cudaStreamWaitEvent(native(s), join, 0), cudaSuccess);
    cudaGraphExec_t exec = end_and_instantiate(native(s));
    EXPECT_EQ(scope.bytes_held(), 2 * device.chunk_size_for(4096));
    EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  }
  EXPECT_EQ(device.stats().bytes_in_use, 0u);
  s.synchronize();
  EXPECT_EQ(cudaEventDestroy(fork), cudaSuccess);
  EXPECT_EQ(cudaEventDestroy(join), cudaSuccess);
}

// cudaMallocAsync-style code in a capture: allocate/deallocate on the captured stream reuse the
// same chunk as buffers do.
TEST_F(graph_scope_test, raw_pointers_in_a_capture_are_reused_on_the_same_stream) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
  {
    pinpool::graph_scope scope(device, s);
    void* p = device.allocate(4096, s);
    device.deallocate(p, s);
    void* q = device.allocate(4096, s);
    EXPECT_EQ(q, p);
    device.deallocate(q, s);
    cudaGraphExec_t exec = end_and_instantiate(native(s));
    EXPECT_EQ(device.stats().outstanding_buffers, 1u) << "the scope's chunk";
    EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  }
  EXPECT_EQ(device.stats().outstanding_buffers, 0u);
  s.synchronize();
}

// The pool handle may go first: the scope keeps the pool's memory until it ends.
TEST_F(graph_scope_test, a_scope_may_outlive_its_pool) {
  pinpool::stream s = be_->create_stream();
  auto device = std::make_unique<pinpool::pool>(be_, options(pinpool::memory_kind::device));
  ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
  auto scope = std::make_unique<pinpool::graph_scope>(*device, s);
  device->acquire(4096, s).reset();
  cudaGraphExec_t exec = end_and_instantiate(native(s));
  std::vector<std::string> logged;
  pinpool::log_sink old = pinpool::set_log_sink([&](const std::string& m) { logged.push_back(m); });
  device.reset();
  EXPECT_EQ(cudaGraphLaunch(exec, native(s)), cudaSuccess);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  scope.reset();  // the last holder: the pool's memory goes now
  pinpool::set_log_sink(old);
  s.synchronize();
  EXPECT_EQ(pinpool_emu::live_allocations(), 0u) << "the pool's memory was not released";
}

// Replays launched on another stream: release_after makes the scope's end wait for them too.
// The host function of the replay holds a gate; until it opens, the chunk is not handed to the
// host.
struct gate_arg {
  std::atomic<bool> open{false};
  std::atomic<bool> ran{false};
};
void wait_for_gate(void* p) {
  auto* g = static_cast<gate_arg*>(p);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!g->open.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  g->ran.store(true);
}

TEST_F(graph_scope_test, release_after_waits_for_replays_on_another_stream) {
  pinpool::pool pinned(be_, options(pinpool::memory_kind::pinned_host));
  pinpool::stream s = be_->create_stream();
  pinpool::stream launch = be_->create_stream();
  gate_arg gate;
  void* in_graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  {
    ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
    pinpool::graph_scope scope(pinned, s);
    scope.release_after(launch);
    {
      pinpool::buffer b = pinned.acquire(4096, s);
      in_graph = b.data();
      ASSERT_EQ(cudaLaunchHostFunc(native(s), wait_for_gate, &gate), cudaSuccess);
    }
    exec = end_and_instantiate(native(s));
    ASSERT_NE(exec, nullptr);
    ASSERT_EQ(cudaGraphLaunch(exec, native(launch)), cudaSuccess);
  }  // the replay on `launch` is still held by the gate
  pinpool::buffer host = pinned.acquire(4096);
  EXPECT_NE(host.data(), in_graph) << "handed to the host while a replay may still use it";
  gate.open.store(true);
  launch.synchronize();
  s.synchronize();  // the release's event on s is signalled by s's worker, asynchronously
  EXPECT_TRUE(gate.ran.load());
  EXPECT_EQ(pinned.stats().bytes_pending, 0u);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
}

// Two threads acquire and release through one scope at once, each on its own stream of the
// capture (the origin and a joined stream): each reuses only its own stream's chunks, and the
// capture stays valid. Run under TSan too.
TEST_F(graph_scope_test, two_threads_use_one_scope_on_two_streams_of_a_capture) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::stream s = be_->create_stream();
  pinpool::stream joined = be_->create_stream();
  cudaEvent_t fork = nullptr;
  cudaEvent_t join = nullptr;
  ASSERT_EQ(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&join, cudaEventDisableTiming), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(native(s), cudaStreamCaptureModeGlobal), cudaSuccess);
  {
    pinpool::graph_scope scope(device, s);
    ASSERT_EQ(cudaEventRecord(fork, native(s)), cudaSuccess);
    ASSERT_EQ(cudaStreamWaitEvent(native(joined), fork, 0), cudaSuccess);
    auto churn = [&](const pinpool::stream& on, std::vector<void*>& seen) {
      for (int i = 0; i < 200; ++i) {
        pinpool::buffer b = device.acquire(4096 << (i % 3), on);
        seen.push_back(b.data());
      }
    };
    std::vector<void*> on_origin;
    std::vector<void*> on_joined;
    std::thread other([&] { churn(joined, on_joined); });
    churn(s, on_origin);
    other.join();
    for (void* p : on_joined) {
      EXPECT_EQ(std::count(on_origin.begin(), on_origin.end(), p), 0)
          << "a chunk went from one captured stream to another";
    }
    ASSERT_EQ(cudaEventRecord(join, native(joined)), cudaSuccess);
    ASSERT_EQ(cudaStreamWaitEvent(native(s), join, 0), cudaSuccess);
    cudaGraphExec_t exec = end_and_instantiate(native(s));
    EXPECT_LE(scope.bytes_held(), 2 * (device.chunk_size_for(4096) + device.chunk_size_for(8192) +
                                       device.chunk_size_for(16384)))
        << "each stream should reuse its three chunks";
    EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  }
  EXPECT_EQ(device.stats().bytes_in_use, 0u);
  s.synchronize();
  EXPECT_EQ(cudaEventDestroy(fork), cudaSuccess);
  EXPECT_EQ(cudaEventDestroy(join), cudaSuccess);
}

}  // namespace
