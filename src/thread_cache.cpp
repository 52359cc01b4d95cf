#include "thread_cache.hpp"

#include "pool_core.hpp"

namespace pinpool::detail {
namespace {

constexpr int entries_per_thread = 4;

// Constant-initialised and trivially destructible: access is a plain TLS load.
struct thread_cache {
  cache_entry entries[entries_per_thread];
  int next_victim;
};
thread_local thread_cache tls_cache;

// Detaches the thread's entries when the thread exits (constructed on the first attach).
struct cache_reaper {
  bool armed = false;
  ~cache_reaper() {
    for (cache_entry& e : tls_cache.entries) {
      if (e.core != nullptr) e.core->detach_cache(e);
    }
  }
};
thread_local cache_reaper tls_reaper;

}  // namespace

cache_entry* find_cache_entry(const pool_core* core) noexcept {
  for (cache_entry& e : tls_cache.entries) {
    if (e.core == core) return &e;
  }
  return nullptr;
}

cache_entry* attach_cache_entry(pool_core* core) {
  tls_reaper.armed = true;
  cache_entry* free_entry = find_cache_entry(nullptr);
  if (free_entry == nullptr) {
    free_entry = &tls_cache.entries[tls_cache.next_victim];
    tls_cache.next_victim = (tls_cache.next_victim + 1) % entries_per_thread;
    free_entry->core->detach_cache(*free_entry);
  }
  return core->attach_cache(*free_entry) ? free_entry : nullptr;
}

}  // namespace pinpool::detail
