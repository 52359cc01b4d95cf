#pragma once
// Host NUMA placement (internal): which nodes the system has, asking the kernel to place a range
// on a node (mbind) and reading back where its pages landed (move_pages). Raw system calls over
// <linux/mempolicy.h>: no libnuma (or libnuma-dev) needed to build or run. Used by pinned_slab.

#include <cstddef>
#include <string>
#include <vector>

namespace pinpool::detail {

/// @brief The NUMA nodes online (/sys/devices/system/node/online), ascending; {0} when the
/// system does not say (no NUMA support in the kernel: one node).
std::vector<int> numa_nodes_online();

/// @brief "0" or "0-1,3": the nodes as the kernel lists them.
std::string numa_nodes_text(const std::vector<int>& nodes);

/// @brief Throws std::invalid_argument naming `who`, `node` and the nodes present unless `node`
/// is -1 or an online node.
void check_numa_node(int node, const std::string& who);

/// @brief Prefers `node` for the pages of [p, p + bytes) not yet touched (mbind MPOL_PREFERRED:
/// a full node spills to others instead of waking the OOM killer; the read back says where the
/// pages went). -1: the node of the calling thread, and only when the system has several nodes
/// (a single node needs no policy). @return false when the kernel refused (errno kept), true
/// when placed or nothing was needed. @pre `p` page-aligned.
bool prefer_numa_node(void* p, std::size_t bytes, int node) noexcept;

/// @brief The node most of the sampled pages of [p, p + bytes) are on (up to 64 pages spread
/// evenly, read back with move_pages and null nodes; get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)
/// for the first page when move_pages is refused). -1 when neither answers. @pre the pages are
/// touched (an untouched page is on no node).
int numa_node_of(const void* p, std::size_t bytes) noexcept;

}  // namespace pinpool::detail
