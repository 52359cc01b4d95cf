// The behaviour suite on the CUDA backend, linked against the emulated runtime: every test also
// fails on a rule violation the emulation detected (wrong-device event, freeing memory queued
// work uses, a runtime call inside a host function, ...).
#include "emulation/violation_check.hpp"
#include "leak_report_suite.hpp"
#include "pool_suite.hpp"
#include "raw_pointer_suite.hpp"

#include <pinpool/pinpool.hpp>

#include <cuda_runtime_api.h>

#include <atomic>
#include <future>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pinpool_test {

struct emulated_cuda_env {
  static std::string skip_reason() { return ""; }
  static std::shared_ptr<pinpool::backend> make() {
    pinpool_emu::clear_violations();
    return pinpool::make_backend(pinpool::backend_kind::cuda);
  }
  static void after_test() { pinpool_emu::expect_no_violations(); }
};

INSTANTIATE_TYPED_TEST_SUITE_P(emulated_cuda, pool_suite, emulated_cuda_env);
INSTANTIATE_TYPED_TEST_SUITE_P(emulated_cuda, raw_pointer_suite, emulated_cuda_env);
INSTANTIATE_TYPED_TEST_SUITE_P(emulated_cuda, leak_report_suite, emulated_cuda_env);

// Beyond the shared suite: what only the emulation can observe.
class emulated_cuda_pool : public pinpool_emu::checked_test {
 protected:
  void SetUp() override {
    pinpool_emu::reset(2);
    pinpool_emu::checked_test::SetUp();
  }
};

TEST_F(emulated_cuda_pool, steady_state_makes_no_runtime_allocation_event_or_stream_creation) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  {
    pinpool::pool_options o;
    o.kind = pinpool::memory_kind::device;
    pinpool::pool d(be, o);
    o.kind = pinpool::memory_kind::pinned_host;
    pinpool::pool h(be, o);
    auto s = be->create_stream();
    auto round = [&] {
      for (int i = 0; i < 4; ++i) {
        auto staging = h.acquire(1 << 20);
        auto dev = d.acquire(1 << 20, s);
        s.memcpy_async(dev.data(), staging.data(), 1 << 20);
        staging.set_stream(s);
      }
      s.synchronize();
    };
    round();
    // A warm-up round with the stream held until its end: every release's fence is still in
    // flight when the next host acquisition asks, so the event pool reaches the most fences a
    // round can have in flight (one per iteration). Without it, how many events steady state
    // needs depends on how far the host runs ahead of the copies (flaky once the emulated
    // copies got slower with registered pinned slabs).
    std::promise<void> gate;
    std::shared_future<void> opened = gate.get_future().share();
    s.launch_host_func([opened] { opened.wait(); });
    for (int i = 0; i < 4; ++i) {
      auto staging = h.acquire(1 << 20);
      auto dev = d.acquire(1 << 20, s);
      s.memcpy_async(dev.data(), staging.data(), 1 << 20);
      staging.set_stream(s);
    }
    gate.set_value();
    s.synchronize();
    round();
    const auto before = pinpool_emu::get_counters();
    for (int i = 0; i < 50; ++i) round();
    const auto after = pinpool_emu::get_counters();
    EXPECT_EQ(after.malloc_calls, before.malloc_calls);
    EXPECT_EQ(after.host_alloc_calls, before.host_alloc_calls);
    EXPECT_EQ(after.free_calls, before.free_calls);
    EXPECT_EQ(after.free_host_calls, before.free_host_calls);
    EXPECT_EQ(after.count("cudaHostRegister"), before.count("cudaHostRegister"));
    EXPECT_EQ(after.count("cudaHostUnregister"), before.count("cudaHostUnregister"));
    EXPECT_EQ(after.event_create_calls, before.event_create_calls);
    EXPECT_EQ(after.stream_create_calls, before.stream_create_calls);
  }
  EXPECT_EQ(pinpool_emu::live_allocations(), 0u) << "the pools leaked runtime memory";
}

// Runtime calls by entry point between two counter snapshots, the named ones left out.
std::map<std::string, std::uint64_t> calls_between(const pinpool_emu::counters& before,
                                                   const pinpool_emu::counters& after) {
  std::map<std::string, std::uint64_t> d;
  for (const auto& [name, n] : after.calls) {
    const auto it = before.calls.find(name);
    const std::uint64_t was = it == before.calls.end() ? 0 : it->second;
    if (n != was) d[name] = n - was;
  }
  return d;
}

// Lazy release (issue 11): a same-stream round trip on an owning stream records no event and
// queries nothing; the only runtime calls left are the copy itself and the capture checks.
TEST_F(emulated_cuda_pool, same_stream_round_trips_on_an_owning_stream_record_no_event) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  pinpool::pool d(be, o);
  auto s = be->create_stream();
  auto round = [&](int n) {  // the copy straight to the runtime (pinpool's adds cudaGetDevice)
    for (int i = 0; i < n; ++i) {
      auto b = d.acquire(1 << 16, s);
      cudaMemcpyAsync(b.data(), b.data(), 64, cudaMemcpyDeviceToDevice,
                      static_cast<cudaStream_t>(s.native_handle()));
    }
  };
  round(2);
  const auto before = pinpool_emu::get_counters();
  round(100);
  const auto after = pinpool_emu::get_counters();
  auto calls = calls_between(before, after);
  EXPECT_EQ(calls["cudaMemcpyAsync"], 100u);
  EXPECT_EQ(calls["cudaStreamIsCapturing"], 200u);  // acquisition and release: graph safety
  calls.erase("cudaMemcpyAsync");
  calls.erase("cudaStreamIsCapturing");
  for (const auto& [name, n] : calls) ADD_FAILURE() << name << " called " << n << " times";
  s.synchronize();
}

TEST_F(emulated_cuda_pool, without_capture_detection_a_same_stream_round_trip_calls_nothing) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  o.detect_capture = false;
  pinpool::pool d(be, o);
  auto s = be->create_stream();
  { auto warm = d.acquire(1 << 16, s); }
  const auto before = pinpool_emu::get_counters();
  for (int i = 0; i < 100; ++i) auto b = d.acquire(1 << 16, s);
  const auto after = pinpool_emu::get_counters();
  for (const auto& [name, n] : calls_between(before, after)) {
    ADD_FAILURE() << name << " called " << n << " times";
  }
}

// A wrapped cudaStream_t's destruction is invisible to pinpool: its releases keep their events.
TEST_F(emulated_cuda_pool, a_wrapped_cuda_stream_still_records_an_event_per_release) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  pinpool::pool d(be, o);
  cudaStream_t raw = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&raw, cudaStreamNonBlocking), cudaSuccess);
  {
    const pinpool::stream_ref s(*be, raw);
    EXPECT_FALSE(s.lifetime_tracked());
    { auto warm = d.acquire(1 << 16, s); }
    const auto before = pinpool_emu::get_counters();
    for (int i = 0; i < 10; ++i) auto b = d.acquire(1 << 16, s);
    const auto after = pinpool_emu::get_counters();
    EXPECT_EQ(calls_between(before, after)["cudaEventRecord"], 10u);
  }
  ASSERT_EQ(cudaStreamSynchronize(raw), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(raw), cudaSuccess);
}

// Pinned staging (issue 11): released on a stream, reacquired by the host. No more event
// records than releases, and no host synchronisation below the cap.
TEST_F(emulated_cuda_pool, pinned_staging_records_at_most_one_event_per_release) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  pinpool::pool h(be, o);
  auto s = be->create_stream();
  std::vector<char> dst(1 << 16);
  const auto before = pinpool_emu::get_counters();
  for (int i = 0; i < 50; ++i) {
    auto staging = h.acquire(1 << 16);
    s.memcpy_async(dst.data(), staging.data(), 1 << 16);
    staging.set_stream(s);
  }
  const auto after = pinpool_emu::get_counters();
  auto calls = calls_between(before, after);
  EXPECT_LE(calls["cudaEventRecord"], 50u);
  EXPECT_EQ(calls["cudaEventSynchronize"], 0u);
  EXPECT_EQ(calls["cudaStreamSynchronize"], 0u);
  s.synchronize();
}

// A release on a stream recording an event is one runtime call: a record needs its event and
// stream on one device, not that device current, so no cudaGetDevice/cudaSetDevice (issue 11:
// they were 2 of pinned staging's 9.93 calls per op). Recorded on device 1's stream while device
// 0 is current, with no violation (the emulation checks the event's and stream's devices).
TEST_F(emulated_cuda_pool, a_release_records_its_event_without_asking_for_the_device) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  pinpool::pool h(be, o);
  auto s = be->create_stream(1);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  { auto warm = h.acquire(4096, s); }  // creates the pool's event of device 1
  s.synchronize();
  const auto before = pinpool_emu::get_counters();
  { auto b = h.acquire(4096, s); }  // the completed chunk back, released on s again
  auto calls = calls_between(before, pinpool_emu::get_counters());
  EXPECT_EQ(calls["cudaEventRecord"], 1u);
  EXPECT_EQ(calls["cudaGetDevice"], 0u);
  EXPECT_EQ(calls["cudaSetDevice"], 0u);
  int current = -1;
  ASSERT_EQ(cudaGetDevice(&current), cudaSuccess);
  EXPECT_EQ(current, 0);
  s.synchronize();
}

// A host acquisition asking about a release that has not completed: one query, nothing else
// (no peek before it, no clearing after it: not-ready is not the thread's last error).
TEST_F(emulated_cuda_pool, a_not_ready_release_costs_one_query) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  pinpool::pool h(be, o);
  auto s = be->create_stream();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  {
    auto b = h.acquire(4096, s);
    s.launch_host_func([opened] { opened.wait(); });
  }
  const auto before = pinpool_emu::get_counters();
  { auto other = h.acquire(4096); }  // the pending chunk is not ready: a new one is carved
  auto calls = calls_between(before, pinpool_emu::get_counters());
  EXPECT_EQ(calls["cudaPeekAtLastError"], 0u);
  EXPECT_EQ(calls["cudaEventQuery"], 1u);
  EXPECT_EQ(calls["cudaGetLastError"], 0u);
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);  // not-ready left no error
  gate.set_value();
  s.synchronize();
}

TEST_F(emulated_cuda_pool, cross_stream_device_reuse_waits_on_the_device_not_the_host) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  o.max_bytes = 1 << 16;
  o.slab_bytes = 1 << 16;
  pinpool::pool d(be, o);
  auto s1 = be->create_stream();
  auto s2 = be->create_stream();
  std::atomic<bool> s1_done{false};
  {
    auto b = d.acquire(1 << 16, s1);
    s1.launch_host_func([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds{200});
      s1_done = true;
    });
  }
  auto again = d.acquire(1 << 16, s2);  // no host wait: s2 waits for s1's event on the device
  EXPECT_FALSE(s1_done.load());
  EXPECT_EQ(d.stats().stream_waits, 1u);
  bool seen = false;
  s2.launch_host_func([&] { seen = s1_done.load(); });
  s2.synchronize();
  EXPECT_TRUE(seen);
}

// A hand-off of a lazily released chunk to another stream: the release stream is busy, so its
// fence is recorded (one record, one idle check) and not queried in the same call (it could only
// answer not ready); below the cap the pool grows instead of waiting. Then, at the cap, the
// device-side wait on that fence makes no cudaGetDevice (the wait needs no current device).
TEST_F(emulated_cuda_pool, a_fence_recorded_for_a_hand_off_is_not_queried_at_once) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  o.max_bytes = 2 << 16;
  o.slab_bytes = 2 << 16;
  pinpool::pool d(be, o);
  auto s1 = be->create_stream();
  auto s2 = be->create_stream();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  {
    auto b = d.acquire(1 << 16, s1);
    s1.launch_host_func([opened] { opened.wait(); });
  }
  auto before = pinpool_emu::get_counters();
  auto second = d.acquire(1 << 16, s2);  // carved: the slab has room for a second chunk
  auto calls = calls_between(before, pinpool_emu::get_counters());
  EXPECT_EQ(calls["cudaEventRecord"], 1u);  // the fence
  EXPECT_EQ(calls["cudaStreamQuery"], 1u);  // s1 is busy
  EXPECT_EQ(calls["cudaEventQuery"], 0u);   // not asked about the fence just recorded
  EXPECT_EQ(d.stats().stream_waits, 0u);
  before = pinpool_emu::get_counters();
  auto third = d.acquire(1 << 16, s2);  // at the cap: behind a device-side wait on the fence
  calls = calls_between(before, pinpool_emu::get_counters());
  EXPECT_EQ(calls["cudaStreamWaitEvent"], 1u);
  EXPECT_EQ(calls["cudaEventRecord"], 0u);  // the fence recorded before still covers it
  EXPECT_EQ(calls["cudaGetDevice"], 0u);
  EXPECT_EQ(d.stats().stream_waits, 1u);
  gate.set_value();
  s1.synchronize();
  s2.synchronize();
}

// pending_reuse = always: a device chunk pending on another stream is taken behind a
// device-side wait without asking first whether its release completed (the wait is one call, the
// question two or three), and the fence is recorded without asking first whether the stream is
// idle. Two chunks released on a busy stream: the first hand-off records the fence and waits; the
// second waits on the same fence, with no query and no record.
TEST_F(emulated_cuda_pool, waiting_before_growing_waits_without_asking_first) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  o.pending_reuse = pinpool::cross_stream_reuse::always;
  pinpool::pool d(be, o);
  auto s1 = be->create_stream();
  auto s2 = be->create_stream();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  {
    auto a = d.acquire(1 << 16, s1);
    auto b = d.acquire(1 << 16, s1);
    s1.launch_host_func([opened] { opened.wait(); });
  }
  auto before = pinpool_emu::get_counters();
  auto first = d.acquire(1 << 16, s2);  // the fence recorded without asking s1 (busy or not)
  auto calls = calls_between(before, pinpool_emu::get_counters());
  EXPECT_EQ(calls["cudaEventRecord"], 1u);
  EXPECT_EQ(calls["cudaStreamQuery"], 0u);
  EXPECT_EQ(calls["cudaStreamWaitEvent"], 1u);
  before = pinpool_emu::get_counters();
  auto second = d.acquire(1 << 16, s2);
  calls = calls_between(before, pinpool_emu::get_counters());
  EXPECT_EQ(calls["cudaStreamWaitEvent"], 1u);
  EXPECT_EQ(calls["cudaEventQuery"], 0u);
  EXPECT_EQ(calls["cudaEventRecord"], 0u);
  EXPECT_EQ(d.stats().stream_waits, 2u);
  EXPECT_EQ(d.stats().grows, 1u);
  gate.set_value();
  s1.synchronize();
  s2.synchronize();
}

TEST_F(emulated_cuda_pool, pools_on_the_second_device_record_events_on_its_streams) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  ASSERT_EQ(be->device_count(), 2);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  o.device = 1;
  pinpool::pool d(be, o);
  auto s = be->create_stream(1);
  for (int i = 0; i < 10; ++i) {
    auto b = d.acquire(4096, s);
    s.memcpy_async(b.data(), b.data(), 16);
  }
  s.synchronize();
  EXPECT_EQ(d.stats().bytes_in_use, 0u);
}

TEST_F(emulated_cuda_pool, per_thread_default_stream_never_gets_same_stream_reuse) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  pinpool::pool h(be, o);
  pinpool::stream_ref per_thread(*be, cudaStreamPerThread);
  EXPECT_FALSE(per_thread.has_stable_identity());
  void* first = nullptr;
  std::atomic<bool> slow_done{false};
  {
    auto b = h.acquire(4096, per_thread);
    first = b.data();
    per_thread.launch_host_func([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds{200});
      slow_done = true;
    });
  }
  std::thread other([&] {  // another thread's cudaStreamPerThread is another stream
    pinpool::stream_ref theirs(*be, cudaStreamPerThread);
    auto b = h.acquire(4096, theirs);
    EXPECT_TRUE(b.data() != first || slow_done.load());
    theirs.synchronize();
  });
  other.join();
  per_thread.synchronize();
}

// A buffer used on thread A's cudaStreamPerThread and released on thread B: B's per-thread
// stream is another stream, so an event recorded there says nothing about A's work. The chunk
// must not be handed out again while A's work still uses it (review finding: it was).
TEST_F(emulated_cuda_pool, a_per_thread_stream_buffer_released_on_another_thread_is_not_reused) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  pinpool::pool h(be, o);
  pinpool::stream_ref per_thread(*be, cudaStreamPerThread);
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  std::atomic<bool> work_done{false};
  pinpool::buffer b = h.acquire(4096, per_thread);
  void* first = b.data();
  per_thread.launch_host_func([opened, &work_done] {
    opened.wait();
    work_done = true;
  });
  std::thread other([moved = std::move(b)]() mutable { moved.reset(); });
  other.join();
  {
    pinpool::buffer again = h.acquire(4096);  // host: only a chunk whose release completed
    EXPECT_TRUE(again.data() != first || work_done.load()) << "handed out while still in use";
  }
  gate.set_value();
  per_thread.synchronize();
}

TEST_F(emulated_cuda_pool, a_per_thread_stream_of_another_thread_cannot_be_added) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool h(be, {});
  pinpool::buffer b = h.acquire(4096, pinpool::stream_ref(*be, cudaStreamPerThread));
  std::thread other([&] {
    EXPECT_THROW(b.record_stream(pinpool::stream_ref(*be, cudaStreamPerThread)),
                 std::invalid_argument);
  });
  other.join();
  b.record_stream(pinpool::stream_ref(*be, cudaStreamPerThread));  // the same stream: no-op
  EXPECT_EQ(b.stream_count(), 1u);
}

// Graph capture (review finding 6) without a graph_scope (test_graph_scope.cpp has the scope's
// rules): an acquisition on a capturing stream is refused, and a buffer released inside a capture
// (its release would be a captured event that no query may ask about) is never reused.
TEST_F(emulated_cuda_pool, capture_is_refused_and_a_release_inside_it_is_not_reused) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  pinpool::pool d(be, o);
  pinpool::stream s = be->create_stream();
  auto* native = static_cast<cudaStream_t>(s.native_handle());
  pinpool::buffer before = d.acquire(4096, s);
  void* first = before.data();
  ASSERT_EQ(cudaStreamBeginCapture(native, cudaStreamCaptureModeRelaxed), cudaSuccess);
  try {
    pinpool::buffer during = d.acquire(4096, s);
    ADD_FAILURE() << "an acquisition on a capturing stream was accepted";
  } catch (const pinpool::error& e) {
    EXPECT_NE(std::string(e.what()).find("captured"), std::string::npos) << e.what();
  }
  before.reset();  // released inside the capture
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(native, &graph), cudaSuccess);
  pinpool::buffer after = d.acquire(4096, s);
  EXPECT_NE(after.data(), first) << "a chunk released inside a capture was reused";
}

// Device memory of device 0 must not reach device 1's work without peer access.
TEST_F(emulated_cuda_pool, a_device_pool_refuses_a_stream_of_another_device) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  pinpool::pool d(be, o);
  pinpool::stream on_1 = be->create_stream(1);
  try {
    d.acquire(4096, on_1);
    ADD_FAILURE() << "a stream of device 1 was accepted by a pool of device 0";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("device 1"), std::string::npos) << e.what();
  }
  pinpool::buffer b = d.acquire(4096);
  EXPECT_THROW(b.set_stream(on_1), std::invalid_argument);
  EXPECT_THROW(b.record_stream(on_1), std::invalid_argument);
  o.kind = pinpool::memory_kind::pinned_host;  // pinned memory is portable: any device's stream
  pinpool::pool h(be, o);
  EXPECT_NO_THROW(h.acquire(4096, on_1));
}

// An error the application has not checked yet stays for it to find: the pool's own queries
// (a not-ready event here) must not clear it (review finding: they called cudaGetLastError).
TEST_F(emulated_cuda_pool, the_applications_pending_error_survives_pool_calls) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  pinpool::pool h(be, o);
  pinpool::stream s = be->create_stream();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  {
    pinpool::buffer b = h.acquire(4096, s);
    s.launch_host_func([opened] { opened.wait(); });
  }
  EXPECT_EQ(cudaSetDevice(99), cudaErrorInvalidDevice);  // the application's unchecked error
  { pinpool::buffer other = h.acquire(4096); }           // queries the pending release: not ready
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
  gate.set_value();
  s.synchronize();
}

// ... and the pool still sees its releases complete while that error is pending: a not-ready
// answer is not the thread's last error (CUDA 13 on an H100), so the queries need not stop then.
// (They did: the completed release below was never reused while the error was unchecked.)
TEST_F(emulated_cuda_pool, releases_complete_while_the_application_has_an_unchecked_error) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  pinpool::pool h(be, o);
  pinpool::stream s = be->create_stream();
  void* first = nullptr;
  {
    pinpool::buffer b = h.acquire(4096, s);
    first = b.data();
  }
  s.synchronize();
  EXPECT_EQ(cudaSetDevice(99), cudaErrorInvalidDevice);  // the application's unchecked error
  {
    pinpool::buffer again = h.acquire(4096);
    EXPECT_EQ(again.data(), first) << "the completed release was not seen";
  }
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
}

// A foreign stream destroyed while a release on it is pending, and a new stream created at the
// same handle value (the runtime may reuse it): the new stream is another stream, so the chunk
// reaches it only behind a wait for the old stream's work (keyed on cudaStreamGetId, not on the
// handle value).
TEST_F(emulated_cuda_pool, a_stream_recreated_at_the_same_handle_value_is_not_the_same_stream) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  o.max_bytes = o.slab_bytes = 4096;  // at the cap: the pending chunk, behind a device-side wait
  pinpool::pool d(be, o);
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  std::atomic<int> order{0}, old_work_at{0}, new_work_at{0};
  cudaStream_t old_stream = nullptr, new_stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&old_stream, cudaStreamNonBlocking), cudaSuccess);
  void* first = nullptr;
  {
    pinpool::stream_ref on_old(*be, old_stream);
    pinpool::buffer b = d.acquire(4096, on_old);
    first = b.data();
    on_old.launch_host_func([&order, &old_work_at, opened] {
      opened.wait();
      old_work_at = ++order;
    });
  }  // released on the old stream while its work is blocked
  EXPECT_EQ(cudaStreamDestroy(old_stream), cudaSuccess);  // returns at once; the work stays queued
  EXPECT_EQ(cudaStreamCreateWithFlags(&new_stream, cudaStreamNonBlocking), cudaSuccess);
  EXPECT_EQ(new_stream, old_stream) << "the emulation reuses the handle value";
  pinpool::stream_ref on_new(*be, new_stream);
  {
    pinpool::buffer b = d.acquire(4096, on_new);
    EXPECT_EQ(b.data(), first);  // device memory: the pending chunk, behind a device-side wait
    on_new.launch_host_func([&order, &new_work_at] { new_work_at = ++order; });
  }
  gate.set_value();
  on_new.synchronize();
  EXPECT_EQ(old_work_at.load(), 1);
  EXPECT_EQ(new_work_at.load(), 2) << "the new stream's work ran before the old stream's";
  EXPECT_EQ(d.stats().stream_waits, 1u);
  EXPECT_EQ(cudaStreamDestroy(new_stream), cudaSuccess);
}

TEST_F(emulated_cuda_pool, a_failed_cuda_malloc_is_out_of_memory_and_the_pool_recovers) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  {
    pinpool::pool_options o;
    o.kind = pinpool::memory_kind::device;
    o.slab_bytes = 1 << 16;
    pinpool::pool d(be, o);
    auto s = be->create_stream();
    auto first = d.acquire(40000, s);
    pinpool_emu::fail_nth_allocation(1);
    try {
      d.acquire(40000, s);
      FAIL() << "no exception";
    } catch (const pinpool::out_of_memory& e) {
      EXPECT_NE(std::string(e.what()).find("device"), std::string::npos) << e.what();
    }
    EXPECT_EQ(d.stats().bytes_reserved, std::size_t{1} << 16);
    auto second = d.acquire(40000, s);  // recoverable
    first.reset();
    second.reset();
    s.synchronize();
    EXPECT_EQ(d.trim(), std::size_t{2} << 16);
  }
  EXPECT_EQ(pinpool_emu::live_allocations(), 0u);
}

TEST_F(emulated_cuda_pool, a_sticky_error_gives_cuda_error_and_the_pool_refuses_work) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  pinpool::pool d(be, o);
  auto s = be->create_stream();
  { auto warm = d.acquire(4096, s); }
  s.synchronize();
  auto b = d.acquire(4096, s);
  pinpool_emu::set_sticky_error();
  // Acquiring on a stream asks whether it is being captured: the fault surfaces there.
  EXPECT_THROW(d.acquire(4096, s), pinpool::cuda_error);
  b.reset();  // the release cannot record its event: quarantined, reported on stderr
  EXPECT_THROW(d.acquire(4096), pinpool::error);  // and the pool refuses work from now on
  EXPECT_THROW(s.synchronize(), pinpool::cuda_error);
}

TEST_F(emulated_cuda_pool, failed_stream_and_event_calls_give_cuda_error_and_stay_consistent) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool_emu::fail_nth_stream_call(1);
  EXPECT_THROW(be->create_stream(), pinpool::cuda_error);
  auto s = be->create_stream();  // the next one works
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  o.lazy_release = false;  // an event per release: the release is what fails
  pinpool::pool d(be, o);
  auto kept = d.acquire(4096, s);
  {
    auto b = d.acquire(4096, s);
    pinpool_emu::fail_nth_event_call(1);  // the release cannot create its event
  }
  EXPECT_THROW(d.acquire(4096, s), pinpool::error);  // an untracked release: work is refused
  const auto st = d.stats();
  EXPECT_EQ(st.outstanding_buffers, 1u);
  kept.reset();
  s.synchronize();
}

}  // namespace pinpool_test
