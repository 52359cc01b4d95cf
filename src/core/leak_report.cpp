// The leak report (internal): the chunks a pool has handed out and not taken back, read under
// the pool's lock while their holders may be using them on other threads. chunk.hpp states which
// fields a holder writes without the lock and how this reader stays safe: `st` and the records
// are the pool's (under its lock), `requested` and `raw` are relaxed atomics, and `streams` is
// copied under the chunk's streams_lock. Chunks parked in thread caches are idle, not listed.
#include "pool_core.hpp"

#include <algorithm>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace pinpool::detail {

namespace {

// The chunks parked in the attached thread caches (their owners take and park them without the
// lock, so a chunk moving in or out meanwhile may be listed or not), sorted.
std::vector<const chunk*> cached_chunks(const std::vector<cache_entry*>& attached) {
  std::vector<const chunk*> cached;
  for (const cache_entry* e : attached) {
    for (const auto& slot : e->slot) {
      if (const chunk* c = slot.load(std::memory_order_relaxed)) cached.push_back(c);
    }
  }
  std::sort(cached.begin(), cached.end());
  return cached;
}

outstanding_chunk describe(const chunk& c) {
  outstanding_chunk out;
  out.address = c.ptr;
  out.bytes_requested = c.requested;
  out.chunk_bytes = c.bytes;
  out.size_class = c.cls;
  out.holder = c.raw ? chunk_holder::raw_pointer : chunk_holder::buffer;
  const std::lock_guard<stream_list_lock> guard(c.streams_lock);
  out.streams.reserve(c.streams.size());
  for (const stream_ref& s : c.streams) {
    out.streams.push_back({s.id(), s.native_handle(), s.device()});
  }
  return out;
}

}  // namespace

void pool_core::collect_outstanding(std::vector<outstanding_chunk>& out) const {
  const std::vector<const chunk*> cached = cached_chunks(attached_);
  for (const auto& slab : arena_.slabs()) {
    for (const chunk* c : slab->chunks) {
      if (c->st == chunk::state::in_use && !std::binary_search(cached.begin(), cached.end(), c)) {
        out.push_back(describe(*c));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const outstanding_chunk& a, const outstanding_chunk& b) {
    return std::less<const void*>{}(a.address, b.address);
  });
}

pool_leak_report pool_core::leak_report() const {
  pool_leak_report r;
  r.name = opt_.name;
  r.kind = opt_.kind;
  r.backend = backend_->name();
  const std::lock_guard<std::mutex> lock(mutex_);
  collect_outstanding(r.chunks);
  return r;
}

// The pool's destructor, with the lock held: one line per message (log.hpp), each naming the
// pool, and only the first chunks (a pool with thousands of buffers out would flood the log).
std::vector<std::string> pool_core::leak_message(std::size_t outstanding) const noexcept {
  constexpr std::size_t max_chunks = 20;
  std::vector<std::string> lines;
  try {
    const std::string pool = std::string("pinpool: pool '") + opt_.name + "'";
    lines.push_back(pool + " destroyed with " + std::to_string(outstanding) +
                    " buffer(s) outstanding; the slabs holding them are kept until they are "
                    "released");
    std::vector<outstanding_chunk> chunks;
    collect_outstanding(chunks);
    const std::size_t shown = std::min(chunks.size(), max_chunks);
    for (std::size_t i = 0; i < shown; ++i) lines.push_back(pool + ": " + to_string(chunks[i]));
    if (shown < chunks.size()) {
      lines.push_back(pool + ": ... and " + std::to_string(chunks.size() - shown) + " more");
    }
  } catch (const std::exception&) {  // out of memory: what was formatted so far
  }
  return lines;
}

}  // namespace pinpool::detail
