#include "event_pool.hpp"

namespace pinpool::detail {

std::size_t event_pool::idle_count() const noexcept {
  std::size_t n = 0;
  for (const auto& idle : idle_) n += idle.size();
  return n;
}

void event_pool::destroy_all(backend& be) noexcept {
  for (std::size_t d = 0; d < idle_.size(); ++d) {
    for (void* e : idle_[d]) be.destroy_event(e, static_cast<int>(d));
    idle_[d].clear();
  }
}

}  // namespace pinpool::detail
