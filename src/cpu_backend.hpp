#pragma once
// The CPU backend: streams are worker threads with a FIFO, events are completion counters,
// slabs are mmap'd (pinned_host: mlock'd where RLIMIT_MEMLOCK allows).

#include <pinpool/backend.hpp>

#include <memory>

namespace pinpool::detail {

/// @brief Makes a CPU backend with one "device". Never throws except std::bad_alloc.
std::shared_ptr<backend> make_cpu_backend();

}  // namespace pinpool::detail
