#pragma once
/// @file pool_stats.hpp
/// @brief A snapshot of a pool's counters and gauges.

#include <pinpool/memory_kind.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pinpool {

/// @brief Figures of one size class.
struct size_class_stats {
  std::size_t chunk_bytes = 0;    ///< the class's chunk size
  std::size_t chunks = 0;         ///< chunks carved for this class
  std::size_t chunks_in_use = 0;  ///< handed out now
  std::uint64_t acquisitions = 0;
  std::uint64_t hits = 0;  ///< acquisitions served by a reused chunk
};

/// @brief Where a pool's host slabs are: one NUMA node's share.
struct numa_node_stats {
  int node = -1;          ///< -1: not known (host slabs not yet touched, or the kernel refused)
  std::size_t bytes = 0;  ///< bytes of the slabs whose pages are on this node
  std::size_t slabs = 0;
};

/// @brief Snapshot taken by `pool::stats()` (under the pool's lock: all figures agree).
struct pool_stats {
  std::string name;
  memory_kind kind = memory_kind::host;
  std::string backend;             ///< "cpu" or "cuda"
  bool page_locked = false;        ///< pinned_host: every slab really is page-locked
  std::size_t bytes_reserved = 0;  ///< held from the backend (slabs)
  std::size_t bytes_in_use = 0;    ///< chunk bytes handed out now
  std::size_t bytes_pending = 0;   ///< released, waiting for stream work to complete
  std::size_t peak_bytes_in_use = 0;
  std::size_t bytes_requested = 0;  ///< sum of the requests of the chunks in use
  std::uint64_t acquisitions = 0;
  std::uint64_t hits = 0;   ///< served by reusing a chunk
  std::uint64_t grows = 0;  ///< slabs added
  /// Acquisitions that had to wait: at the cap, or on the host at max_pending_bytes.
  std::uint64_t waits = 0;
  std::uint64_t stream_waits = 0;  ///< device-side waits inserted for cross-stream reuse
  /// Events recorded on a stream at hand-off time, each covering every chunk released on that
  /// stream before it without an event of its own (`pool_options::lazy_release`).
  std::uint64_t fences = 0;
  std::uint64_t backend_allocations = 0;
  std::uint64_t backend_frees = 0;
  std::size_t slabs = 0;
  std::size_t outstanding_buffers = 0;
  std::vector<size_class_stats> classes;  ///< only classes that have chunks
  /// Host and pinned_host pools: reserved bytes by the NUMA node each slab's pages were read back
  /// on when it was made (the node most of its sampled pages are on), ascending by node; empty
  /// for device pools. Per node rather than per slab: it stays small however many slabs a pool
  /// holds, and sums across pools (pool_group::stats).
  std::vector<numa_node_stats> numa_nodes;

  /// @brief One JSON object with every field above.
  std::string to_json() const;
};

}  // namespace pinpool
