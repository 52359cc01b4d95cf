#include "class_lists.hpp"

#include <algorithm>
#include <utility>

namespace pinpool::detail {

void class_lists::count_acquisition(std::uint32_t cls) noexcept {
  ++classes_[cls].acquisitions;
  if (!classes_[cls].used) mark_used(cls);
}

void class_lists::mark_used(std::uint32_t cls) noexcept {
  used_.insert(std::upper_bound(used_.begin(), used_.end(), cls), cls);
  classes_[cls].used = true;
}

chunk* class_lists::take_ready(std::uint32_t cls) noexcept {
  chunk* c = classes_[cls].ready.pop_front();
  if (c != nullptr) {
    ++c->slab->live_chunks;
    bytes_ready_ -= c->bytes;
  }
  return c;
}

chunk* class_lists::take_same_stream(std::uint32_t cls, std::uint64_t stream_id) {
  class_state& k = classes_[cls];
  for (chunk* c = k.pending.front(); c != nullptr; c = c->next) {
    if (c->release_stream == stream_id) return unpend(k, c);
  }
  return nullptr;
}

chunk* class_lists::take_oldest_pending(std::uint32_t cls, std::uint64_t& release_seq) noexcept {
  chunk* c = classes_[cls].pending.pop_front();
  if (c != nullptr) {
    bytes_pending_ -= c->bytes;
    release_seq = std::exchange(c->release_seq, 0);
  }
  return c;
}

// A new number (a query made meanwhile must not mistake it for the chunk it asked about); a
// lazy chunk's stream learns it, so fencing the stream covers it.
void class_lists::restore_pending(chunk* c) noexcept {
  classes_[c->cls].pending.push_front(c);
  bytes_pending_ += c->bytes;
  c->release_seq = ++releases_;
  if (c->lazy) fences_.restored(c->release_stream, c->release_seq);
}

void class_lists::candidates(std::uint32_t cls, std::vector<chunk*>& out, std::size_t max,
                             std::size_t max_scan) const {
  out.clear();
  not_done_streams seen;  // streams that already have their candidate
  std::size_t scanned = 0;
  for (chunk* c = classes_[cls].pending.front(); c != nullptr && out.size() < max; c = c->next) {
    if (++scanned > max_scan) break;
    if (c->release_stream != 0 && seen.contains(c->release_stream)) continue;
    out.push_back(c);
    seen.add(c->release_stream);
  }
}

std::uint64_t class_lists::add_pending(chunk* c, std::uint64_t release_stream, bool lazy) noexcept {
  c->st = chunk::state::pending;
  c->release_stream = release_stream;
  c->lazy = lazy;
  c->release_seq = ++releases_;
  if (!classes_[c->cls].used) mark_used(c->cls);  // (a pool acquired it first: never here)
  classes_[c->cls].pending.push_back(c);
  bytes_pending_ += c->bytes;
  return c->release_seq;
}

void class_lists::make_idle(chunk* c) noexcept {
  c->st = chunk::state::ready;
  --c->slab->live_chunks;
  bytes_ready_ += c->bytes;
  classes_[c->cls].ready.push_front(c);
}

chunk* class_lists::unpend(class_state& k, chunk* c) {
  k.pending.erase(c);
  bytes_pending_ -= c->bytes;
  c->release_seq = 0;
  events_.give_back_all(*c);
  if (c->lazy) fences_.left_pending(c->release_stream);
  return c;
}

}  // namespace pinpool::detail
