#pragma once
// Idle release events of one pool, per device (internal), so that the hot loop creates none.
// An event is taken when a chunk is released on a stream and given back once nobody needs its
// record (the chunk was reused or its release settled). Re-recording a given-back event is safe:
// a record replaces the previous one, and waits already enqueued keep the record they saw (CUDA
// semantics, which the CPU backend and the emulated runtime share).
//
// Not thread-safe: the pool calls it under its lock. Creating an event is the caller's job
// (without the lock) when `take` finds none.

#include "chunk.hpp"

#include <pinpool/backend.hpp>

#include <cstddef>
#include <vector>

namespace pinpool::detail {

class event_pool {
 public:
  explicit event_pool(int devices) : idle_(static_cast<std::size_t>(devices)) {}

  /// @brief An idle event of `device`; null when there is none.
  void* take(int device) noexcept {
    auto& idle = idle_[static_cast<std::size_t>(device)];
    if (idle.empty()) return nullptr;
    void* e = idle.back();
    idle.pop_back();
    return e;
  }
  /// @brief Makes `e` idle again (a null event is ignored).
  void give_back(const event_slot& e) {
    if (e.event != nullptr) idle_[static_cast<std::size_t>(e.device)].push_back(e.event);
  }
  /// @brief Gives back every event of `c` and clears its list.
  void give_back_all(chunk& c) {
    for (const event_slot& e : c.events) give_back(e);
    c.events.clear();
  }
  std::size_t idle_count() const noexcept;
  /// @brief Destroys every idle event (teardown).
  void destroy_all(backend& be) noexcept;

 private:
  std::vector<std::vector<void*>> idle_;
};

}  // namespace pinpool::detail
