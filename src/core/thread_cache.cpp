#include "pool_core.hpp"
#include "thread_cache.hpp"

#include <algorithm>

namespace pinpool::detail {

__thread thread_cache_table tls_cache_table PINPOOL_TLS_MODEL;

namespace {

// Detaches the thread's entries when the thread exits (constructed on the first attach).
struct cache_reaper {
  bool armed = false;
  ~cache_reaper() {
    for (cache_entry& e : tls_cache_table.entries) {
      if (e.core != nullptr) e.core->detach_cache(e);
    }
  }
};
thread_local cache_reaper tls_reaper;

}  // namespace

cache_entry* attach_cache_entry(pool_core* core) {
  tls_reaper.armed = true;
  cache_entry* free_entry = find_cache_entry(nullptr);
  if (free_entry == nullptr) {
    thread_cache_table& t = tls_cache_table;
    free_entry = &t.entries[t.next_victim];
    t.next_victim = (t.next_victim + 1) % cache_entries_per_thread;
    free_entry->core->detach_cache(*free_entry);
  }
  return core->attach_cache(*free_entry) ? free_entry : nullptr;
}

bool attach_and_park(pool_core* core, chunk* c) noexcept {
  cache_entry* e = nullptr;
  try {
    e = attach_cache_entry(core);
  } catch (...) {  // cannot register (out of memory): use the pool's lists
    return false;
  }
  return e != nullptr && park_in(*e, c);
}

void add_cache(cache_totals& t, const cache_entry& e, std::uint32_t classes) {
  const std::uint64_t hits = e.hits.load(std::memory_order_relaxed);
  t.acquisitions += hits;  // every take is both
  t.hits += hits;
  t.requested_delta += e.requested_delta.load(std::memory_order_relaxed);
  for (int i = 0; i < cache_entry::slots + cache_entry::stream_slots; ++i) {
    if (const chunk* c = e.slot[i].load(std::memory_order_relaxed); is_cached_chunk(c)) {
      if (classes != 0) {
        t.per_class.resize(classes);
        ++t.per_class[c->cls];
      }
      t.bytes += c->bytes;
      if (i >= cache_entry::slots) t.stream_bytes += c->bytes;
      ++t.chunks;
    }
  }
}

cache_totals sum_caches(const std::vector<cache_entry*>& attached, std::uint32_t classes) {
  cache_totals t;
  for (const cache_entry* e : attached) add_cache(t, *e, classes);
  return t;
}

// ---- the pool side: registering entries and taking their chunks back ------------------------

bool pool_core::attach_cache(cache_entry& e) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return false;
  attached_.push_back(&e);
  e.core = this;
  e.hits.store(0, std::memory_order_relaxed);
  e.requested_delta.store(0, std::memory_order_relaxed);
  return true;
}

bool pool_core::take_back_cached(cache_entry& e, chunk* leave) noexcept {
  bool any = false;
  for (auto& slot : e.slot) {
    chunk* c = slot.exchange(leave, std::memory_order_acquire);  // see park_slot
    if (!is_cached_chunk(c)) continue;
    return_parked(c);
    any = true;
  }
  return any;
}

void pool_core::detach_cache(cache_entry& e) noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  const bool returned = take_back_cached(e, nullptr);
  cache_totals folded;
  add_cache(folded, e, 0);  // its chunks are gone from it now: only the figures count
  counters_.fold(folded);
  attached_.erase(std::find(attached_.begin(), attached_.end(), &e));
  e.core = nullptr;
  if (waiters_ > 0) released_cv_.notify_all();
  if (closed_) leave_closed(lock, returned);
}

// A chunk from a cache slot, back on the pool's lists (under the lock): idle from a host slot;
// from a stream slot, a lazy release on its stream (its fence orders any hand-off).
void pool_core::return_parked(chunk* c) noexcept {
  --lists_[c->cls].in_use;
  counters_.returned(c->bytes);  // its request went through the entry's requested_delta
  if (c->streams.empty()) {
    lists_.make_idle(c);
    return;
  }
  const std::uint64_t seq = lists_.add_pending(c, c->release_stream, true);
  fences_.note_release(c->streams.front(), seq, events_);
}

void pool_core::return_own_stream_parked() noexcept {
  cache_entry* e = find_cache_entry(this);
  if (e == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = cache_entry::slots; i < cache_entry::slots + cache_entry::stream_slots; ++i) {
    chunk* c = e->slot[i].exchange(nullptr, std::memory_order_relaxed);
    if (is_cached_chunk(c)) return_parked(c);  // its request stays in the entry's requested_delta
  }
}

void pool_core::detach_own_cache() noexcept {
  if (cache_entry* e = find_cache_entry(this)) detach_cache(*e);
}

}  // namespace pinpool::detail
