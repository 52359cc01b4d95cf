// pool_group: one pool per (device, kind) over one backend (include/pinpool/pool_group.hpp).
#include <pinpool/pool_group.hpp>

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

namespace pinpool {
namespace {

[[noreturn]] void refuse(const std::string& why) {
  throw std::invalid_argument("pinpool: pool_group: " + why);
}

template <class T>
bool has_repeats(std::vector<T> items) {
  std::sort(items.begin(), items.end());
  return std::adjacent_find(items.begin(), items.end()) != items.end();
}

void check_lists(const backend& be, const std::vector<int>& devices,
                 const std::vector<memory_kind>& kinds) {
  if (devices.empty()) refuse("the device list is empty");
  if (kinds.empty()) refuse("the kind list is empty");
  if (has_repeats(devices)) refuse("a device is listed twice");
  if (has_repeats(kinds)) refuse("a memory kind is listed twice");
  for (int d : devices) {
    if (d < 0 || d >= be.device_count()) {
      refuse("device " + std::to_string(d) + " does not exist (the " + be.name() + " backend has " +
             std::to_string(be.device_count()) + ")");
    }
  }
  if (std::find(kinds.begin(), kinds.end(), memory_kind::host) != kinds.end()) {
    refuse("host memory belongs to no device: use one pool for it");
  }
}

// Adds `more` into `sum`, both ascending by node.
void add_numa_nodes(std::vector<numa_node_stats>& sum, const std::vector<numa_node_stats>& more) {
  for (const numa_node_stats& n : more) {
    auto at = std::lower_bound(sum.begin(), sum.end(), n.node,
                               [](const numa_node_stats& a, int node) { return a.node < node; });
    if (at == sum.end() || at->node != n.node) at = sum.insert(at, numa_node_stats{n.node, 0, 0});
    at->bytes += n.bytes;
    at->slabs += n.slabs;
  }
}

}  // namespace

pool_group::pool_group(std::shared_ptr<backend> be, std::vector<int> devices,
                       std::vector<memory_kind> kinds, const pool_options& base)
    : backend_(std::move(be)), devices_(std::move(devices)), kinds_(std::move(kinds)) {
  if (!backend_) refuse("no backend");
  check_lists(*backend_, devices_, kinds_);
  name_ = base.name != nullptr ? base.name : "pinpool";
  for (int d : devices_) {
    for (memory_kind k : kinds_) {
      pool_options o = base;
      const std::string name = name_ + "." + to_string(k) + "." + std::to_string(d);
      o.name = name.c_str();  // the pool keeps its own copy
      o.device = d;
      o.kind = k;
      if (k == memory_kind::device) o.numa_node = -1;  // a host setting: the pinned pools'
      o.on_exhausted = [this, d, k, user = base.on_exhausted](const exhaustion& e) {
        if (e.attempt == 1 && trim_sharing_memory_with(d, k) != 0) return true;
        return user && user(e);
      };
      pools_.push_back(std::make_unique<pool>(backend_, o));
    }
  }
}

std::size_t pool_group::trim_sharing_memory_with(int device, memory_kind kind) {
  if (kind != memory_kind::pinned_host) return 0;  // one device pool per device in a group
  std::size_t freed = 0;
  for (int d : devices_) {
    if (d != device) freed += get(d, memory_kind::pinned_host).trim();
  }
  return freed;
}

pool& pool_group::get(int device, memory_kind kind) {
  const auto d = std::find(devices_.begin(), devices_.end(), device);
  const auto k = std::find(kinds_.begin(), kinds_.end(), kind);
  if (d == devices_.end() || k == kinds_.end()) {
    refuse("'" + name_ + "' has no " + to_string(kind) + " pool for device " +
           std::to_string(device));
  }
  const auto index = static_cast<std::size_t>(d - devices_.begin()) * kinds_.size() +
                     static_cast<std::size_t>(k - kinds_.begin());
  return *pools_[index];
}

std::vector<std::pair<int, int>> pool_group::enable_peer_access() {
  std::vector<std::pair<int, int>> refused;
  for (int device : devices_) {
    for (int peer : devices_) {
      if (device != peer && !backend_->enable_peer_access(device, peer)) {
        refused.emplace_back(device, peer);
      }
    }
  }
  return refused;
}

std::vector<pool_stats> pool_group::stats_by_pool() {
  std::vector<pool_stats> all;
  all.reserve(pools_.size());
  for (const auto& p : pools_) all.push_back(p->stats());
  return all;
}

pool_stats pool_group::stats() {
  pool_stats sum;
  sum.name = name_ + " group";
  sum.kind = kinds_.front();
  sum.backend = backend_->name();
  sum.page_locked = true;
  bool any_pinned = false;
  for (const pool_stats& s : stats_by_pool()) {
    if (s.kind == memory_kind::pinned_host) {
      any_pinned = true;
      sum.page_locked = sum.page_locked && s.page_locked;
    }
    sum.bytes_reserved += s.bytes_reserved;
    sum.bytes_in_use += s.bytes_in_use;
    sum.bytes_pending += s.bytes_pending;
    sum.peak_bytes_in_use += s.peak_bytes_in_use;
    sum.bytes_requested += s.bytes_requested;
    sum.acquisitions += s.acquisitions;
    sum.hits += s.hits;
    sum.grows += s.grows;
    sum.waits += s.waits;
    sum.stream_waits += s.stream_waits;
    sum.fences += s.fences;
    sum.backend_allocations += s.backend_allocations;
    sum.backend_frees += s.backend_frees;
    sum.slabs += s.slabs;
    sum.outstanding_buffers += s.outstanding_buffers;
    add_numa_nodes(sum.numa_nodes, s.numa_nodes);
  }
  sum.page_locked = any_pinned && sum.page_locked;
  return sum;
}

std::size_t pool_group::trim() {
  std::size_t bytes = 0;
  for (const auto& p : pools_) bytes += p->trim();
  return bytes;
}

}  // namespace pinpool
