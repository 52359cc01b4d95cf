#include "pool_core.hpp"
#include "thread_cache.hpp"

namespace pinpool::detail {

__thread thread_cache_table tls_cache_table;

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

void add_cache(cache_totals& t, const cache_entry& e, std::uint32_t classes) {
  t.acquisitions += e.acquisitions.load(std::memory_order_relaxed);
  t.hits += e.hits.load(std::memory_order_relaxed);
  t.requested_delta += e.requested_delta.load(std::memory_order_relaxed);
  for (const auto& slot : e.slot) {
    if (const chunk* c = slot.load(std::memory_order_relaxed)) {
      if (classes != 0) {
        t.per_class.resize(classes);
        ++t.per_class[c->cls];
      }
      t.bytes += c->bytes;
      ++t.chunks;
    }
  }
}

cache_totals sum_caches(const std::vector<cache_entry*>& attached, std::uint32_t classes) {
  cache_totals t;
  for (const cache_entry* e : attached) add_cache(t, *e, classes);
  return t;
}

}  // namespace pinpool::detail
