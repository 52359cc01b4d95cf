// Pinned slab creation (src/pinned_slab.hpp, src/numa.hpp) and pool_options::numa_node on the
// CPU backend: slabs land on the node asked for (read back, not assumed), an absent node is
// refused at construction, memory touched by several threads is fully usable.
#include "numa.hpp"
#include "pinned_slab.hpp"

#include <pinpool/pinpool.hpp>

#include <cstddef>
#include <cstdint>
#include <gtest/gtest.h>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using pinpool::memory_kind;
constexpr std::size_t mib = std::size_t{1} << 20;

/// Writes a pattern to every page of [p, p + bytes) and reads it back.
bool every_page_usable(void* p, std::size_t bytes) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t off = 0; off < bytes; off += page)
    b[off] = static_cast<unsigned char>(off >> 12);
  b[bytes - 1] = 0x5a;
  for (std::size_t off = 0; off + 1 < bytes; off += page) {
    if (b[off] != static_cast<unsigned char>(off >> 12)) return false;
  }
  return b[bytes - 1] == 0x5a;
}

pinpool::pool_options pinned_options(std::size_t slab, int node) {
  pinpool::pool_options o;
  o.kind = memory_kind::pinned_host;
  o.slab_bytes = slab;
  o.first_slab_bytes = slab;
  o.initial_bytes = slab;
  o.numa_node = node;
  o.name = "numa-test";
  return o;
}

TEST(numa, the_online_nodes_include_node_0_and_print_as_the_kernel_lists_them) {
  const std::vector<int> nodes = pinpool::detail::numa_nodes_online();
  ASSERT_FALSE(nodes.empty());
  EXPECT_EQ(nodes.front(), 0);
  EXPECT_EQ(pinpool::detail::numa_nodes_text({0}), "0");
  EXPECT_EQ(pinpool::detail::numa_nodes_text({0, 1, 2, 3, 5}), "0-3,5");
}

TEST(numa, default_touch_threads_grow_with_the_slab_up_to_four) {
  using pinpool::detail::default_touch_threads;
  EXPECT_EQ(default_touch_threads(4 * mib), 1U) << "small slabs: the calling thread alone";
  EXPECT_GE(default_touch_threads(1024 * mib), 1U);
  EXPECT_LE(default_touch_threads(1024 * mib), 4U);
}

TEST(numa, a_slab_on_node_0_reads_back_node_0) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool p(be, pinned_options(8 * mib, 0));
  const pinpool::pool_stats st = p.stats();
  ASSERT_EQ(st.numa_nodes.size(), 1U);
  EXPECT_EQ(st.numa_nodes[0].node, 0);
  EXPECT_EQ(st.numa_nodes[0].bytes, 8 * mib);
  EXPECT_EQ(st.numa_nodes[0].slabs, 1U);
  EXPECT_NE(st.to_json().find("\"numa_nodes\":[{\"node\":0,\"bytes\":8388608,\"slabs\":1}]"),
            std::string::npos)
      << st.to_json();
}

TEST(numa, no_preference_still_reports_the_node_read_back) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool p(be, pinned_options(4 * mib, -1));
  const pinpool::pool_stats st = p.stats();
  ASSERT_EQ(st.numa_nodes.size(), 1U);
  EXPECT_GE(st.numa_nodes[0].node, 0);
}

TEST(numa, an_absent_node_is_refused_at_construction_naming_the_nodes_present) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool_options o = pinned_options(4 * mib, 63);
  o.initial_bytes = 0;  // refused before any slab is made
  try {
    pinpool::pool p(be, o);
    FAIL() << "numa_node 63 accepted";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("numa-test"), std::string::npos) << what;
    EXPECT_NE(what.find("numa_node 63"), std::string::npos) << what;
    EXPECT_NE(what.find("nodes present: " +
                        pinpool::detail::numa_nodes_text(pinpool::detail::numa_nodes_online())),
              std::string::npos)
        << what;
  }
  o.numa_node = -2;
  EXPECT_THROW(pinpool::pool(be, o), std::invalid_argument);
}

TEST(numa, a_device_pool_with_a_numa_node_is_refused) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool_options o = pinned_options(4 * mib, 0);
  o.kind = memory_kind::device;
  EXPECT_THROW(pinpool::pool(be, o), std::invalid_argument);
}

TEST(pinned_slab, memory_touched_by_several_threads_is_usable_on_every_page) {
  for (const unsigned threads : {1U, 2U, 3U, 4U, 16U}) {
    // Not a multiple of the huge page or of the thread count: the last part is short.
    const std::size_t bytes = 37 * mib + 3 * 4096 + 100;
    const pinpool::detail::host_slab s =
        pinpool::detail::make_host_slab({bytes, 0, threads, true, false});
    ASSERT_NE(s.ptr, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.ptr) % (2 * mib), 0U) << "huge-page aligned";
    EXPECT_EQ(s.numa_node, 0);
    EXPECT_TRUE(every_page_usable(s.ptr, bytes)) << threads << " threads";
    pinpool::detail::free_host_slab(s.ptr, s.bytes);
  }
}

TEST(pinned_slab, a_256_mib_pool_slab_is_usable_and_placed) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool_options o = pinned_options(256 * mib, 0);
  o.slab_touch_threads = 4;
  pinpool::pool p(be, o);
  pinpool::buffer b = p.acquire(256 * mib - 4096);
  EXPECT_TRUE(every_page_usable(b.data(), b.size()));
  const pinpool::pool_stats st = p.stats();
  ASSERT_EQ(st.numa_nodes.size(), 1U);
  EXPECT_EQ(st.numa_nodes[0].node, 0);
  EXPECT_EQ(st.numa_nodes[0].bytes, 256 * mib);
}

TEST(pinned_slab, host_pools_place_but_do_not_touch_and_report_an_unknown_node) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool_options o = pinned_options(4 * mib, 0);
  o.kind = memory_kind::host;
  pinpool::pool p(be, o);
  const pinpool::pool_stats st = p.stats();
  ASSERT_EQ(st.numa_nodes.size(), 1U);
  EXPECT_EQ(st.numa_nodes[0].node, -1);
  pinpool::buffer b = p.acquire(mib);
  EXPECT_TRUE(every_page_usable(b.data(), b.size()));
}

TEST(pinned_slab, a_group_places_its_pinned_pools_and_sums_their_nodes) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool_options o = pinned_options(4 * mib, 0);
  pinpool::pool_group g(be, {0}, {memory_kind::device, memory_kind::pinned_host}, o);
  const pinpool::pool_stats st = g.stats();
  ASSERT_EQ(st.numa_nodes.size(), 1U) << st.to_json();  // the device pool's slab has no node
  EXPECT_EQ(st.numa_nodes[0].node, 0);
  EXPECT_EQ(st.numa_nodes[0].bytes, 4 * mib);
}

}  // namespace
