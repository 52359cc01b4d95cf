#include "stream_fences.hpp"

#include <algorithm>

namespace pinpool::detail {

// A stream's first lazy release since its record was pruned (or ever): a new record, holding an
// idle event for its fence when the pool has one.
stream_fence& stream_fences::add(const stream_ref& s, event_pool& events) {
  if (streams_.size() >= prune_above_) prune(events);
  stream_fence& f = streams_.emplace(s.id(), stream_fence{s}).first->second;
  f.fence.event = events.take(s.device());
  return f;
}

void stream_fences::restored(std::uint64_t stream_id, std::uint64_t seq) noexcept {
  if (stream_fence* f = find(stream_id)) f->last = std::max(f->last, seq);
}

// Records with nothing pending go (a stream that is used again gets a new one); the threshold
// doubles while many streams stay busy, so pruning is amortised.
void stream_fences::prune(event_pool& events) {
  last_ = nullptr;
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->second.pending == 0) {
      events.give_back(it->second.fence);
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
  prune_above_ = streams_.size() < 32 ? 64 : 2 * streams_.size();
}

}  // namespace pinpool::detail
