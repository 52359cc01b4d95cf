// pool_group over two emulated devices: a device pool takes another device's stream only after
// peer access from that device is enabled, and a chunk handed across devices keeps its data.
#include "emulation/cuda_emulation.hpp"
#include "emulation/violation_check.hpp"

#include <pinpool/pinpool.hpp>

#include <cuda_runtime_api.h>

#include <cstring>
#include <gtest/gtest.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using pinpool::memory_kind;

class emulated_pool_group : public pinpool_emu::checked_test {
 protected:
  void SetUp() override {
    pinpool_emu::reset(2);
    pinpool_emu::checked_test::SetUp();
  }
  std::shared_ptr<pinpool::backend> be_ = pinpool::make_backend(pinpool::backend_kind::cuda);
};

TEST_F(emulated_pool_group, a_device_pool_takes_another_devices_stream_only_with_peer_access) {
  // pending_reuse = always: the hand-off below is a device-side wait on device 1's fence, so the
  // chunk is reused whatever the timing (with at_cap the pool grows while device 1's stream is
  // still busy, as it may be: PINPOOL_EMU_CHAOS made that the rule).
  pinpool::pool_options base;
  base.pending_reuse = pinpool::cross_stream_reuse::always;
  pinpool::pool_group group(be_, {0, 1}, {memory_kind::device, memory_kind::pinned_host}, base);
  pinpool::pool& dev0 = group.get(0, memory_kind::device);
  pinpool::stream on_1 = be_->create_stream(1);
  try {
    dev0.acquire(4096, on_1);
    ADD_FAILURE() << "a stream of device 1 was accepted without peer access";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("without peer access"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(group.enable_peer_access().empty());
  EXPECT_TRUE(pinpool_emu::peer_access_enabled(0, 1));
  EXPECT_TRUE(pinpool_emu::peer_access_enabled(1, 0));
  EXPECT_EQ(pinpool_emu::get_counters().count("cudaDeviceEnablePeerAccess"), 2u);
  EXPECT_TRUE(group.enable_peer_access().empty());
  EXPECT_EQ(pinpool_emu::get_counters().count("cudaDeviceEnablePeerAccess"), 2u)
      << "enabled pairs are remembered, not asked again";

  // Written on device 1's stream, handed to device 0's: the data arrives, no rule is broken
  // (events are recorded on their own device's streams).
  pinpool::pool& pinned = group.get(0, memory_kind::pinned_host);
  pinpool::stream on_0 = be_->create_stream(0);
  std::vector<unsigned char> expected(4096, 0x5A);
  void* first = nullptr;
  {
    pinpool::buffer src = pinned.acquire(4096);
    std::memcpy(src.data(), expected.data(), expected.size());
    pinpool::buffer d = dev0.acquire(4096, on_1);
    first = d.data();
    on_1.memcpy_async(d.data(), src.data(), 4096);
    src.set_stream(on_1);
  }  // both released on device 1's stream
  pinpool::buffer again = dev0.acquire(4096, on_0);
  EXPECT_EQ(again.data(), first) << "the chunk is reused across devices";
  pinpool::buffer back = pinned.acquire(4096, on_0);
  on_0.memcpy_async(back.data(), again.data(), 4096);
  on_0.synchronize();
  EXPECT_EQ(std::memcmp(back.data(), expected.data(), expected.size()), 0);
}

TEST_F(emulated_pool_group, devices_that_cannot_reach_each_other_are_reported) {
  pinpool_emu::set_peer_access_capable(false);
  pinpool::pool_group group(be_, {0, 1}, {memory_kind::device});
  const auto refused = group.enable_peer_access();
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0], std::make_pair(0, 1));
  EXPECT_EQ(refused[1], std::make_pair(1, 0));
  pinpool::stream on_1 = be_->create_stream(1);
  EXPECT_THROW(group.get(0, memory_kind::device).acquire(4096, on_1), std::invalid_argument);
}

// Access the application enabled itself is not an error, and leaves no error behind.
TEST_F(emulated_pool_group, access_the_application_enabled_first_is_accepted) {
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  ASSERT_EQ(cudaDeviceEnablePeerAccess(0, 0), cudaSuccess);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  EXPECT_TRUE(be_->enable_peer_access(1, 0));
  EXPECT_TRUE(be_->peer_access_enabled(1, 0));
  EXPECT_FALSE(be_->peer_access_enabled(0, 1));
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

// Out of memory in a pinned pool of the group: host memory is one resource, so the group trims
// the other devices' pinned pools before the application's callback is asked.
TEST_F(emulated_pool_group, an_exhausted_pinned_pool_trims_the_other_devices_pinned_pools) {
  int asked = 0;
  pinpool::pool_options base;
  base.on_exhausted = [&](const pinpool::exhaustion&) { return ++asked, false; };
  pinpool::pool_group group(be_, {0, 1}, {memory_kind::pinned_host}, base);
  group.get(0, memory_kind::pinned_host).acquire(4096).reset();  // an idle slab on device 0
  ASSERT_GT(group.get(0, memory_kind::pinned_host).stats().bytes_reserved, 0u);
  // Device 1's pool's first slab: its registration fails, then the cudaHostAlloc it falls back to.
  pinpool_emu::fail_nth_host_register(1);
  pinpool_emu::fail_nth_allocation(1);
  pinpool::buffer b = group.get(1, memory_kind::pinned_host).acquire(4096);
  EXPECT_EQ(group.get(0, memory_kind::pinned_host).stats().bytes_reserved, 0u);
  EXPECT_EQ(asked, 0) << "the group's trim was enough";
  EXPECT_EQ(pinpool_emu::get_counters().count("cudaHostUnregister"), 1u);

  pinpool_emu::fail_nth_host_register(1);  // nothing left to trim: the callback is asked
  pinpool_emu::fail_nth_allocation(1);
  pinpool::pool& other = group.get(0, memory_kind::pinned_host);
  EXPECT_THROW(other.acquire(4096), pinpool::out_of_memory);
  EXPECT_EQ(asked, 1);
  cudaGetLastError();
}

}  // namespace
