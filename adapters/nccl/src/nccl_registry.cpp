// pinpool::nccl::registry (nccl_registry.hpp).
#include <pinpool/log.hpp>
#include <pinpool/nccl_registry.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pinpool::nccl {

registry::~registry() {
  const std::vector<void*> left = slabs_.take_all();
  if (!left.empty()) {
    detail::log_message(
        "pinpool: nccl registry destroyed with %zu slab(s) still registered (the "
        "pools must go first); deregistering them",
        left.size());
  }
  for (void* handle : left) ncclCommDeregister(comm_, handle);
}

slab_hooks registry::hooks() {
  return {[this](const slab_info& s) { add(s); }, [this](const slab_info& s) { remove(s); }};
}

void registry::add(const slab_info& s) {
  if (s.kind != memory_kind::device) {
    throw std::invalid_argument("pinpool: nccl registry: only device slabs can be registered");
  }
  void* handle = nullptr;
  const ncclResult_t result = ncclCommRegister(comm_, s.ptr, s.bytes, &handle);
  if (result != ncclSuccess) {
    throw std::runtime_error(std::string("pinpool: nccl registry: ncclCommRegister of ") +
                             std::to_string(s.bytes) +
                             " bytes failed: " + ncclGetErrorString(result));
  }
  slabs_.add(s.ptr, s.bytes, handle);
}

void registry::remove(const slab_info& s) noexcept {
  const std::optional<void*> handle = slabs_.remove(s.ptr);
  if (!handle) return;
  const ncclResult_t result = ncclCommDeregister(comm_, *handle);
  if (result != ncclSuccess) {
    detail::log_message("pinpool: nccl registry: ncclCommDeregister failed: %s",
                        ncclGetErrorString(result));
  }
}

void* registry::find(const void* p, std::size_t bytes) const {
  return slabs_.find(p, bytes).value_or(nullptr);
}

}  // namespace pinpool::nccl
