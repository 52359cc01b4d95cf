// Pinned slabs on the CUDA backend, over the emulated runtime: anonymous memory first-touched in
// parallel and registered (cudaHostRegister), cudaHostAlloc when registration fails, each freed
// the way it was made, NUMA placement read back, registration hooks seeing each slab once.
#include "emulation/violation_check.hpp"

#include <pinpool/pinpool.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstring>
#include <gtest/gtest.h>
#include <stdexcept>
#include <vector>

namespace {

using pinpool::memory_kind;
constexpr std::size_t mib = std::size_t{1} << 20;

class emulated_pinned_slab : public pinpool_emu::checked_test {
 protected:
  void SetUp() override {
    pinpool_emu::reset(2);
    pinpool_emu::checked_test::SetUp();
  }
  static pinpool::pool_options options(std::size_t slab, int node) {
    pinpool::pool_options o;
    o.kind = memory_kind::pinned_host;
    o.slab_bytes = slab;
    o.first_slab_bytes = slab;
    o.initial_bytes = slab;
    o.numa_node = node;
    o.name = "emu-numa";
    return o;
  }
  /// Copies `bytes` from `pinned` to device memory and back on a stream, then compares.
  static void round_trip(pinpool::backend& be, void* pinned, std::size_t bytes) {
    auto* h = static_cast<unsigned char*>(pinned);
    for (std::size_t i = 0; i < bytes; i += 4096) h[i] = static_cast<unsigned char>(i >> 12);
    void* d = nullptr;
    ASSERT_EQ(cudaMalloc(&d, bytes), cudaSuccess);
    std::vector<unsigned char> expected(h, h + bytes);
    auto s = be.create_stream();
    s.memcpy_async(d, pinned, bytes);
    s.memcpy_async(pinned, d, bytes);  // device to pinned: asynchronous only for pinned memory
    s.synchronize();
    EXPECT_EQ(std::memcmp(expected.data(), pinned, bytes), 0);
    ASSERT_EQ(cudaFree(d), cudaSuccess);
  }
};

TEST_F(emulated_pinned_slab, slabs_are_registered_anonymous_memory_freed_by_unregistering) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  {
    pinpool::pool p(be, options(64 * mib, 0));
    const pinpool::pool_stats st = p.stats();
    EXPECT_TRUE(st.page_locked);
    ASSERT_EQ(st.numa_nodes.size(), 1U);
    EXPECT_EQ(st.numa_nodes[0].node, 0) << "read back from the kernel";
    EXPECT_EQ(st.numa_nodes[0].bytes, 64 * mib);
    pinpool::buffer b = p.acquire(8 * mib);
    round_trip(*be, b.data(), b.size());
  }
  const pinpool_emu::counters c = pinpool_emu::get_counters();
  EXPECT_EQ(c.count("cudaHostRegister"), 1U);
  EXPECT_EQ(c.count("cudaHostUnregister"), 1U);
  EXPECT_EQ(c.host_alloc_calls, 0U);
  EXPECT_EQ(c.free_host_calls, 0U);
  EXPECT_EQ(pinpool_emu::live_allocations(), 0U) << "a slab was not unregistered";
}

TEST_F(emulated_pinned_slab, a_failed_registration_falls_back_to_cuda_host_alloc) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  {
    pinpool_emu::fail_nth_host_register(1);
    pinpool::pool p(be, options(4 * mib, 0));
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the refused registration's error was cleared";
    const pinpool::pool_stats st = p.stats();
    EXPECT_TRUE(st.page_locked);
    ASSERT_EQ(st.numa_nodes.size(), 1U);
    EXPECT_EQ(st.numa_nodes[0].node, 0);
    pinpool::buffer a = p.acquire(mib);
    round_trip(*be, a.data(), a.size());
    pinpool::buffer b = p.acquire(4 * mib);  // a second slab: registered again
    round_trip(*be, b.data(), b.size());
  }
  const pinpool_emu::counters c = pinpool_emu::get_counters();
  EXPECT_EQ(c.count("cudaHostRegister"), 2U);
  EXPECT_EQ(c.host_alloc_calls, 1U);
  EXPECT_EQ(c.free_host_calls, 1U) << "the fallback slab goes back through cudaFreeHost";
  EXPECT_EQ(c.count("cudaHostUnregister"), 1U) << "the registered one through unregister";
  EXPECT_EQ(pinpool_emu::live_allocations(), 0U);
}

TEST_F(emulated_pinned_slab, registration_and_fallback_failing_throws_out_of_memory) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool_emu::fail_nth_host_register(1);
  pinpool_emu::fail_nth_allocation(1);
  EXPECT_THROW(pinpool::pool(be, options(4 * mib, 0)), pinpool::out_of_memory);
  EXPECT_EQ(pinpool_emu::live_allocations(), 0U);
}

TEST_F(emulated_pinned_slab, hooks_see_each_slab_once_whichever_way_it_was_made) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  int created = 0;
  int destroyed = 0;
  {
    pinpool::pool_options o = options(4 * mib, -1);
    o.hooks.on_create = [&](const pinpool::slab_info&) { ++created; };
    o.hooks.on_destroy = [&](const pinpool::slab_info&) { ++destroyed; };
    pinpool_emu::fail_nth_host_register(2);  // the second slab falls back
    pinpool::pool p(be, o);
    pinpool::buffer a = p.acquire(4 * mib);  // the initial slab
    pinpool::buffer b = p.acquire(4 * mib);  // a second one
  }
  EXPECT_EQ(created, 2);
  EXPECT_EQ(destroyed, 2);
  EXPECT_EQ(pinpool_emu::get_counters().host_alloc_calls, 1U) << "the second slab fell back";
  EXPECT_EQ(pinpool_emu::live_allocations(), 0U);
}

TEST_F(emulated_pinned_slab, a_256_mib_slab_is_usable_on_every_page) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o = options(256 * mib, 0);
  o.slab_touch_threads = 4;
  pinpool::pool p(be, o);
  pinpool::buffer b = p.acquire(256 * mib);
  auto* bytes = static_cast<unsigned char*>(b.data());
  for (std::size_t i = 0; i < b.size(); i += 4096) bytes[i] = 0xa5;
  for (std::size_t i = 0; i < b.size(); i += 4096) ASSERT_EQ(bytes[i], 0xa5) << i;
  EXPECT_EQ(p.stats().numa_nodes.at(0).node, 0);
}

TEST_F(emulated_pinned_slab, an_absent_node_is_refused_at_construction) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
  pinpool::pool_options o = options(4 * mib, 63);
  o.initial_bytes = 0;
  EXPECT_THROW(pinpool::pool(be, o), std::invalid_argument);
  EXPECT_EQ(pinpool_emu::get_counters().count("cudaHostRegister"), 0U);
}

}  // namespace
