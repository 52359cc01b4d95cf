#pragma once
/// @file slab_hooks.hpp
/// @brief Registration hooks: code that must see every slab of a pool once (UCX `ucp_mem_map`,
/// NCCL `ncclCommRegister`, GPUDirect Storage `cuFileBufRegister`, ...), set in
/// `pool_options::hooks`.

#include <pinpool/memory_kind.hpp>

#include <cstddef>
#include <functional>

namespace pinpool {

/// @brief A slab as a hook sees it: the backend memory a pool carves chunks from.
struct slab_info {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  memory_kind kind = memory_kind::host;
  int device = 0;
};

/// @brief Called once per slab, without the pool's lock, on the thread that made the pool grow
/// (or trim, or destroyed it, or let go of its memory); they may block, and must not call the
/// pool.
struct slab_hooks {
  /// After the backend created the slab, before any chunk of it is handed out. If it throws, the
  /// slab is given back to the backend (`on_destroy` is not called for it) and the acquisition
  /// that made the pool grow (or the constructor, for `initial_bytes`) fails with the hook's
  /// exception; the pool is otherwise unchanged.
  std::function<void(const slab_info&)> on_create;
  /// Before the slab goes back to the backend (`trim`; the pool's destruction, for the slabs with
  /// no chunk in use or pending; or the last of those being released after the pool is gone),
  /// once its chunks' stream work has completed. Must not throw: an exception is reported on the
  /// log sink and the slab is freed anyway. Not called for slabs a pool leaks on purpose (after a
  /// runtime failure it could not order).
  std::function<void(const slab_info&)> on_destroy;
};

}  // namespace pinpool
