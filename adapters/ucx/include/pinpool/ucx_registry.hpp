#pragma once
/// @file ucx_registry.hpp
/// @brief Registers every slab of the pools that use it with a UCX context (`ucp_mem_map` when
/// the slab is created, `ucp_mem_unmap` before it is freed), through `pool_options::hooks`, so
/// that any chunk can be the local buffer or the remote target of UCX transfers without a
/// registration per buffer. Target `pinpool::ucx` (built when UCX is found; Debian libucx-dev).

#include <pinpool/registered_slabs.hpp>
#include <pinpool/slab_hooks.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <ucp/api/ucp.h>
#include <vector>

namespace pinpool::ucx {

/// @brief The UCX memory handles of the slabs of the pools whose `hooks` came from `hooks()`.
/// Thread-safe. Does not own the context: the context must outlive the registry, and the
/// registry must outlive the pools (their last slabs are deregistered when a pool's memory is
/// released). Host and pinned_host slabs only (UCX maps host memory here; device slabs would
/// need a CUDA-aware UCX build and are refused by `on_create`).
class registry {
 public:
  explicit registry(ucp_context_h context) noexcept : context_(context) {}
  /// @brief Unmaps the slabs still registered (pools destroyed after the registry: a misuse,
  /// reported on the log sink).
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// @brief Hooks for `pool_options::hooks`: `on_create` maps the slab (throws
  /// std::runtime_error with UCX's status text when ucp_mem_map fails, so the acquisition fails
  /// and the pool is unchanged), `on_destroy` unmaps it.
  slab_hooks hooks();

  /// @brief The memory handle of the registered slab holding [p, p + bytes); null when no
  /// registered slab holds all of it. For `ucp_request_param_t::memh` and `ucp_rkey_pack`.
  ucp_mem_h find(const void* p, std::size_t bytes = 1) const;
  /// @brief The packed remote key of the slab holding `p`, to send to the peer that will
  /// `ucp_ep_rkey_unpack` it and put into or get from any chunk of that slab.
  /// @throws std::invalid_argument when no registered slab holds `p`; std::runtime_error when
  /// ucp_rkey_pack fails.
  std::vector<std::uint8_t> pack_rkey(const void* p) const;
  /// @brief Registered slabs now.
  std::size_t size() const { return slabs_.size(); }

 private:
  void map(const slab_info& s);
  void unmap(const slab_info& s) noexcept;

  ucp_context_h context_;
  registered_slabs<ucp_mem_h> slabs_;
};

}  // namespace pinpool::ucx
