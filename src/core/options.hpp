#pragma once
// Checking and normalising pool_options (internal).

#include <pinpool/backend.hpp>
#include <pinpool/pool_options.hpp>

#include <string>

namespace pinpool::detail {

/// @brief The options a pool runs with: `opt` checked against `be`, slab_bytes rounded up to the
/// alignment, and `name` pointing into `name_storage` (the pool owns its name, so a name taken
/// from a temporary string stays valid).
/// @throws std::invalid_argument naming the pool and the bad setting.
pool_options checked_options(const backend* be, const pool_options& opt, std::string& name_storage);

/// @brief `v` rounded up to a multiple of `multiple` (> 0).
inline std::size_t round_up(std::size_t v, std::size_t multiple) noexcept {
  return (v + multiple - 1) / multiple * multiple;
}

}  // namespace pinpool::detail
