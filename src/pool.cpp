#include "core/pool_core_inl.hpp"

#include <pinpool/pool.hpp>

#include <optional>
#include <utility>

namespace pinpool {

pool::pool(std::shared_ptr<backend> be, const pool_options& opt)
    : core_(new detail::pool_core(std::move(be), opt)) {}

pool::~pool() {
  core_->close();
}

// The hot path: detail::pool_core::acquire inlines here (core/pool_core_inl.hpp).
buffer pool::acquire(std::size_t bytes) {
  return core_->acquire(bytes, nullptr, true);
}

namespace detail {
// Every host acquisition but the inline thread-cache hit (pool_core::acquire).
buffer pool_core::acquire_host_slow(std::size_t bytes, bool may_wait) {
  const std::uint32_t cls = class_of(bytes);
  if (caching_ && !refusing_.load(std::memory_order_relaxed)) {
    if (chunk* c = take_cached(this, cls, bytes)) return hand_over(c, bytes, nullptr);
  }
  return acquire_shared(cls, bytes, nullptr, may_wait);
}
}  // namespace detail

buffer pool::acquire(std::size_t bytes, stream_ref s) {
  return core_->acquire(bytes, &s, true);
}

namespace {
std::optional<buffer> unless_empty(buffer b) {
  if (b.empty()) return std::nullopt;
  return std::optional<buffer>{std::move(b)};
}
}  // namespace

std::optional<buffer> pool::try_acquire(std::size_t bytes) {
  return unless_empty(core_->acquire(bytes, nullptr, false));
}

std::optional<buffer> pool::try_acquire(std::size_t bytes, stream_ref s) {
  return unless_empty(core_->acquire(bytes, &s, false));
}

std::size_t pool::trim() {
  return core_->trim();
}
pool_stats pool::stats() const {
  return core_->stats();
}
pool_leak_report pool::leak_report() const {
  return core_->leak_report();
}
void pool::reset_peak() noexcept {
  core_->reset_peak();
}
const pool_options& pool::options() const noexcept {
  return core_->options();
}
backend& pool::get_backend() const noexcept {
  return core_->get_backend();
}
std::size_t pool::chunk_size_for(std::size_t bytes) const noexcept {
  return core_->chunk_size_for(bytes);
}

}  // namespace pinpool
