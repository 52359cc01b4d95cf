#include "slab_arena.hpp"

#include <algorithm>
#include <map>

namespace pinpool::detail {

slab_arena::slab_arena(const size_classes& sizes, std::size_t alignment, std::size_t slab_bytes,
                       std::size_t max_bytes, std::size_t first_slab)
    : sizes_(sizes),
      alignment_(alignment),
      slab_bytes_(slab_bytes),
      first_slab_(first_slab == 0 ? slab_bytes : first_slab),
      max_bytes_(max_bytes),
      per_class_(sizes.count(), 0) {}

chunk* slab_arena::carve(std::uint32_t cls) {
  const std::size_t need = sizes_.chunk_bytes(cls);
  const auto it = by_size_.lower_bound(extent{need, 0, 0, nullptr});
  if (it == by_size_.end()) return nullptr;
  return carve_at(*it->slab, it->offset, cls);
}

chunk* slab_arena::carve_from(slab_record& s, std::uint32_t cls) {
  const std::size_t need = sizes_.chunk_bytes(cls);
  for (const auto& [offset, bytes] : s.free) {
    if (bytes >= need) return carve_at(s, offset, cls);
  }
  return nullptr;
}

// The chunk takes the start of the free extent at `offset`; the rest stays free (its
// neighbours are chunks or the slab's end, so nothing merges).
chunk* slab_arena::carve_at(slab_record& s, std::size_t offset, std::uint32_t cls) {
  const auto it = s.free.find(offset);
  const std::size_t bytes = it->second;
  const std::size_t need = sizes_.chunk_bytes(cls);
  erase_free(s, it);
  if (bytes > need) {
    s.free.emplace(offset + need, bytes - need);
    by_size_.insert(extent{bytes - need, s.serial, offset + need, &s});
    free_bytes_ += bytes - need;
  }
  chunk* c = new_record();
  c->ptr = static_cast<std::byte*>(s.mem.ptr) + offset;
  c->bytes = need;
  c->cls = cls;
  c->slab = &s;
  ++s.live_chunks;
  s.chunks.push_back(c);
  ++per_class_[cls];
  return c;
}

void slab_arena::erase_free(slab_record& s, std::map<std::size_t, std::size_t>::iterator it) {
  by_size_.erase(extent{it->second, s.serial, it->first, &s});
  free_bytes_ -= it->second;
  s.free.erase(it);
}

void slab_arena::add_free(slab_record& s, std::size_t offset, std::size_t bytes) {
  auto next = s.free.lower_bound(offset);
  if (next != s.free.end() && offset + bytes == next->first) {
    bytes += next->second;
    const auto after = std::next(next);
    erase_free(s, next);
    next = after;
  }
  if (next != s.free.begin()) {
    const auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      offset = prev->first;
      bytes += prev->second;
      erase_free(s, prev);
    }
  }
  s.free.emplace(offset, bytes);
  by_size_.insert(extent{bytes, s.serial, offset, &s});
  free_bytes_ += bytes;
}

// Slabs grow geometrically: the first is first_slab_ (or slab_bytes_ when smaller), each later
// one twice the one before, up to slab_bytes_; a request larger than that gets its own slab.
std::size_t slab_arena::growth_bytes(std::uint32_t cls) const noexcept {
  const std::size_t need = sizes_.chunk_bytes(cls);
  std::size_t ramp = std::min(std::max(first_slab_, alignment_), slab_bytes_);
  for (std::size_t i = 0; i < slabs_.size() && ramp < slab_bytes_; ++i) ramp *= 2;
  std::size_t want = std::max(need, std::min(ramp, slab_bytes_));
  if (max_bytes_ != 0) {
    const std::size_t room = max_bytes_ - std::min(max_bytes_, reserved_);
    want = std::min(want, room / alignment_ * alignment_);
  }
  return want >= need ? want : 0;
}

slab_record& slab_arena::adopt(const slab& mem, void* nvtx_heap) {
  auto record = std::make_unique<slab_record>();
  record->mem = mem;
  record->nvtx_heap = nvtx_heap;
  record->serial = next_serial_++;
  if (mem.kind == memory_kind::pinned_host) all_locked_ = all_locked_ && mem.page_locked;
  slabs_.push_back(std::move(record));
  add_free(*slabs_.back(), 0, mem.bytes);
  return *slabs_.back();
}

std::vector<numa_node_stats> slab_arena::numa_nodes() const {
  std::map<int, numa_node_stats> by_node;
  for (const auto& s : slabs_) {
    if (s->mem.kind == memory_kind::device) continue;
    numa_node_stats& n = by_node[s->mem.numa_node];
    n.node = s->mem.numa_node;
    n.bytes += s->mem.bytes;
    ++n.slabs;
  }
  std::vector<numa_node_stats> nodes;
  nodes.reserve(by_node.size());
  for (const auto& entry : by_node) nodes.push_back(entry.second);
  return nodes;
}

bool slab_arena::dissolve_idle(const std::function<void(chunk*)>& forget) {
  bool any = false;
  for (auto& s : slabs_) {
    auto kept = std::stable_partition(s->chunks.begin(), s->chunks.end(),
                                      [](const chunk* c) { return c->st != chunk::state::ready; });
    for (auto it = kept; it != s->chunks.end(); ++it) dissolve(*s, *it, forget);
    any = any || kept != s->chunks.end();
    s->chunks.erase(kept, s->chunks.end());
  }
  return any;
}

void slab_arena::dissolve(slab_record& s, chunk* c, const std::function<void(chunk*)>& forget) {
  forget(c);
  --per_class_[c->cls];
  c->st = chunk::state::carved;
  spare_records_.push_back(c);
  add_free(s, static_cast<std::size_t>(c->ptr - static_cast<std::byte*>(s.mem.ptr)), c->bytes);
}

std::vector<std::unique_ptr<slab_record>> slab_arena::remove_idle(
    const std::function<void(chunk*)>& forget) {
  auto idle = std::stable_partition(slabs_.begin(), slabs_.end(),
                                    [](const auto& s) { return s->live_chunks != 0; });
  // Allocates first, so that a throw keeps every slab (pool_core::close relies on it).
  std::vector<std::unique_ptr<slab_record>> removed;
  removed.reserve(static_cast<std::size_t>(slabs_.end() - idle));
  std::size_t records = spare_records_.size();
  for (auto it = idle; it != slabs_.end(); ++it) records += (*it)->chunks.size();
  spare_records_.reserve(records);
  for (auto it = idle; it != slabs_.end(); ++it) {
    drop_chunks(**it, forget);
    while (!(*it)->free.empty()) erase_free(**it, (*it)->free.begin());
    reserved_ -= (*it)->mem.bytes;
    removed.push_back(std::move(*it));
  }
  slabs_.erase(idle, slabs_.end());
  return removed;
}

void slab_arena::drop_chunks(slab_record& s, const std::function<void(chunk*)>& forget) {
  for (chunk* c : s.chunks) {
    forget(c);
    --per_class_[c->cls];
    c->st = chunk::state::carved;
    spare_records_.push_back(c);
  }
  s.chunks.clear();
}

chunk* slab_arena::new_record() {
  if (!spare_records_.empty()) {
    chunk* c = spare_records_.back();
    spare_records_.pop_back();
    return c;
  }
  chunk& c = records_.emplace_back();
  c.streams.reserve(2);
  c.events.reserve(2);
  return &c;
}

}  // namespace pinpool::detail
