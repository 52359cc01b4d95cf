#pragma once
/// @file memory_kind.hpp
/// @brief What kind of memory a pool hands out, and which backend provides it.

namespace pinpool {

/// @brief The kind of memory of a pool's chunks.
enum class memory_kind {
  pinned_host,  ///< CUDA: page-locked host memory; CPU: mlock'd where permitted.
  device,       ///< CUDA: device memory; CPU: host memory standing in for it.
  host,         ///< Pageable host memory.
};

/// @brief Which backend `make_backend` gives.
enum class backend_kind {
  automatic,  ///< CUDA when a usable device exists, else CPU (one log line says why).
  cpu,        ///< Worker-thread streams, host memory.
  cuda,       ///< The CUDA runtime; throws cuda_error when unusable.
};

/// @brief "pinned_host", "device" or "host".
const char* to_string(memory_kind kind) noexcept;
/// @brief "automatic", "cpu" or "cuda".
const char* to_string(backend_kind kind) noexcept;

}  // namespace pinpool
