// Tests of the CUDA runtime emulation itself, and of the CUDA backend running over it.
// Linked against tests/emulation/cuda_emulation.cpp instead of libcudart.

#include "../src/cuda_backend.hpp"
#include "emulation/cuda_emulation.hpp"
#include "emulation/violation_check.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/error.hpp>
#include <pinpool/stream.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <future>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Resets the emulation before the first test; reports violations no test checked at the end.
[[maybe_unused]] ::testing::Environment* const violation_env =
    ::testing::AddGlobalTestEnvironment(new pinpool_emu::violation_environment);

/// Blocks host functions (and so their stream) until opened.
class gate {
 public:
  void open() { promise_.set_value(); }
  void wait() const { future_.wait(); }
  /// A cudaHostFn_t that waits for the gate passed as user data.
  static void wait_fn(void* g) { static_cast<gate*>(g)->wait(); }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_ = promise_.get_future().share();
};

class emulation_test : public pinpool_emu::checked_test {
 protected:
  void SetUp() override {
    pinpool_emu::reset(2);
    pinpool_emu::checked_test::SetUp();
  }
  void TearDown() override {
    pinpool_emu::checked_test::TearDown();
    EXPECT_EQ(pinpool_emu::live_allocations(), 0u);
  }

  static cudaStream_t make_stream(int device) {
    EXPECT_EQ(cudaSetDevice(device), cudaSuccess);
    cudaStream_t s = nullptr;
    EXPECT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    EXPECT_EQ(cudaSetDevice(0), cudaSuccess);
    return s;
  }
  static cudaEvent_t make_event(int device) {
    EXPECT_EQ(cudaSetDevice(device), cudaSuccess);
    cudaEvent_t e = nullptr;
    EXPECT_EQ(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), cudaSuccess);
    EXPECT_EQ(cudaSetDevice(0), cudaSuccess);
    return e;
  }
};

// ---- the emulation ----------------------------------------------------------------------------

TEST_F(emulation_test, devices_and_last_error) {
  int n = 0;
  ASSERT_EQ(cudaGetDeviceCount(&n), cudaSuccess);
  EXPECT_EQ(n, 2);
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  int d = -1;
  ASSERT_EQ(cudaGetDevice(&d), cudaSuccess);
  EXPECT_EQ(d, 1);
  EXPECT_EQ(cudaSetDevice(7), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_STREQ(cudaGetErrorName(cudaErrorNotReady), "cudaErrorNotReady");
  EXPECT_STREQ(cudaGetErrorString(cudaErrorNoDevice), "no CUDA-capable device is detected");
}

TEST_F(emulation_test, machine_without_device) {
  pinpool_emu::reset(0);
  int n = -1;
  EXPECT_EQ(cudaGetDeviceCount(&n), cudaErrorNoDevice);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorNoDevice);
  EXPECT_EQ(pinpool::detail::cuda_unusable_reason(),
            "cudaGetDeviceCount: cudaErrorNoDevice: no CUDA-capable device is detected");
  try {
    pinpool::detail::make_cuda_backend();
    ADD_FAILURE() << "make_cuda_backend did not throw";
  } catch (const pinpool::cuda_error& e) {
    EXPECT_EQ(e.code(), cudaErrorNoDevice);
    EXPECT_EQ(e.name(), "cudaErrorNoDevice");
  }
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);
  pinpool_emu::reset(2);
  EXPECT_EQ(pinpool::detail::cuda_unusable_reason(), "");
}

TEST_F(emulation_test, detects_event_recorded_on_a_stream_of_another_device) {
  cudaStream_t s0 = make_stream(0);
  cudaEvent_t e1 = make_event(1);
  EXPECT_EQ(cudaEventRecord(e1, s0), cudaErrorInvalidResourceHandle);
  pinpool_emu::expect_violation("of device 1 recorded on a stream of device 0");
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaEventDestroy(e1), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s0), cudaSuccess);
}

// cudaFree synchronises the memory's device only: a copy queued on another device's stream may
// still use it.
TEST_F(emulation_test, detects_free_while_a_queued_copy_uses_the_memory) {
  cudaStream_t s = make_stream(1);
  void* d = nullptr;
  void* h = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 1024), cudaSuccess);
  ASSERT_EQ(cudaHostAlloc(&h, 1024, cudaHostAllocPortable), cudaSuccess);
  gate g;
  ASSERT_EQ(cudaLaunchHostFunc(s, gate::wait_fn, &g), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(h, d, 1024, cudaMemcpyDefault, s), cudaSuccess);
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  pinpool_emu::expect_violation("freed while 1 queued cudaMemcpyAsync still use it");
  EXPECT_EQ(pinpool_emu::live_allocations(), 1u);  // d counts as freed (release deferred)
  g.open();
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(h), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(emulation_test, detects_bad_frees) {
  int not_ours = 0;
  EXPECT_EQ(cudaFree(&not_ours), cudaErrorInvalidValue);
  pinpool_emu::expect_violation("was not allocated");
  void* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 64), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(d), cudaErrorInvalidValue);
  pinpool_emu::expect_violation("was allocated by cudaMalloc");
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  EXPECT_EQ(cudaFree(d), cudaErrorInvalidValue);
  pinpool_emu::expect_violation("or was already freed");
  void* h = nullptr;
  ASSERT_EQ(cudaHostAlloc(&h, 64, cudaHostAllocPortable), cudaSuccess);
  EXPECT_EQ(cudaFree(h), cudaErrorInvalidValue);
  pinpool_emu::expect_violation("was allocated by cudaHostAlloc");
  EXPECT_EQ(cudaFreeHost(h), cudaSuccess);
  EXPECT_EQ(cudaFree(nullptr), cudaSuccess);
  cudaGetLastError();
}

TEST_F(emulation_test, detects_copy_past_the_end_of_an_allocation) {
  cudaStream_t s = make_stream(0);
  void* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 100), cudaSuccess);
  std::vector<char> src(200, 1);
  ASSERT_EQ(cudaMemcpyAsync(d, src.data(), 200, cudaMemcpyDefault, s), cudaSuccess);
  pinpool_emu::expect_violation("runs past the end of a 100-byte allocation");
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(emulation_test, detects_runtime_call_inside_host_function) {
  cudaStream_t s = make_stream(0);
  std::atomic<int> status{-1};
  auto call_runtime = [](void* out) {
    int device = 0;
    static_cast<std::atomic<int>*>(out)->store(cudaGetDevice(&device));
  };
  ASSERT_EQ(cudaLaunchHostFunc(s, call_runtime, &status), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(status.load(), cudaErrorNotPermitted);
  pinpool_emu::expect_violation("cudaGetDevice called from inside a cudaLaunchHostFunc callback");
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(emulation_test, detects_use_of_destroyed_stream_and_event) {
  cudaStream_t dead_stream = make_stream(0);
  ASSERT_EQ(cudaStreamDestroy(dead_stream), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(dead_stream), cudaErrorInvalidResourceHandle);
  pinpool_emu::expect_violation("use of a destroyed stream");
  EXPECT_EQ(cudaStreamDestroy(dead_stream), cudaErrorInvalidResourceHandle);
  pinpool_emu::expect_violation("destroying a destroyed stream");

  cudaEvent_t dead_event = make_event(0);
  ASSERT_EQ(cudaEventDestroy(dead_event), cudaSuccess);
  cudaStream_t s = make_stream(0);
  EXPECT_EQ(cudaEventRecord(dead_event, s), cudaErrorInvalidResourceHandle);
  pinpool_emu::expect_violation("cudaEventRecord: use of a destroyed event");
  EXPECT_EQ(cudaStreamWaitEvent(s, dead_event, 0), cudaErrorInvalidResourceHandle);
  pinpool_emu::expect_violation("cudaStreamWaitEvent: use of a destroyed event");
  EXPECT_EQ(cudaEventQuery(dead_event), cudaErrorInvalidResourceHandle);
  pinpool_emu::expect_violation("cudaEventQuery: use of a destroyed event");
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
  cudaGetLastError();
}

// A slow host function on A fills a pinned buffer; B (another device) waits for an event
// recorded after it, then copies: B must see A's data. Re-recording the event later (on C,
// which completes at once) must not release B's earlier wait.
TEST_F(emulation_test, event_wait_orders_copies_across_streams) {
  constexpr std::size_t n = 4096;
  cudaStream_t a = make_stream(0);
  cudaStream_t b = make_stream(1);
  cudaStream_t c = make_stream(0);
  cudaEvent_t e = make_event(0);
  cudaEvent_t b_done = make_event(1);
  void* staging = nullptr;
  void* dev = nullptr;
  ASSERT_EQ(cudaHostAlloc(&staging, n, cudaHostAllocPortable), cudaSuccess);
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dev, n), cudaSuccess);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  std::memset(staging, 0, n);
  void* pinned_result = nullptr;  // pinned: a copy into pageable memory would block the host
  ASSERT_EQ(cudaHostAlloc(&pinned_result, n, cudaHostAllocPortable), cudaSuccess);
  std::memset(pinned_result, 0, n);

  struct fill_job {
    gate g;
    void* data;
  } job{{}, staging};
  auto slow_fill = [](void* p) {
    auto* j = static_cast<fill_job*>(p);
    j->g.wait();
    std::this_thread::sleep_for(20ms);
    std::memset(j->data, 0xAB, n);
  };
  ASSERT_EQ(cudaLaunchHostFunc(a, slow_fill, &job), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, a), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(b, e, 0), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(dev, staging, n, cudaMemcpyDefault, b), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(pinned_result, dev, n, cudaMemcpyDefault, b), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(b_done, b), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, c), cudaSuccess);  // re-record: B's wait keeps the old record
  ASSERT_EQ(cudaEventSynchronize(e), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(e), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(b_done), cudaErrorNotReady);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "not ready is no error (CUDA 13 on an H100)";

  job.g.open();
  ASSERT_EQ(cudaStreamSynchronize(b), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(b_done), cudaSuccess);
  const auto* result = static_cast<const unsigned char*>(pinned_result);
  EXPECT_EQ(std::vector<unsigned char>(result, result + n), std::vector<unsigned char>(n, 0xAB));

  EXPECT_EQ(cudaFree(dev), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(staging), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(pinned_result), cudaSuccess);
  for (cudaEvent_t ev : {e, b_done}) EXPECT_EQ(cudaEventDestroy(ev), cudaSuccess);
  for (cudaStream_t s : {a, b, c}) EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(emulation_test, counters_and_fault_injection) {
  void* p = nullptr;
  void* q = nullptr;
  pinpool_emu::fail_nth_allocation(2);
  ASSERT_EQ(cudaMalloc(&p, 256), cudaSuccess);
  EXPECT_EQ(cudaHostAlloc(&q, 256, 0), cudaErrorMemoryAllocation);
  EXPECT_EQ(q, nullptr);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // not sticky
  ASSERT_EQ(cudaHostAlloc(&q, 256, 0), cudaSuccess);
  cudaEvent_t e = make_event(0);
  cudaStream_t s = make_stream(1);

  pinpool_emu::counters c = pinpool_emu::get_counters();
  EXPECT_EQ(c.malloc_calls, 1u);
  EXPECT_EQ(c.host_alloc_calls, 2u);
  EXPECT_EQ(c.event_create_calls, 1u);
  EXPECT_EQ(c.stream_create_calls, 1u);

  pinpool_emu::set_sticky_error();
  void* r = nullptr;
  EXPECT_EQ(cudaMalloc(&r, 256), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress);  // sticky
  EXPECT_EQ(cudaFree(p), cudaErrorIllegalAddress);         // still released
  EXPECT_EQ(cudaFreeHost(q), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaEventDestroy(e), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaStreamDestroy(s), cudaErrorIllegalAddress);
  c = pinpool_emu::get_counters();
  EXPECT_EQ(c.free_calls, 1u);
  EXPECT_EQ(c.free_host_calls, 1u);

  pinpool_emu::reset(2);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(pinpool_emu::get_counters().malloc_calls, 0u);
}

// cudaStreamPerThread names a different stream in each thread (the CUB #373 trap).
TEST_F(emulation_test, per_thread_stream_differs_between_threads) {
  gate g;
  ASSERT_EQ(cudaLaunchHostFunc(cudaStreamPerThread, gate::wait_fn, &g), cudaSuccess);
  auto other = std::async(std::launch::async, [] {
    return cudaStreamSynchronize(cudaStreamPerThread);  // its own, empty stream
  });
  ASSERT_EQ(other.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(other.get(), cudaSuccess);
  EXPECT_EQ(pinpool_emu::live_streams(), 1u);  // the other thread's went with the thread
  EXPECT_EQ(cudaEventQuery(nullptr), cudaErrorInvalidResourceHandle);
  pinpool_emu::expect_violation("use of an unknown event 0x0");
  g.open();
  EXPECT_EQ(cudaStreamSynchronize(cudaStreamPerThread), cudaSuccess);
  cudaGetLastError();
}

// ---- issue 10: an emulation that fails where a GPU would --------------------------------------

/// Sets the chaos seed for the test's scope, restoring the one in force before.
class chaos_scope {
 public:
  explicit chaos_scope(std::uint64_t seed) : before_(pinpool_emu::chaos_seed()) {
    pinpool_emu::set_chaos(seed);
  }
  ~chaos_scope() { pinpool_emu::set_chaos(before_); }
  chaos_scope(const chaos_scope&) = delete;
  chaos_scope& operator=(const chaos_scope&) = delete;

 private:
  std::uint64_t before_;
};

using emulation_death_test = emulation_test;

// Planted bug: the host reads or writes device memory (on a GPU: a crash). The emulation's device
// memory is not mapped for the host: the fault is reported, naming the allocation, and aborts.
TEST_F(emulation_death_test, host_access_to_device_memory_is_reported) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";  // the emulation runs threads
  const char* report =
      "pinpool-emu: rule violation: host access to device memory at 0x[0-9a-f]+ "
      "\\(allocation 0x[0-9a-f]+ of 1000 bytes from cudaMalloc\\)";
  EXPECT_DEATH(
      {
        void* d = nullptr;
        if (cudaMalloc(&d, 1000) == cudaSuccess) static_cast<volatile char*>(d)[999] = 1;
      },
      report);
  EXPECT_DEATH(
      {
        void* d = nullptr;
        if (cudaMalloc(&d, 1000) == cudaSuccess) {
          std::printf("%d\n", static_cast<volatile char*>(d)[0]);
        }
      },
      report);
  // From a host function too (it runs on a runtime thread, on the host).
  EXPECT_DEATH(
      {
        void* d = nullptr;
        cudaStream_t s = nullptr;
        if (cudaMalloc(&d, 1000) == cudaSuccess &&
            cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess) {
          cudaLaunchHostFunc(
              s, [](void* p) { std::memset(p, 0, 16); }, d);
          cudaStreamSynchronize(s);
        }
      },
      report);
}

// The copies still reach device memory (through the emulation's own view of it): pageable to
// device, device to device (within one allocation too), device to pinned, pinned to pageable.
// Pinned memory stays host memory.
TEST_F(emulation_test, copies_reach_device_memory_the_host_cannot_touch) {
  constexpr std::size_t n = 10000;
  cudaStream_t s = make_stream(0);
  void* d1 = nullptr;
  void* d2 = nullptr;
  void* pinned = nullptr;
  ASSERT_EQ(cudaMalloc(&d1, n), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d2, 2 * n), cudaSuccess);
  ASSERT_EQ(cudaHostAlloc(&pinned, n, cudaHostAllocPortable), cudaSuccess);
  std::memset(pinned, 0, n);  // host-accessible
  std::vector<unsigned char> in(n), out(n, 0);
  for (std::size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned char>(i * 7);
  auto* d2_bytes = static_cast<unsigned char*>(d2);
  ASSERT_EQ(cudaMemcpyAsync(d1, in.data(), n, cudaMemcpyHostToDevice, s), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(d2_bytes + n, d1, n, cudaMemcpyDeviceToDevice, s), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(d2, d2_bytes + n, n, cudaMemcpyDeviceToDevice, s), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(pinned, d2, n, cudaMemcpyDeviceToHost, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(std::memcmp(pinned, in.data(), n), 0);
  ASSERT_EQ(cudaMemcpyAsync(out.data(), pinned, n, cudaMemcpyHostToHost, s), cudaSuccess);
  EXPECT_EQ(out, in);  // host to host: synchronous with the host
  std::fill(out.begin(), out.end(), 0);
  ASSERT_EQ(cudaMemcpyAsync(out.data(), d1, n, cudaMemcpyDeviceToHost, s), cudaSuccess);
  EXPECT_EQ(out, in);  // device to pageable: synchronous with the host
  EXPECT_EQ(cudaFree(d1), cudaSuccess);
  EXPECT_EQ(cudaFree(d2), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(pinned), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

/// The planted bug of the chaos test: stream A uploads `rounds` frames into device memory, and
/// stream B downloads each frame; with `wait`, B waits for an event recorded after A's upload,
/// without it (the bug) B reads whatever is there. @return the frames B got wrong.
int frames_wrong_without_a_dependency(bool wait, int rounds) {
  constexpr std::size_t n = 4096;
  cudaStream_t a = nullptr;
  cudaStream_t b = nullptr;
  cudaEvent_t uploaded = nullptr;
  void* dev = nullptr;
  void* up = nullptr;
  void* down = nullptr;
  EXPECT_EQ(cudaStreamCreateWithFlags(&a, cudaStreamNonBlocking), cudaSuccess);
  EXPECT_EQ(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking), cudaSuccess);
  EXPECT_EQ(cudaEventCreateWithFlags(&uploaded, cudaEventDisableTiming), cudaSuccess);
  EXPECT_EQ(cudaMalloc(&dev, n), cudaSuccess);
  EXPECT_EQ(cudaHostAlloc(&up, n, cudaHostAllocPortable), cudaSuccess);
  EXPECT_EQ(cudaHostAlloc(&down, n, cudaHostAllocPortable), cudaSuccess);
  int wrong = 0;
  for (int r = 1; r <= rounds; ++r) {
    std::memset(up, r, n);
    EXPECT_EQ(cudaMemcpyAsync(dev, up, n, cudaMemcpyHostToDevice, a), cudaSuccess);
    EXPECT_EQ(cudaEventRecord(uploaded, a), cudaSuccess);
    std::this_thread::sleep_for(300us);  // host work: time enough for a prompt upload to run
    if (wait) {
      EXPECT_EQ(cudaStreamWaitEvent(b, uploaded, 0), cudaSuccess);
    }
    EXPECT_EQ(cudaMemcpyAsync(down, dev, n, cudaMemcpyDeviceToHost, b), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(b), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(a), cudaSuccess);
    if (static_cast<unsigned char*>(down)[0] != static_cast<unsigned char>(r)) ++wrong;
  }
  EXPECT_EQ(cudaFree(dev), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(up), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(down), cudaSuccess);
  EXPECT_EQ(cudaEventDestroy(uploaded), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(a), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(b), cudaSuccess);
  return wrong;
}

// Planted bug: a copy on stream B reads what stream A writes, without an event wait. Prompt
// scheduling hides it (A's copy, enqueued first, has run by the time B's starts); chaos delays
// each stream's work by its own random amounts, so in some seeds B reads before A wrote. The
// correct program (cudaStreamWaitEvent) is right under every seed.
TEST_F(emulation_test, chaos_exposes_a_missing_dependency_between_streams) {
  constexpr int rounds = 10;
  int wrong_with_bug = 0;
  for (std::uint64_t seed : {1, 2, 3, 4}) {
    chaos_scope chaos(seed);
    const int wrong = frames_wrong_without_a_dependency(false, rounds);
    wrong_with_bug += wrong;
    std::printf("chaos seed %d: %d of %d frames wrong without the wait\n", static_cast<int>(seed),
                wrong, rounds);
    EXPECT_EQ(frames_wrong_without_a_dependency(true, rounds), 0) << "seed " << seed;
  }
  EXPECT_GT(wrong_with_bug, 0) << "chaos never reordered the unordered streams";
}

// The same seed gives each stream the same delays: chaos_seed() reports it.
TEST_F(emulation_test, chaos_seed_is_set_and_reported) {
  const std::uint64_t before = pinpool_emu::chaos_seed();
  {
    chaos_scope chaos(42);
    EXPECT_EQ(pinpool_emu::chaos_seed(), 42u);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(frames_wrong_without_a_dependency(true, 20), 0);
    EXPECT_GT(std::chrono::steady_clock::now() - start, 5ms) << "no delay under chaos";
  }
  EXPECT_EQ(pinpool_emu::chaos_seed(), before);
}

// Every entry point is counted by name, failed calls included.
TEST_F(emulation_test, every_entry_point_is_counted) {
  cudaStream_t s = make_stream(0);  // cudaSetDevice x2, cudaStreamCreateWithFlags
  cudaEvent_t e = make_event(0);    // cudaSetDevice x2, cudaEventCreateWithFlags
  void* d = nullptr;
  void* h = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 64), cudaSuccess);
  ASSERT_EQ(cudaHostAlloc(&h, 64, 0), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(d, h, 64, cudaMemcpyDefault, s), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(h, d, 64, cudaMemcpyDefault, s), cudaSuccess);
  ASSERT_EQ(cudaLaunchHostFunc(
                s, [](void*) {}, nullptr),
            cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, s), cudaSuccess);
  cudaEventQuery(e);
  ASSERT_EQ(cudaEventSynchronize(e), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(s, e, 0), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  unsigned long long id = 0;
  int device = -1;
  ASSERT_EQ(cudaStreamGetId(s, &id), cudaSuccess);
  ASSERT_EQ(cudaStreamGetDevice(s, &device), cudaSuccess);
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  EXPECT_EQ(cudaSetDevice(9), cudaErrorInvalidDevice);  // failed calls count too
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
  cudaGetErrorName(cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_EQ(cudaEventDestroy(e), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(s), cudaSuccess);
  ASSERT_EQ(cudaFree(d), cudaSuccess);
  ASSERT_EQ(cudaFreeHost(h), cudaSuccess);

  const pinpool_emu::counters c = pinpool_emu::get_counters();
  const std::map<std::string, std::uint64_t, std::less<>> expected{{"cudaSetDevice", 5},
                                                                   {"cudaStreamCreateWithFlags", 1},
                                                                   {"cudaEventCreateWithFlags", 1},
                                                                   {"cudaMalloc", 1},
                                                                   {"cudaHostAlloc", 1},
                                                                   {"cudaMemcpyAsync", 2},
                                                                   {"cudaLaunchHostFunc", 1},
                                                                   {"cudaEventRecord", 1},
                                                                   {"cudaEventQuery", 1},
                                                                   {"cudaEventSynchronize", 1},
                                                                   {"cudaStreamWaitEvent", 1},
                                                                   {"cudaStreamSynchronize", 1},
                                                                   {"cudaStreamGetId", 1},
                                                                   {"cudaStreamGetDevice", 1},
                                                                   {"cudaGetDevice", 1},
                                                                   {"cudaPeekAtLastError", 1},
                                                                   {"cudaGetLastError", 1},
                                                                   {"cudaGetErrorName", 1},
                                                                   {"cudaDeviceSynchronize", 1},
                                                                   {"cudaEventDestroy", 1},
                                                                   {"cudaStreamDestroy", 1},
                                                                   {"cudaFree", 1},
                                                                   {"cudaFreeHost", 1}};
  EXPECT_EQ(c.calls, expected);
  EXPECT_EQ(c.count("cudaMemcpyAsync"), 2u);
  EXPECT_EQ(c.count("cudaStreamBeginCapture"), 0u);
}

// Planted bug: memory freed while a stream of its device still has work queued that uses it.
// CUDA's cudaFree waits for the device first, so that is safe on a GPU, and the emulation does
// the same: no violation, and the work has run when cudaFree returns.
TEST_F(emulation_test, cuda_free_synchronises_the_device) {
  cudaStream_t s = make_stream(0);
  void* d = nullptr;
  void* h = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 4096), cudaSuccess);
  ASSERT_EQ(cudaHostAlloc(&h, 4096, 0), cudaSuccess);
  std::atomic<bool> ran{false};
  ASSERT_EQ(cudaLaunchHostFunc(
                s,
                [](void* flag) {
                  std::this_thread::sleep_for(50ms);
                  static_cast<std::atomic<bool>*>(flag)->store(true);
                },
                &ran),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(h, d, 4096, cudaMemcpyDeviceToHost, s), cudaSuccess);
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  EXPECT_TRUE(ran.load()) << "cudaFree returned before the device's queued work ran";
  ran = false;
  ASSERT_EQ(cudaLaunchHostFunc(
                s,
                [](void* flag) {
                  std::this_thread::sleep_for(50ms);
                  static_cast<std::atomic<bool>*>(flag)->store(true);
                },
                &ran),
            cudaSuccess);
  EXPECT_EQ(cudaFreeHost(h), cudaSuccess);  // the current device (0): s's work
  EXPECT_TRUE(ran.load()) << "cudaFreeHost returned before the device's queued work ran";
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

// A free that waits for work that waits for the freeing thread: a deadlock on a GPU, reported.
TEST_F(emulation_test, a_free_that_would_deadlock_is_reported) {
  pinpool_emu::set_blocking_timeout(100ms);
  cudaStream_t s = make_stream(0);
  void* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 4096), cudaSuccess);
  gate g;
  ASSERT_EQ(cudaLaunchHostFunc(s, gate::wait_fn, &g), cudaSuccess);
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  pinpool_emu::expect_violation("cudaFree synchronises device 0: blocked for 100 ms");
  g.open();
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

// cudaMemcpyAsync from pageable memory returns once the source was read: the caller may reuse
// the buffer at once, even while the copy itself is still queued.
TEST_F(emulation_test, a_pageable_source_is_read_before_the_copy_returns) {
  constexpr std::size_t n = 4096;
  cudaStream_t s = make_stream(0);
  void* d = nullptr;
  void* pinned = nullptr;
  ASSERT_EQ(cudaMalloc(&d, n), cudaSuccess);
  ASSERT_EQ(cudaHostAlloc(&pinned, n, 0), cudaSuccess);
  gate g;
  ASSERT_EQ(cudaLaunchHostFunc(s, gate::wait_fn, &g), cudaSuccess);
  std::vector<unsigned char> pageable(n, 0x11);
  ASSERT_EQ(cudaMemcpyAsync(d, pageable.data(), n, cudaMemcpyHostToDevice, s), cudaSuccess);
  std::fill(pageable.begin(), pageable.end(), 0x22);  // the copy has not run yet
  ASSERT_EQ(cudaMemcpyAsync(pinned, d, n, cudaMemcpyDeviceToHost, s), cudaSuccess);
  g.open();
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(static_cast<unsigned char*>(pinned)[0], 0x11);
  EXPECT_EQ(static_cast<unsigned char*>(pinned)[n - 1], 0x11);
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(pinned), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

// Host to host copies (pinned to pinned too) are synchronous with the host: a test that counts
// on such a copy being late (issue 10, finding 5) is vacuous on a GPU. Here it blocks until the
// stream's earlier work ran; a gate only the host would open is a deadlock, reported.
TEST_F(emulation_test, host_to_host_copies_are_synchronous) {
  cudaStream_t s = make_stream(0);
  void* a = nullptr;
  void* b = nullptr;
  ASSERT_EQ(cudaHostAlloc(&a, 64, 0), cudaSuccess);
  ASSERT_EQ(cudaHostAlloc(&b, 64, 0), cudaSuccess);
  std::memset(a, 7, 64);
  std::memset(b, 0, 64);
  std::atomic<bool> ran{false};
  ASSERT_EQ(cudaLaunchHostFunc(
                s,
                [](void* flag) {
                  std::this_thread::sleep_for(30ms);
                  static_cast<std::atomic<bool>*>(flag)->store(true);
                },
                &ran),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(b, a, 64, cudaMemcpyHostToHost, s), cudaSuccess);
  EXPECT_TRUE(ran.load());
  EXPECT_EQ(static_cast<unsigned char*>(b)[63], 7);

  pinpool_emu::set_blocking_timeout(100ms);
  gate g;
  ASSERT_EQ(cudaLaunchHostFunc(s, gate::wait_fn, &g), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(b, a, 64, cudaMemcpyHostToHost, s), cudaSuccess);
  pinpool_emu::expect_violation("host to host memory is synchronous with the host): blocked");
  g.open();
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(a), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(b), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

// The legacy stream waits for blocking streams' earlier work (and they for its), but not for
// non-blocking streams (the CUDA backend's).
TEST_F(emulation_test, the_legacy_stream_synchronises_with_blocking_streams_only) {
  cudaStream_t blocking = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&blocking, cudaStreamDefault), cudaSuccess);
  cudaStream_t non_blocking = make_stream(0);
  struct probe {
    std::atomic<bool>* flag;
    bool seen = false;
  };
  std::atomic<bool> blocking_done{false};
  std::atomic<bool> non_blocking_done{false};
  gate g;
  struct gated_flag {
    gate* g;
    std::atomic<bool>* flag;
  } on_blocking{&g, &blocking_done}, on_non_blocking{&g, &non_blocking_done};
  auto wait_then_set = [](void* p) {
    auto* job = static_cast<gated_flag*>(p);
    job->g->wait();
    std::this_thread::sleep_for(10ms);
    job->flag->store(true);
  };
  auto look = [](void* p) {
    auto* pr = static_cast<probe*>(p);
    pr->seen = pr->flag->load();
  };
  ASSERT_EQ(cudaLaunchHostFunc(non_blocking, wait_then_set, &on_non_blocking), cudaSuccess);
  probe legacy_saw_non_blocking{&non_blocking_done};
  ASSERT_EQ(cudaLaunchHostFunc(cudaStreamLegacy, look, &legacy_saw_non_blocking), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(cudaStreamLegacy), cudaSuccess);  // not behind the gate
  EXPECT_FALSE(legacy_saw_non_blocking.seen);

  ASSERT_EQ(cudaLaunchHostFunc(blocking, wait_then_set, &on_blocking), cudaSuccess);
  probe legacy_saw_blocking{&blocking_done};
  ASSERT_EQ(cudaLaunchHostFunc(cudaStreamLegacy, look, &legacy_saw_blocking), cudaSuccess);
  probe blocking_saw_legacy{&blocking_done};  // behind the legacy work, so behind its own
  ASSERT_EQ(cudaLaunchHostFunc(blocking, look, &blocking_saw_legacy), cudaSuccess);
  g.open();
  ASSERT_EQ(cudaStreamSynchronize(cudaStreamLegacy), cudaSuccess);
  EXPECT_TRUE(legacy_saw_blocking.seen) << "the legacy stream did not wait for a blocking stream";
  ASSERT_EQ(cudaStreamSynchronize(blocking), cudaSuccess);
  EXPECT_TRUE(blocking_saw_legacy.seen);
  unsigned long long legacy_id = 0, other_id = 0;
  ASSERT_EQ(cudaStreamGetId(cudaStreamLegacy, &legacy_id), cudaSuccess);
  ASSERT_EQ(cudaStreamGetId(blocking, &other_id), cudaSuccess);
  EXPECT_NE(legacy_id, other_id);
  ASSERT_EQ(cudaStreamSynchronize(non_blocking), cudaSuccess);  // its work uses the locals
  EXPECT_EQ(cudaStreamDestroy(blocking), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(non_blocking), cudaSuccess);
}

// A fault is sticky per device context: device 1's fault leaves device 0 working; device 1's
// calls and streams fail; its queued host functions are never called (so code must not rely on
// a host function for liveness).
TEST_F(emulation_test, sticky_errors_are_per_device_and_stop_host_functions) {
  cudaStream_t s1 = make_stream(1);
  gate g;
  std::atomic<bool> called{false};
  ASSERT_EQ(cudaLaunchHostFunc(s1, gate::wait_fn, &g), cudaSuccess);
  ASSERT_EQ(
      cudaLaunchHostFunc(
          s1, [](void* flag) { static_cast<std::atomic<bool>*>(flag)->store(true); }, &called),
      cudaSuccess);
  pinpool_emu::set_sticky_error(1);
  g.open();
  void* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 64), cudaSuccess);  // device 0 is fine
  EXPECT_EQ(cudaStreamSynchronize(s1), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // device 0's context is fine
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);    // not yet the faulted device
  void* d1 = nullptr;
  EXPECT_EQ(cudaMalloc(&d1, 64), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress);
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress);  // sticky while device 1 is current
  ASSERT_EQ(cudaSetDevice(0), cudaErrorIllegalAddress);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(called.load()) << "a host function ran after its context's fault";
  EXPECT_EQ(cudaStreamDestroy(s1), cudaErrorIllegalAddress);  // still destroyed
  pinpool_emu::reset(2);                                      // a new machine
}

// Calls made during process exit fail with cudaErrorCudartUnloading (simulated here; the
// emulation also sets it from an atexit handler).
TEST_F(emulation_test, calls_during_unloading_fail_with_cudart_unloading) {
  void* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 64), cudaSuccess);
  pinpool_emu::simulate_unloading(true);
  void* other = nullptr;
  EXPECT_EQ(cudaMalloc(&other, 64), cudaErrorCudartUnloading);
  EXPECT_EQ(cudaFree(d), cudaErrorCudartUnloading);
  EXPECT_EQ(cudaStreamSynchronize(cudaStreamPerThread), cudaErrorCudartUnloading);
  pinpool_emu::simulate_unloading(false);
  EXPECT_EQ(cudaFree(d), cudaSuccess);
  cudaGetLastError();
}

// ---- the CUDA backend over the emulation ------------------------------------------------------

class cuda_backend_test : public emulation_test {
 protected:
  void SetUp() override {
    emulation_test::SetUp();
    be_ = pinpool::detail::make_cuda_backend();
  }
  std::shared_ptr<pinpool::backend> be_;
};

TEST_F(cuda_backend_test, identity) {
  EXPECT_EQ(be_->kind(), pinpool::backend_kind::cuda);
  EXPECT_STREQ(be_->name(), "cuda");
  EXPECT_EQ(be_->device_count(), 2);
}

TEST_F(cuda_backend_test, allocates_every_kind_aligned) {
  using pinpool::memory_kind;
  for (memory_kind kind : {memory_kind::device, memory_kind::pinned_host, memory_kind::host}) {
    for (int device : {0, 1}) {
      pinpool::slab s = be_->allocate({kind, device, 1000});
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.ptr) % 256, 0u) << pinpool::to_string(kind);
      EXPECT_EQ(s.bytes, 1000u);
      EXPECT_EQ(s.page_locked, kind == memory_kind::pinned_host);
      if (kind != memory_kind::device) std::memset(s.ptr, 1, s.bytes);  // device: host can't
      be_->deallocate(s);
    }
  }
  const pinpool_emu::counters c = pinpool_emu::get_counters();
  EXPECT_EQ(c.malloc_calls, 2u);
  EXPECT_EQ(c.count("cudaHostRegister"), 2u) << "pinned slabs: registered anonymous memory";
  EXPECT_EQ(c.count("cudaHostUnregister"), 2u);
  EXPECT_EQ(c.host_alloc_calls, 0u);
  EXPECT_EQ(c.free_calls, 2u);
  EXPECT_EQ(c.free_host_calls, 0u);
  EXPECT_THROW(be_->allocate({memory_kind::device, 2, 64}), std::invalid_argument);
  EXPECT_THROW(be_->allocate({memory_kind::device, -1, 64}), std::invalid_argument);
  EXPECT_THROW(be_->allocate({memory_kind::device, 0, 0}), std::invalid_argument);
}

TEST_F(cuda_backend_test, allocation_failures) {
  pinpool_emu::fail_nth_allocation(1);
  try {
    be_->allocate({pinpool::memory_kind::device, 1, 4096});
    ADD_FAILURE() << "no out_of_memory";
  } catch (const pinpool::out_of_memory& e) {
    EXPECT_NE(std::string(e.what()).find("4096 bytes of device memory on device 1"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);  // cleared

  pinpool_emu::set_sticky_error();
  try {
    be_->allocate({pinpool::memory_kind::pinned_host, 0, 4096});
    ADD_FAILURE() << "no cuda_error";
  } catch (const pinpool::cuda_error& e) {
    EXPECT_EQ(e.code(), cudaErrorIllegalAddress);
    EXPECT_EQ(e.name(), "cudaErrorIllegalAddress");
    EXPECT_NE(std::string(e.what()).find(") failed: cudaErrorIllegalAddress: an illegal memory"),
              std::string::npos)
        << e.what();
  }
  pinpool_emu::reset(2);
}

TEST_F(cuda_backend_test, device_guard_restores_the_current_device) {
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  {
    pinpool::stream s = be_->create_stream(0);
    EXPECT_EQ(be_->stream_device(s.native_handle()), 0);
    pinpool::slab d = be_->allocate({pinpool::memory_kind::device, 0, 512});
    be_->deallocate(d);
  }
  int current = -1;
  ASSERT_EQ(cudaGetDevice(&current), cudaSuccess);
  EXPECT_EQ(current, 1);
  EXPECT_THROW(be_->create_stream(2), std::invalid_argument);
}

TEST_F(cuda_backend_test, events_record_query_and_synchronize) {
  pinpool::stream s = be_->create_stream(0);
  void* e = be_->create_event(0);
  EXPECT_TRUE(be_->event_done(e, 0));  // never recorded
  gate g;
  s.launch_host_func([&g] { g.wait(); });
  be_->record_event(e, 0, s);
  EXPECT_FALSE(be_->event_done(e, 0));
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);  // not-ready does not linger
  g.open();
  be_->synchronize_event(e, 0);
  EXPECT_TRUE(be_->event_done(e, 0));
  be_->destroy_event(e, 0);
}

TEST_F(cuda_backend_test, refuses_event_of_another_device) {
  pinpool::stream s0 = be_->create_stream(0);
  void* e1 = be_->create_event(1);
  EXPECT_THROW(be_->record_event(e1, 1, s0), std::invalid_argument);
  be_->destroy_event(e1, 1);
  // No violation: the backend refused before calling the runtime (checked in TearDown).
}

TEST_F(cuda_backend_test, cross_device_wait_orders_copies) {
  constexpr std::size_t n = 1 << 16;
  pinpool::stream s0 = be_->create_stream(0);
  pinpool::stream s1 = be_->create_stream(1);
  pinpool::slab staging = be_->allocate({pinpool::memory_kind::pinned_host, 0, n});
  pinpool::slab dev = be_->allocate({pinpool::memory_kind::device, 1, n});
  std::vector<unsigned char> out(n, 0);
  void* e = be_->create_event(0);
  s0.launch_host_func([&] {
    std::this_thread::sleep_for(20ms);
    std::memset(staging.ptr, 0x5A, n);
  });
  be_->record_event(e, 0, s0);
  be_->stream_wait_event(s1, e, 0);
  s1.memcpy_async(dev.ptr, staging.ptr, n);
  s1.memcpy_async(out.data(), dev.ptr, n);
  s1.synchronize();
  EXPECT_EQ(out, std::vector<unsigned char>(n, 0x5A));
  be_->destroy_event(e, 0);
  be_->deallocate(dev);
  be_->deallocate(staging);
}

TEST_F(cuda_backend_test, host_function_exception_surfaces_at_synchronize) {
  pinpool::stream s = be_->create_stream(1);
  std::atomic<bool> later_ran{false};
  s.launch_host_func([] { throw std::runtime_error("boom"); });
  s.launch_host_func([&] { later_ran = true; });
  try {
    s.synchronize();
    ADD_FAILURE() << "synchronize did not throw";
  } catch (const pinpool::error& e) {
    EXPECT_NE(std::string(e.what()).find("host function failed: boom"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(later_ran);
  EXPECT_NO_THROW(s.synchronize());  // reported once
}

TEST_F(cuda_backend_test, wraps_cuda_stream_per_thread) {
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  pinpool::stream_ref per_thread(*be_, cudaStreamPerThread);
  EXPECT_FALSE(per_thread.has_stable_identity());
  EXPECT_EQ(per_thread.device(), 1);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);

  std::vector<int> src(64, 7);
  std::vector<int> dst(64, 0);
  per_thread.memcpy_async(dst.data(), src.data(), src.size() * sizeof(int));
  per_thread.synchronize();
  EXPECT_EQ(dst, src);

  pinpool::stream owned = be_->create_stream(0);
  EXPECT_TRUE(owned.ref().has_stable_identity());
  pinpool::stream_ref wrapped(*be_, static_cast<CUstream_st*>(owned.native_handle()));
  EXPECT_TRUE(wrapped.has_stable_identity());
  EXPECT_EQ(wrapped.device(), 0);
}

// Several host threads drive streams and events at once (run under -fsanitize=thread too).
TEST_F(cuda_backend_test, concurrent_streams_and_events) {
  constexpr int threads = 4;
  constexpr int rounds = 50;
  std::vector<std::thread> pool;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const int device = t % 2;
      pinpool::stream s = be_->create_stream(device);
      pinpool::slab d = be_->allocate({pinpool::memory_kind::device, device, 4096});
      std::vector<unsigned char> in(4096, static_cast<unsigned char>(t));
      std::vector<unsigned char> out(4096, 0xFF);
      for (int r = 0; r < rounds; ++r) {
        void* e = be_->create_event(device);
        s.memcpy_async(d.ptr, in.data(), in.size());
        s.memcpy_async(out.data(), d.ptr, out.size());
        be_->record_event(e, device, s);
        be_->event_done(e, device);
        be_->synchronize_event(e, device);
        if (out != in) ++mismatches;
        be_->destroy_event(e, device);
      }
      be_->deallocate(d);
    });
  }
  for (std::thread& th : pool) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
