// Tests of the CUDA runtime emulation itself, and of the CUDA backend running over it.
// Linked against tests/emulation/cuda_emulation.cpp instead of libcudart.

#include "../src/cuda_backend.hpp"
#include "emulation/cuda_emulation.hpp"
#include "emulation/violation_check.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/error.hpp>
#include <pinpool/stream.hpp>

#include <cuda_runtime_api.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>
#include <gtest/gtest.h>
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

TEST_F(emulation_test, detects_free_while_a_queued_copy_uses_the_memory) {
  cudaStream_t s = make_stream(0);
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
  std::vector<unsigned char> result(n, 0);

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
  ASSERT_EQ(cudaMemcpyAsync(result.data(), dev, n, cudaMemcpyDefault, b), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(b_done, b), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, c), cudaSuccess);  // re-record: B's wait keeps the old record
  ASSERT_EQ(cudaEventSynchronize(e), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(e), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(b_done), cudaErrorNotReady);
  EXPECT_EQ(cudaGetLastError(), cudaErrorNotReady);

  job.g.open();
  ASSERT_EQ(cudaStreamSynchronize(b), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(b_done), cudaSuccess);
  EXPECT_EQ(result, std::vector<unsigned char>(n, 0xAB));

  EXPECT_EQ(cudaFree(dev), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(staging), cudaSuccess);
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
      std::memset(s.ptr, 1, s.bytes);
      be_->deallocate(s);
    }
  }
  const pinpool_emu::counters c = pinpool_emu::get_counters();
  EXPECT_EQ(c.malloc_calls, 2u);
  EXPECT_EQ(c.host_alloc_calls, 2u);
  EXPECT_EQ(c.free_calls, 2u);
  EXPECT_EQ(c.free_host_calls, 2u);
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
