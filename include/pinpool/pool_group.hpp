#pragma once
/// @file pool_group.hpp
/// @brief `pool_group`: one pool per device and memory kind over one backend, for applications
/// that use several GPUs in one process.

#include <pinpool/backend.hpp>
#include <pinpool/memory_kind.hpp>
#include <pinpool/pool.hpp>
#include <pinpool/pool_options.hpp>
#include <pinpool/pool_stats.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace pinpool {

/// @brief One pool for each (device, kind) of a device list and a kind list, made from one set
/// of options. Pools keep their own rules: a device pool refuses a stream of another device
/// (std::invalid_argument) until peer access from that device is enabled
/// (`enable_peer_access`); pinned pools take any device's stream.
///
/// Out of memory: a pinned pool of the group that cannot grow first trims the group's other
/// pinned pools (host memory is one resource for all devices), then calls the `on_exhausted` of
/// the options it was made from (pool_options.hpp).
///
/// Thread-safe as its pools are: `get`, `stats` and `trim` may be called concurrently. The group
/// owns its pools; buffers may outlive it (as they may outlive a pool). Not copyable or movable
/// (its pools refer to it).
class pool_group {
 public:
  /// @brief Makes the pools. Each gets `base` with its device and kind set and the name
  /// "<base.name>.<kind>.<device>" (for example "pinpool.device.1"). `base.numa_node` applies
  /// to the pinned pools (device pools get -1).
  /// @throws std::invalid_argument for an empty or repeated device or kind, a device the
  /// backend does not have, or `memory_kind::host` (host memory belongs to no device: use one
  /// `pool`); anything `pool`'s constructor throws.
  pool_group(std::shared_ptr<backend> be, std::vector<int> devices,
             std::vector<memory_kind> kinds = {memory_kind::device, memory_kind::pinned_host},
             const pool_options& base = {});
  pool_group(const pool_group&) = delete;
  pool_group& operator=(const pool_group&) = delete;

  /// @brief The pool of `device` and `kind`. @throws std::invalid_argument, naming both, when the
  /// group has no such pool.
  pool& get(int device, memory_kind kind);

  /// @brief Enables peer access between every ordered pair of the group's devices the hardware
  /// allows (backend::enable_peer_access), so each device pool accepts the other devices'
  /// streams. @return the pairs (device, peer) that could not be enabled (empty: all).
  /// @note Slow path (runtime calls per pair); call once, before the work starts.
  std::vector<std::pair<int, int>> enable_peer_access();

  /// @brief Every pool's stats, in device order, then kind order.
  std::vector<pool_stats> stats_by_pool();
  /// @brief The figures of all pools added up, named "<base.name> group". `peak_bytes_in_use`
  /// is the sum of the pools' peaks (an upper bound of the group's: they may peak at different
  /// times); `classes` is empty; `page_locked` is true when every pinned pool's slabs are.
  pool_stats stats();
  /// @brief Trims every pool. @return the bytes returned to the backend.
  std::size_t trim();

  const std::vector<int>& devices() const noexcept { return devices_; }
  const std::vector<memory_kind>& kinds() const noexcept { return kinds_; }
  backend& get_backend() const noexcept { return *backend_; }

 private:
  /// Trims the group's pools that draw on the same memory as (device, kind), except that pool.
  std::size_t trim_sharing_memory_with(int device, memory_kind kind);

  std::shared_ptr<backend> backend_;
  std::vector<int> devices_;
  std::vector<memory_kind> kinds_;
  std::string name_;
  std::vector<std::unique_ptr<pool>> pools_;  // devices_.size() x kinds_.size(), device-major
};

}  // namespace pinpool
