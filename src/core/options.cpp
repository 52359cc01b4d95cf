#include "../numa.hpp"
#include "options.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace pinpool::detail {
namespace {

bool is_power_of_two(std::size_t v) noexcept {
  return v != 0 && (v & (v - 1)) == 0;
}

void validate(const backend* be, const pool_options& o) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string("pinpool: pool '") + o.name + "': " + what);
  };
  if (be == nullptr) fail("no backend");
  if (o.device < 0 || o.device >= be->device_count()) {
    fail("device " + std::to_string(o.device) + " out of range (backend '" + be->name() + "' has " +
         std::to_string(be->device_count()) + ")");
  }
  if (!is_power_of_two(o.alignment) || o.alignment < 16 || o.alignment > 256) {
    fail("alignment must be a power of two in [16, 256], got " + std::to_string(o.alignment));
  }
  if (!is_power_of_two(o.classes_per_doubling) || o.classes_per_doubling > 64) {
    fail("classes_per_doubling must be a power of two in [1, 64]");
  }
  if (o.slab_bytes < o.alignment || o.slab_bytes > (std::size_t{1} << 62)) {
    fail("slab_bytes must be at least the alignment, got " + std::to_string(o.slab_bytes));
  }
  if (o.first_slab_bytes == 0) fail("first_slab_bytes must not be 0");
  if (o.max_bytes != 0 && o.initial_bytes > o.max_bytes) {
    fail("initial_bytes (" + std::to_string(o.initial_bytes) + ") above max_bytes (" +
         std::to_string(o.max_bytes) + ")");
  }
  if (o.acquire_timeout.count() < 0) fail("acquire_timeout must not be negative");
  if (o.numa_node != -1 && o.kind == memory_kind::device) {
    fail("numa_node applies to host memory; a device pool must leave it at -1");
  }
  check_numa_node(o.numa_node, std::string("pinpool: pool '") + o.name + "'");
}

}  // namespace

pool_options checked_options(const backend* be, const pool_options& opt,
                             std::string& name_storage) {
  name_storage = opt.name != nullptr ? opt.name : "pinpool";
  pool_options o = opt;
  o.name = name_storage.c_str();
  validate(be, o);
  o.slab_bytes = round_up(o.slab_bytes, o.alignment);
  o.first_slab_bytes = round_up(std::min(o.first_slab_bytes, o.slab_bytes), o.alignment);
  return o;
}

}  // namespace pinpool::detail
