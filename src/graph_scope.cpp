// graph_scope: a pool's memory for one CUDA graph (graph_scope.hpp). The work is the pool core's
// (core/pool_capture.cpp); the scope owns its state until it ends.
#include "core/pool_core.hpp"

#include <pinpool/graph_scope.hpp>

#include <memory>

namespace pinpool {

graph_scope::graph_scope(pool& p, stream_ref s) : core_(p.core_) {
  auto state = std::make_unique<detail::graph_scope_state>(s);
  core_->open_scope(*state);
  state_ = state.release();
}

graph_scope::~graph_scope() {
  core_->close_scope(state_);
}

void graph_scope::release_after(stream_ref s) {
  core_->add_scope_release_stream(*state_, s);
}

std::size_t graph_scope::bytes_held() const {
  return core_->scope_bytes(*state_);
}

std::uint64_t graph_scope::capture_id() const noexcept {
  return state_->capture;
}

}  // namespace pinpool
