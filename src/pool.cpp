#include "pool_core.hpp"

#include <pinpool/pool.hpp>

#include <stdexcept>
#include <string>

namespace pinpool {

pool::pool(std::shared_ptr<backend> be, const pool_options& opt)
    : core_(new detail::pool_core(std::move(be), opt)) {}

pool::~pool() {
  core_->close();
}

std::size_t pool::trim() {
  return core_->trim();
}
pool_stats pool::stats() const {
  return core_->stats();
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
