// pinpool::ucx::registry (ucx_registry.hpp).
#include <pinpool/log.hpp>
#include <pinpool/ucx_registry.hpp>

#include <optional>
#include <stdexcept>
#include <string>

namespace pinpool::ucx {

registry::~registry() {
  const std::vector<ucp_mem_h> left = slabs_.take_all();
  if (!left.empty()) {
    detail::log_message(
        "pinpool: ucx registry destroyed with %zu slab(s) still registered (the "
        "pools must go first); unmapping them",
        left.size());
  }
  for (ucp_mem_h memh : left) ucp_mem_unmap(context_, memh);
}

slab_hooks registry::hooks() {
  return {[this](const slab_info& s) { map(s); }, [this](const slab_info& s) { unmap(s); }};
}

void registry::map(const slab_info& s) {
  if (s.kind == memory_kind::device) {
    throw std::invalid_argument("pinpool: ucx registry: device slabs are not supported");
  }
  ucp_mem_map_params_t params{};
  params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
  params.address = s.ptr;
  params.length = s.bytes;
  ucp_mem_h memh = nullptr;
  const ucs_status_t status = ucp_mem_map(context_, &params, &memh);
  if (status != UCS_OK) {
    throw std::runtime_error(std::string("pinpool: ucx registry: ucp_mem_map of ") +
                             std::to_string(s.bytes) +
                             " bytes failed: " + ucs_status_string(status));
  }
  slabs_.add(s.ptr, s.bytes, memh);
}

void registry::unmap(const slab_info& s) noexcept {
  const std::optional<ucp_mem_h> memh = slabs_.remove(s.ptr);
  if (!memh) return;
  const ucs_status_t status = ucp_mem_unmap(context_, *memh);
  if (status != UCS_OK) {
    detail::log_message("pinpool: ucx registry: ucp_mem_unmap failed: %s",
                        ucs_status_string(status));
  }
}

ucp_mem_h registry::find(const void* p, std::size_t bytes) const {
  return slabs_.find(p, bytes).value_or(nullptr);
}

std::vector<std::uint8_t> registry::pack_rkey(const void* p) const {
  ucp_mem_h memh = find(p);
  if (memh == nullptr) {
    throw std::invalid_argument("pinpool: ucx registry: no registered slab holds the address");
  }
  void* packed = nullptr;
  std::size_t size = 0;
  const ucs_status_t status = ucp_rkey_pack(context_, memh, &packed, &size);
  if (status != UCS_OK) {
    throw std::runtime_error(std::string("pinpool: ucx registry: ucp_rkey_pack failed: ") +
                             ucs_status_string(status));
  }
  const auto* bytes = static_cast<const std::uint8_t*>(packed);
  std::vector<std::uint8_t> key(bytes, bytes + size);
  ucp_rkey_buffer_release(packed);
  return key;
}

}  // namespace pinpool::ucx
