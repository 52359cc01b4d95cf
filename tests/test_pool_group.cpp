// pool_group on the CPU backend (one device): construction rules, lookup, combined figures.
// The multi-device rules (peer access) are tested on the emulated runtime
// (test_pool_group_emulated.cpp).
#include <pinpool/pinpool.hpp>

#include <gtest/gtest.h>
#include <stdexcept>
#include <string>

namespace {

using pinpool::memory_kind;

std::shared_ptr<pinpool::backend> cpu() {
  return pinpool::make_backend(pinpool::backend_kind::cpu);
}

// The message of the std::invalid_argument `f` throws ("" when it throws none).
template <class F>
std::string refusal(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(pool_group, makes_one_named_pool_per_device_and_kind) {
  pinpool::pool_options base;
  base.name = "app";
  pinpool::pool_group group(cpu(), {0}, {memory_kind::device, memory_kind::pinned_host}, base);
  EXPECT_EQ(group.get(0, memory_kind::device).stats().name, "app.device.0");
  EXPECT_EQ(group.get(0, memory_kind::pinned_host).stats().kind, memory_kind::pinned_host);
  EXPECT_NE(&group.get(0, memory_kind::device), &group.get(0, memory_kind::pinned_host));
  const std::string missing = refusal([&] { group.get(1, memory_kind::device); });
  EXPECT_NE(missing.find("no device pool for device 1"), std::string::npos) << missing;
  EXPECT_NE(refusal([&] { group.get(0, memory_kind::host); }), "");
}

TEST(pool_group, refuses_bad_lists_with_the_reason) {
  auto be = cpu();
  auto reason = [&](std::vector<int> devices, std::vector<memory_kind> kinds) {
    return refusal([&] { pinpool::pool_group g(be, devices, kinds); });
  };
  EXPECT_NE(reason({}, {memory_kind::device}).find("device list is empty"), std::string::npos);
  EXPECT_NE(reason({0}, {}).find("kind list is empty"), std::string::npos);
  EXPECT_NE(reason({0, 0}, {memory_kind::device}).find("listed twice"), std::string::npos);
  EXPECT_NE(reason({1}, {memory_kind::device}).find("device 1 does not exist"), std::string::npos);
  EXPECT_NE(reason({0}, {memory_kind::host}).find("belongs to no device"), std::string::npos);
}

TEST(pool_group, adds_up_its_pools_figures_and_trims_them_all) {
  pinpool::pool_group group(cpu(), {0});
  pinpool::stream s = group.get_backend().create_stream();
  {
    pinpool::buffer d = group.get(0, memory_kind::device).acquire(1 << 20, s);
    pinpool::buffer h = group.get(0, memory_kind::pinned_host).acquire(4096);
    const pinpool::pool_stats sum = group.stats();
    EXPECT_EQ(sum.acquisitions, 2u);
    EXPECT_EQ(sum.outstanding_buffers, 2u);
    EXPECT_EQ(sum.bytes_in_use, d.capacity() + h.capacity());
    const auto each = group.stats_by_pool();
    ASSERT_EQ(each.size(), 2u);
    EXPECT_EQ(sum.bytes_reserved, each[0].bytes_reserved + each[1].bytes_reserved);
    EXPECT_EQ(sum.name, "pinpool group");
  }
  s.synchronize();
  const std::size_t reserved = group.stats().bytes_reserved;
  EXPECT_GT(reserved, 0u);
  EXPECT_EQ(group.trim(), reserved);
  EXPECT_EQ(group.stats().bytes_reserved, 0u);
}

TEST(pool_group, peer_access_needs_two_distinct_devices) {
  pinpool::pool_group group(cpu(), {0});
  EXPECT_TRUE(group.enable_peer_access().empty()) << "one device: no pair to enable";
  auto be = cpu();
  EXPECT_NE(refusal([&] { be->enable_peer_access(0, 0); }).find("both 0"), std::string::npos);
  EXPECT_NE(refusal([&] { be->enable_peer_access(0, 1); }).find("peer 1 is not a device"),
            std::string::npos);
  EXPECT_FALSE(be->peer_access_enabled(0, 1));
  EXPECT_FALSE(be->peer_access_enabled(-1, 99));
}

}  // namespace
