// pinpool pools behind RAPIDS RMM 26.10's own classes, on the emulated CUDA runtime.
//
// RMM's header code (device_uvector, the per-device resource map, the adaptors' templates, the
// resource_ref / any_resource machinery) and pinpool's CUDA backend run in this binary against
// tests/emulation. librmm.so's compiled parts (device_buffer's members, statistics and limiting
// adaptors) call the runtime statically linked into librmm.so, which finds no driver here: the
// tests use only the parts that make no runtime call there (device_buffer's allocation and
// release go through the resource; its copies would not), and move data with the emulated
// runtime. RMM's "current device" is then whatever librmm's runtime reports, the same for every
// set and get, so the per-device map still routes consistently.

#include "emulation/violation_check.hpp"

#include <pinpool/memory_resource.hpp>  // first: it enables CCCL 3.0's experimental cuda::mr
#include <pinpool/pinpool.hpp>
#include <pinpool/rmm_resource.hpp>

#include <cuda/memory_resource>

#include <cuda_runtime_api.h>

#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <numeric>
#include <optional>
#include <rmm/cuda_stream_view.hpp>
#include <rmm/device_buffer.hpp>
#include <rmm/device_uvector.hpp>
#include <rmm/error.hpp>
#include <rmm/mr/failure_callback_resource_adaptor.hpp>
#include <rmm/mr/limiting_resource_adaptor.hpp>
#include <rmm/mr/per_device_resource.hpp>
#include <rmm/mr/statistics_resource_adaptor.hpp>
#include <rmm/resource_ref.hpp>
#include <stdexcept>
#include <vector>

namespace {

// The claim behind rmm_resource.hpp: the cuda::mr adaptors of memory_resource.hpp follow CCCL
// 3.0's interface, which RMM 26.10's CCCL (3.5) no longer accepts; the new adaptors do.
static_assert(!cuda::mr::synchronous_resource<pinpool::device_pool_resource>,
              "device_pool_resource now models CCCL 3.5's resource: drop rmm_device_resource?");
static_assert(!cuda::mr::resource<pinpool::device_pool_resource>);
static_assert(cuda::mr::resource_with<pinpool::rmm_device_resource, cuda::mr::device_accessible>);
static_assert(!cuda::mr::resource_with<pinpool::rmm_device_resource, cuda::mr::host_accessible>);
static_assert(cuda::mr::resource_with<pinpool::rmm_pinned_resource, cuda::mr::host_accessible,
                                      cuda::mr::device_accessible>);
static_assert(
    std::is_constructible_v<rmm::device_async_resource_ref, pinpool::rmm_device_resource&>);
static_assert(
    std::is_constructible_v<rmm::host_device_async_resource_ref, pinpool::rmm_pinned_resource&>);

class rmm_adapter : public pinpool_emu::checked_test {
 protected:
  void SetUp() override {
    pinpool_emu::reset(2);
    pinpool_emu::checked_test::SetUp();
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess);
  }
  void TearDown() override {
    pool_.reset();  // before the stream goes: the pool waits for its releases on it
    EXPECT_EQ(cudaStreamDestroy(stream_), cudaSuccess);
    pinpool_emu::checked_test::TearDown();
  }

  pinpool::pool& make_pool(pinpool::memory_kind kind, std::size_t max_bytes = 0) {
    pinpool::pool_options o;
    o.kind = kind;
    o.max_bytes = max_bytes;
    o.slab_bytes = 1 << 20;
    o.first_slab_bytes = 1 << 20;
    o.name = "rmm-test";
    pool_.emplace(be_, o);
    return *pool_;
  }

  /// Host bytes -> device memory -> host, through the emulated runtime on stream_.
  std::vector<int> round_trip(void* device_memory, const std::vector<int>& in) {
    std::vector<int> out(in.size(), -1);
    const std::size_t bytes = in.size() * sizeof(int);
    EXPECT_EQ(cudaMemcpyAsync(device_memory, in.data(), bytes, cudaMemcpyDefault, stream_),
              cudaSuccess);
    EXPECT_EQ(cudaMemcpyAsync(out.data(), device_memory, bytes, cudaMemcpyDefault, stream_),
              cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    return out;
  }

  std::shared_ptr<pinpool::backend> be_ = pinpool::make_backend(pinpool::backend_kind::cuda);
  std::optional<pinpool::pool> pool_;
  cudaStream_t stream_ = nullptr;
};

std::vector<int> iota_vector(std::size_t n, int first) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST_F(rmm_adapter, device_buffer_and_uvector_live_in_the_pool_and_hold_data) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::device);
  pinpool::rmm_device_resource mr{pool};
  {
    rmm::device_buffer buf(1000, rmm::cuda_stream_view{stream_}, mr);
    ASSERT_NE(buf.data(), nullptr);
    EXPECT_EQ(buf.size(), 1000u);
    EXPECT_EQ(mr.outstanding(), 1u);
    EXPECT_EQ(pool.stats().outstanding_buffers, 1u);
    EXPECT_EQ(pool.stats().bytes_requested, 1000u);

    rmm::device_uvector<int> v(4096, rmm::cuda_stream_view{stream_}, mr);
    EXPECT_EQ(pool.stats().outstanding_buffers, 2u);
    const std::vector<int> in = iota_vector(v.size(), 7);
    EXPECT_EQ(round_trip(v.data(), in), in);
  }
  // Both released on stream_ (as cudaFreeAsync); nothing is out any more.
  EXPECT_EQ(mr.outstanding(), 0u);
  const pinpool::pool_stats st = pool.stats();
  EXPECT_EQ(st.outstanding_buffers, 0u);
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.backend_allocations, 1u) << "one 1 MiB slab serves both";
}

TEST_F(rmm_adapter, current_device_resource_routes_default_constructed_rmm_containers) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::device);
  pinpool::rmm_device_resource mr{pool};
  auto previous = rmm::mr::set_current_device_resource(mr);
  {
    rmm::device_uvector<int> v(256, rmm::cuda_stream_view{stream_});  // the current resource
    EXPECT_EQ(pool.stats().outstanding_buffers, 1u);
    EXPECT_EQ(mr.outstanding(), 1u);
    const std::vector<int> in = iota_vector(v.size(), -300);
    EXPECT_EQ(round_trip(v.data(), in), in);

    // The ref RMM hands out is the pool too.
    rmm::device_async_resource_ref ref = rmm::mr::get_current_device_resource_ref();
    void* p = ref.allocate(cuda::stream_ref{stream_}, 512, 256);
    EXPECT_EQ(pool.stats().outstanding_buffers, 2u);
    ref.deallocate(cuda::stream_ref{stream_}, p, 512, 256);
  }
  EXPECT_EQ(pool.stats().outstanding_buffers, 0u);
  rmm::mr::set_current_device_resource(std::move(previous));  // before the pool goes
}

TEST_F(rmm_adapter, upstream_of_statistics_resource_adaptor) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::device);
  rmm::mr::statistics_resource_adaptor stats{pinpool::rmm_device_resource{pool}};
  {
    rmm::device_buffer a(3000, rmm::cuda_stream_view{stream_}, stats);
    rmm::device_buffer b(5000, rmm::cuda_stream_view{stream_}, stats);
    EXPECT_EQ(stats.get_bytes_counter().value, 8000);
    EXPECT_EQ(stats.get_allocations_counter().value, 2);
    EXPECT_EQ(pool.stats().outstanding_buffers, 2u);
    EXPECT_EQ(pool.stats().bytes_requested, 8000u);
  }
  EXPECT_EQ(stats.get_bytes_counter().value, 0);
  EXPECT_EQ(stats.get_bytes_counter().peak, 8000);
  EXPECT_EQ(pool.stats().outstanding_buffers, 0u);
}

TEST_F(rmm_adapter, upstream_of_limiting_resource_adaptor) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::device);
  rmm::mr::limiting_resource_adaptor limited{pinpool::rmm_device_resource{pool}, 4096};
  rmm::device_buffer fits(4096, rmm::cuda_stream_view{stream_}, limited);
  EXPECT_EQ(pool.stats().outstanding_buffers, 1u);
  EXPECT_EQ(limited.get_allocated_bytes(), 4096u);
  EXPECT_THROW(rmm::device_buffer(1, rmm::cuda_stream_view{stream_}, limited), rmm::out_of_memory);
  EXPECT_EQ(pool.stats().outstanding_buffers, 1u) << "the limit refused it before the pool";
}

TEST_F(rmm_adapter, a_pool_at_its_cap_is_rmm_out_of_memory_and_failure_callback_retries) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::device, 1 << 20);  // one slab
  pinpool::rmm_device_resource mr{pool};
  auto hog = std::make_unique<rmm::device_buffer>(900 << 10, rmm::cuda_stream_view{stream_}, mr);
  try {
    rmm::device_buffer more(900 << 10, rmm::cuda_stream_view{stream_}, mr);
    ADD_FAILURE() << "the pool's cap did not hold";
  } catch (const rmm::out_of_memory& e) {
    EXPECT_NE(std::string(e.what()).find("rmm-test"), std::string::npos)
        << "pinpool's message (naming the pool) is kept: " << e.what();
  }

  // RMM's failure_callback_resource_adaptor catches rmm::out_of_memory from its upstream: the
  // callback frees the hog and asks for a retry, which the pool then serves.
  struct state {
    std::unique_ptr<rmm::device_buffer>* hog;
    cudaStream_t stream;
    int calls = 0;
  } st{&hog, stream_};
  auto callback = [](std::size_t, void* arg) {
    auto* s = static_cast<state*>(arg);
    ++s->calls;
    if (!*s->hog) return false;
    s->hog->reset();
    // The hog was released on the stream: let that work finish so the chunk is idle again.
    return cudaStreamSynchronize(s->stream) == cudaSuccess;
  };
  rmm::mr::failure_callback_resource_adaptor<> retrying{mr, callback, &st};
  {
    rmm::device_buffer more(900 << 10, rmm::cuda_stream_view{stream_}, retrying);
    EXPECT_NE(more.data(), nullptr);
    EXPECT_EQ(st.calls, 1);
    EXPECT_EQ(pool.stats().outstanding_buffers, 1u);
  }
  // A callback that cannot free gives up: the error reaches the caller.
  auto holder = std::make_unique<rmm::device_buffer>(900 << 10, rmm::cuda_stream_view{stream_}, mr);
  EXPECT_THROW(rmm::device_buffer(900 << 10, rmm::cuda_stream_view{stream_}, retrying),
               rmm::out_of_memory);
  EXPECT_EQ(st.calls, 2);
  EXPECT_EQ(pool.stats().backend_allocations, 1u) << "the cap held throughout";
}

TEST_F(rmm_adapter, same_stream_reuse_through_rmm_and_cross_stream_release) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::device);
  pinpool::rmm_device_resource mr{pool};
  rmm::device_async_resource_ref ref{mr};
  void* a = ref.allocate(cuda::stream_ref{stream_}, 64 << 10, 256);
  const pinpool_emu::counters before = pinpool_emu::get_counters();
  ref.deallocate(cuda::stream_ref{stream_}, a, 64 << 10, 256);
  void* b = ref.allocate(cuda::stream_ref{stream_}, 64 << 10, 256);
  const pinpool_emu::counters after = pinpool_emu::get_counters();
  EXPECT_EQ(a, b) << "same stream: the chunk is reused at once, stream-ordered";
  // What rmm_resource.hpp says a round trip costs: the stream wrapped twice (device and
  // identity each time), one event recorded at the release (a foreign stream), no allocation.
  const auto calls = [&](const char* entry) { return after.count(entry) - before.count(entry); };
  EXPECT_EQ(calls("cudaStreamGetDevice"), 2u);
  EXPECT_EQ(calls("cudaStreamGetId"), 2u);
  EXPECT_EQ(calls("cudaEventRecord"), 1u);
  EXPECT_EQ(after.malloc_calls, before.malloc_calls);
  cudaStream_t other = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking), cudaSuccess);
  // Freed on another stream (cudaFreeAsync semantics: the caller ordered its work before it).
  ref.deallocate(cuda::stream_ref{other}, b, 64 << 10, 256);
  EXPECT_EQ(cudaStreamSynchronize(other), cudaSuccess);
  EXPECT_EQ(pool.stats().outstanding_buffers, 0u);
  EXPECT_EQ(pool.stats().bytes_pending, 0u);
  pool_.reset();
  EXPECT_EQ(cudaStreamDestroy(other), cudaSuccess);
}

TEST_F(rmm_adapter, default_stream_and_synchronous_calls) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::device);
  pinpool::rmm_device_resource mr{pool};
  {
    rmm::device_buffer buf(2048, cuda::stream_ref{cudaStream_t{nullptr}}, mr);  // legacy stream
    EXPECT_EQ(pool.stats().outstanding_buffers, 1u);
  }
  void* p = mr.allocate_sync(100);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 256, 0u);
  void* q = mr.allocate_sync(100, 4096);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % 4096, 0u);
  EXPECT_THROW(mr.allocate_sync(100, 3), std::invalid_argument);
  mr.deallocate_sync(p, 100);
  mr.deallocate_sync(q, 100, 4096);
  EXPECT_EQ(pool.stats().outstanding_buffers, 0u);
  EXPECT_EQ(mr.outstanding(), 0u);
}

TEST_F(rmm_adapter, pinned_pool_as_host_device_resource) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::pinned_host);
  pinpool::rmm_pinned_resource mr{pool};
  rmm::host_device_async_resource_ref ref{mr};
  auto* host = static_cast<int*>(ref.allocate_sync(1000 * sizeof(int), 256));
  for (int i = 0; i < 1000; ++i) host[i] = i * 3;  // host-accessible: the host writes it
  std::vector<int> back(1000);
  ASSERT_EQ(cudaMemcpyAsync(back.data(), host, 1000 * sizeof(int), cudaMemcpyDefault, stream_),
            cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  EXPECT_EQ(back[999], 2997);
  ref.deallocate_sync(host, 1000 * sizeof(int), 256);
  // And wherever RMM wants a device resource.
  {
    rmm::device_buffer buf(512, rmm::cuda_stream_view{stream_}, mr);
    EXPECT_EQ(pool.stats().outstanding_buffers, 1u);
  }
  EXPECT_EQ(pool.stats().outstanding_buffers, 0u);
}

TEST_F(rmm_adapter, copies_compare_equal_and_share_one_count) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::device);
  pinpool::rmm_device_resource a{pool};
  pinpool::rmm_device_resource b = a;
  pinpool::rmm_device_resource c{pool};
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c) << "separately constructed adaptors keep separate counts";
  void* p = b.allocate_sync(10);
  EXPECT_EQ(a.outstanding(), 1u);
  a.deallocate_sync(p, 10);
  EXPECT_EQ(b.outstanding(), 0u);
}

TEST_F(rmm_adapter, wrong_pools_are_refused_with_a_clear_error) {
  pinpool::pool& pinned = make_pool(pinpool::memory_kind::pinned_host);
  try {
    pinpool::rmm_device_resource bad{pinned};
    ADD_FAILURE() << "a pinned pool became a device resource";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("needs a 'device' pool"), std::string::npos) << e.what();
  }
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  pinpool::pool cpu{pinpool::make_backend(pinpool::backend_kind::cpu), o};
  try {
    pinpool::rmm_device_resource bad{cpu};
    ADD_FAILURE() << "a CPU-backend pool became an RMM resource";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA backend"), std::string::npos) << e.what();
  }
}

TEST_F(rmm_adapter, stream_of_another_device_is_refused_and_the_pool_is_unchanged) {
  pinpool::pool& pool = make_pool(pinpool::memory_kind::device);  // device 0
  pinpool::rmm_device_resource mr{pool};
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  cudaStream_t on1 = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&on1, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  EXPECT_THROW(mr.allocate(cuda::stream_ref{on1}, 256), std::invalid_argument);
  EXPECT_EQ(pool.stats().outstanding_buffers, 0u);
  EXPECT_EQ(cudaStreamDestroy(on1), cudaSuccess);
}

}  // namespace
