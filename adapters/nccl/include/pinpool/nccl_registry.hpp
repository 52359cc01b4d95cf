#pragma once
/// @file nccl_registry.hpp
/// @brief Registers every device slab of the pools that use it with an NCCL communicator
/// (`ncclCommRegister` when the slab is created, `ncclCommDeregister` before it is freed),
/// through `pool_options::hooks`, so collectives on any chunk use NCCL's registered
/// (zero-copy) paths without a registration per buffer. Target `pinpool::nccl` (CUDA builds
/// with NCCL found: the CUDA toolkit's nccl.h and libnccl).

#include <pinpool/registered_slabs.hpp>
#include <pinpool/slab_hooks.hpp>

#include <cstddef>
#include <nccl.h>

namespace pinpool::nccl {

/// @brief The NCCL registration handles of the device slabs of the pools whose `hooks` came
/// from `hooks()`. Thread-safe. Does not own the communicator: it must outlive the registry,
/// and the registry must outlive the pools. Host and pinned slabs are refused by `on_create`
/// (NCCL registers device buffers).
class registry {
 public:
  explicit registry(ncclComm_t comm) noexcept : comm_(comm) {}
  /// @brief Deregisters the slabs still registered (pools destroyed after the registry: a
  /// misuse, reported on the log sink).
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// @brief Hooks for `pool_options::hooks`. `on_create` throws std::runtime_error with NCCL's
  /// error text when ncclCommRegister fails (the acquisition fails, the pool is unchanged).
  slab_hooks hooks();
  /// @brief The registration handle of the slab holding [p, p + bytes); null when none.
  void* find(const void* p, std::size_t bytes = 1) const;
  std::size_t size() const { return slabs_.size(); }

 private:
  void add(const slab_info& s);
  void remove(const slab_info& s) noexcept;

  ncclComm_t comm_;
  registered_slabs<void*> slabs_;
};

}  // namespace pinpool::nccl
