#include "pool_core.hpp"

#include <pinpool/detail/nvtx.hpp>
#include <pinpool/error.hpp>
#include <pinpool/pool.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

namespace pinpool::detail {
namespace {

// ---- the calling thread's cache entries (one per pool it released to, at most four) ---------

constexpr int cache_entries_per_thread = 4;

// Constant-initialised, trivially destructible and internal to this file: access is a plain
// TLS load (no initialisation check on the hot path).
struct thread_cache {
  cache_entry entries[cache_entries_per_thread];
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

cache_entry* find_cache_entry(const pool_core* core) noexcept {
  for (cache_entry& e : tls_cache.entries) {
    if (e.core == core) return &e;
  }
  return nullptr;
}

// The calling thread's entry for `core`, attaching one (evicting another pool's entry when all
// are taken). Null when the core refuses (closing). Slow path.
cache_entry* attach_cache_entry(pool_core* core) {
  tls_reaper.armed = true;
  cache_entry* free_entry = find_cache_entry(nullptr);
  if (free_entry == nullptr) {
    free_entry = &tls_cache.entries[tls_cache.next_victim];
    tls_cache.next_victim = (tls_cache.next_victim + 1) % cache_entries_per_thread;
    free_entry->core->detach_cache(*free_entry);
  }
  return core->attach_cache(*free_entry) ? free_entry : nullptr;
}

bool is_power_of_two(std::size_t v) noexcept {
  return v != 0 && (v & (v - 1)) == 0;
}

std::size_t round_up(std::size_t v, std::size_t multiple) noexcept {
  return (v + multiple - 1) / multiple * multiple;
}

void validate(const backend* be, const pool_options& o) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string("pinpool: pool '") + (o.name ? o.name : "") +
                                "': " + what);
  };
  if (be == nullptr) fail("no backend");
  if (o.device < 0 || o.device >= be->device_count()) {
    fail("device " + std::to_string(o.device) + " out of range (backend '" + be->name() + "' has " +
         std::to_string(be->device_count()) + ")");
  }
  if (!is_power_of_two(o.alignment) || o.alignment < 16 || o.alignment > 256) {
    fail("alignment must be a power of two in [16, 256], got " + std::to_string(o.alignment));
  }
  if (!is_power_of_two(o.classes_per_doubling) || o.classes_per_doubling > 64) {
    fail("classes_per_doubling must be a power of two in [1, 64]");
  }
  if (o.slab_bytes < o.alignment || o.slab_bytes > (std::size_t{1} << 62)) {
    fail("slab_bytes must be at least the alignment, got " + std::to_string(o.slab_bytes));
  }
  if (o.max_bytes != 0 && o.initial_bytes > o.max_bytes) {
    fail("initial_bytes (" + std::to_string(o.initial_bytes) + ") above max_bytes (" +
         std::to_string(o.max_bytes) + ")");
  }
  if (o.acquire_timeout.count() < 0) fail("acquire_timeout must not be negative");
}

}  // namespace

pool_core::pool_core(std::shared_ptr<backend> be, const pool_options& opt)
    : backend_(std::move(be)),
      opt_(opt),
      sizes_((validate(backend_.get(), opt), opt.alignment), opt.classes_per_doubling),
      caching_(opt.max_bytes == 0 && opt.thread_cache) {
  if (opt_.name == nullptr) opt_.name = "pinpool";
  opt_.slab_bytes = round_up(opt_.slab_bytes, opt_.alignment);
  classes_.resize(sizes_.count());
  idle_events_.resize(static_cast<std::size_t>(backend_->device_count()));
  if (opt_.initial_bytes > 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    add_slab(lock, round_up(opt_.initial_bytes, opt_.alignment));
  }
}

pool_core::~pool_core() {
  destroy_memory();
}

inline std::uint32_t pool_core::class_of(std::size_t bytes) const {
  if (bytes == 0) reject(bytes, "cannot acquire 0 bytes");
  if (bytes > sizes_.max_request()) reject(bytes, "is larger than any size class");
  const std::uint32_t cls = sizes_.index_of(bytes);
  if (opt_.max_bytes != 0 && sizes_.chunk_bytes(cls) > opt_.max_bytes) {
    reject(bytes, ("can never fit under max_bytes = " + std::to_string(opt_.max_bytes)).c_str());
  }
  return cls;
}

// Cold path of class_of: the message is built only when a request is refused.
void pool_core::reject(std::size_t bytes, const char* why) const {
  throw std::invalid_argument(std::string("pinpool: pool '") + opt_.name + "': a request of " +
                              std::to_string(bytes) + " bytes " + why);
}

std::size_t pool_core::chunk_size_for(std::size_t bytes) const noexcept {
  if (bytes == 0 || bytes > sizes_.max_request()) return 0;
  return sizes_.chunk_bytes(sizes_.index_of(bytes));
}

void pool_core::check_stream(const stream_ref& s) const {
  if (&s.get_backend() != backend_.get()) {
    throw std::invalid_argument(std::string("pinpool: pool '") + opt_.name +
                                "': the stream belongs to another backend");
  }
}

// ---- acquisition ------------------------------------------------------------------------------

inline buffer pool_core::acquire(std::size_t bytes, const stream_ref* s, bool may_wait) {
  const std::uint32_t cls = class_of(bytes);
  if (s != nullptr) check_stream(*s);
  if (caching_ && !refusing_.load(std::memory_order_relaxed)) {
    if (chunk* c = take_from_cache(cls, bytes)) return hand_over(c, bytes, s);
  }
  return acquire_shared(cls, bytes, s, may_wait);
}

// The pool's own lists (under the lock), growth, and waiting at the cap.
buffer pool_core::acquire_shared(std::uint32_t cls, std::size_t bytes, const stream_ref* s,
                                 bool may_wait) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!broken_.empty()) {
    throw error(std::string("pinpool: pool '") + opt_.name +
                "' refuses work after a runtime failure: " + broken_);
  }
  ++acquisitions_;
  ++classes_[cls].acquisitions;
  std::chrono::steady_clock::time_point deadline{};
  std::optional<nvtx_range> waiting;  // "pinpool::wait" from the first wait to the return
  for (bool waited = false;;) {
    bool needs_device_wait = false;
    if (chunk* c = take_reusable(cls, s, needs_device_wait)) {
      ++hits_;
      ++classes_[cls].hits;
      if (needs_device_wait) wait_device_side(lock, c, *s);
      return hand_out(c, bytes, s);
    }
    if (chunk* c = carve(cls)) return hand_out(c, bytes, s);
    if (const std::size_t slab_bytes = growth_bytes(cls)) {
      return hand_out(carve_from(add_slab(lock, slab_bytes), cls), bytes, s);
    }
    if (reclaim_idle_slabs()) continue;
    if (!may_wait) return buffer{};
    const auto now = std::chrono::steady_clock::now();
    if (!waited) {
      waited = true;
      waiting.emplace("pinpool::wait");
      ++waits_;
      deadline = now + opt_.acquire_timeout;
    }
    if (now >= deadline) throw_exhausted(bytes);
    // Releases notify; completions of stream work do not, so poll at most every millisecond.
    ++waiters_;
    released_cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds{1}));
    --waiters_;
  }
}

void pool_core::throw_exhausted(std::size_t bytes) const {
  throw pool_exhausted(
      std::string("pinpool: pool '") + opt_.name + "' exhausted: no chunk for " +
      std::to_string(bytes) + " bytes within " + std::to_string(opt_.acquire_timeout.count()) +
      " ms (max_bytes " + std::to_string(opt_.max_bytes) + ", in use " +
      std::to_string(bytes_in_use_) + ", pending " + std::to_string(bytes_pending_) + ")");
}

// Order of preference: an idle chunk; one released on `s` itself (stream order makes it safe);
// one whose release completed; for device memory and a stream, the oldest pending one behind a
// device-side wait.
chunk* pool_core::take_reusable(std::uint32_t cls, const stream_ref* s, bool& needs_device_wait) {
  class_state& k = classes_[cls];
  if (!k.ready.empty()) {
    chunk* c = k.ready.pop_front();
    ++c->slab->live_chunks;
    return c;
  }
  if (k.pending.empty()) return nullptr;
  if (s != nullptr && s->has_stable_identity()) {
    if (chunk* c = take_same_stream(k, *s)) return c;
  }
  if (chunk* c = take_completed(k)) return c;
  if (s != nullptr && opt_.kind == memory_kind::device) {
    needs_device_wait = true;
    chunk* c = k.pending.pop_front();
    bytes_pending_ -= c->bytes;
    return c;
  }
  return nullptr;
}

// Takes a chunk off its class's pending list, its release events back to the idle ones.
chunk* pool_core::unpend(class_state& k, chunk* c) {
  k.pending.erase(c);
  bytes_pending_ -= c->bytes;
  recycle_events(c);
  return c;
}

// A chunk nobody uses and no stream work touches: first in line for its class.
void pool_core::make_idle(chunk* c) noexcept {
  c->st = chunk::state::ready;
  --c->slab->live_chunks;
  classes_[c->cls].ready.push_front(c);
}

// The handed-out figures of a chunk coming back (its request is accounted by the caller).
void pool_core::count_returned(const chunk* c) noexcept {
  --classes_[c->cls].in_use;
  --outstanding_;
  bytes_in_use_ -= c->bytes;
}

chunk* pool_core::take_same_stream(class_state& k, const stream_ref& s) {
  for (chunk* c = k.pending.front(); c != nullptr; c = c->next) {
    if (c->release_stream == s.native_handle()) return unpend(k, c);
  }
  return nullptr;
}

chunk* pool_core::take_completed(class_state& k) {
  for (chunk* c = k.pending.front(); c != nullptr; c = c->next) {
    if (pending_done(c)) return unpend(k, c);
  }
  return nullptr;
}

bool pool_core::pending_done(const chunk* c) {
  for (const event_slot& e : c->events) {
    if (!backend_->event_done(e.event, e.device)) return false;
  }
  return true;
}

// Makes later work on `s` wait for the chunk's release events; the backend is called without
// the lock. On failure the chunk goes back to its pending list and the error propagates.
void pool_core::wait_device_side(std::unique_lock<std::mutex>& lock, chunk* c,
                                 const stream_ref& s) {
  lock.unlock();
  try {
    for (const event_slot& e : c->events) backend_->stream_wait_event(s, e.event, e.device);
  } catch (...) {
    lock.lock();
    classes_[c->cls].pending.push_front(c);
    bytes_pending_ += c->bytes;
    throw;
  }
  lock.lock();
  ++stream_waits_;
  recycle_events(c);
}

// From the pool's lists (under the lock): counted as handed out, then given to the caller.
buffer pool_core::hand_out(chunk* c, std::size_t bytes, const stream_ref* s) {
  ++classes_[c->cls].in_use;
  ++outstanding_;
  bytes_in_use_ += c->bytes;
  bytes_requested_ += bytes;
  peak_in_use_ = std::max(peak_in_use_, bytes_in_use_);
  return hand_over(c, bytes, s);
}

// ---- growth -----------------------------------------------------------------------------------

chunk* pool_core::carve(std::uint32_t cls) {
  const std::size_t need = sizes_.chunk_bytes(cls);
  for (auto& s : slabs_) {
    if (s->mem.bytes - s->carved >= need) return carve_from(*s, cls);
  }
  return nullptr;
}

chunk* pool_core::carve_from(slab_record& s, std::uint32_t cls) {
  chunk* c = new_chunk_record();
  c->ptr = static_cast<std::byte*>(s.mem.ptr) + s.carved;
  c->bytes = sizes_.chunk_bytes(cls);
  c->cls = cls;
  c->slab = &s;
  s.carved += c->bytes;
  ++s.live_chunks;
  s.chunks.push_back(c);
  ++classes_[cls].chunks;
  return c;
}

// A new slab: slab_bytes (or the chunk itself when larger), shrunk to fit under the cap.
// 0 when the cap leaves no room for the chunk.
std::size_t pool_core::growth_bytes(std::uint32_t cls) const noexcept {
  const std::size_t need = sizes_.chunk_bytes(cls);
  std::size_t want = std::max(need, opt_.slab_bytes);
  if (opt_.max_bytes != 0) {
    const std::size_t room = opt_.max_bytes - std::min(opt_.max_bytes, bytes_reserved_);
    want = std::min(want, room / opt_.alignment * opt_.alignment);
  }
  return want >= need ? want : 0;
}

// Allocates a slab of `bytes` without holding the lock (the bytes are reserved against the cap
// first). Called and returns with the lock held.
slab_record& pool_core::add_slab(std::unique_lock<std::mutex>& lock, std::size_t bytes) {
  bytes_reserved_ += bytes;
  lock.unlock();
  nvtx_range range("pinpool::grow");
  slab mem;
  try {
    mem = backend_->allocate(opt_.kind, opt_.device, bytes);
  } catch (...) {
    lock.lock();
    bytes_reserved_ -= bytes;
    throw;
  }
  lock.lock();
  ++grows_;
  ++backend_allocations_;
  if (opt_.kind == memory_kind::pinned_host) all_locked_ = all_locked_ && mem.page_locked;
  auto record = std::make_unique<slab_record>();
  record->mem = mem;
  record->nvtx_heap = nvtx_heap_register(mem.ptr, mem.bytes);
  slabs_.push_back(std::move(record));
  return *slabs_.back();
}

chunk* pool_core::new_chunk_record() {
  if (!spare_records_.empty()) {
    chunk* c = spare_records_.back();
    spare_records_.pop_back();
    return c;
  }
  chunk& c = chunk_storage_.emplace_back();
  c.streams.reserve(2);
  c.events.reserve(2);
  return &c;
}

// Moves every pending chunk whose release completed to its ready list.
void pool_core::settle_completed() {
  for (class_state& k : classes_) {
    for (chunk* c = k.pending.front(); c != nullptr;) {
      chunk* next = c->next;
      if (pending_done(c)) make_idle(unpend(k, c));
      c = next;
    }
  }
}

// At the cap: slabs whose chunks are all idle are re-carved from scratch (no backend call), so
// memory parked in one size class can serve another.
bool pool_core::reclaim_idle_slabs() {
  settle_completed();
  bool any = false;
  for (auto& s : slabs_) {
    if (s->live_chunks == 0 && s->carved != 0) {
      detach_slab_chunks(*s);
      any = true;
    }
  }
  return any;
}

void pool_core::detach_slab_chunks(slab_record& s) {
  for (chunk* c : s.chunks) {
    class_state& k = classes_[c->cls];
    k.ready.erase(c);
    --k.chunks;
    c->st = chunk::state::carved;
    spare_records_.push_back(c);
  }
  s.chunks.clear();
  s.carved = 0;
}

std::size_t pool_core::trim() {
  nvtx_range range("pinpool::trim");
  detach_own_cache();  // this thread's cached chunks become idle, so their slabs can go
  std::vector<slab> idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    settle_completed();
    auto keep = std::stable_partition(slabs_.begin(), slabs_.end(),
                                      [](const auto& s) { return s->live_chunks != 0; });
    for (auto it = keep; it != slabs_.end(); ++it) {
      detach_slab_chunks(**it);
      nvtx_heap_unregister((*it)->nvtx_heap);
      idle.push_back((*it)->mem);
      bytes_reserved_ -= (*it)->mem.bytes;
      ++backend_frees_;
    }
    slabs_.erase(keep, slabs_.end());
  }
  std::size_t freed = 0;
  for (const slab& m : idle) {
    backend_->deallocate(opt_.kind, opt_.device, m);
    freed += m.bytes;
  }
  return freed;
}

// ---- release ----------------------------------------------------------------------------------

// No stream: idle at once. Streams: an event recorded on each (backend calls without the lock),
// then the chunk waits on its class's pending list. A runtime failure while recording
// quarantines the chunk (never reused: work we cannot track may still use it) and is reported.
inline void pool_core::release(chunk* c) noexcept {
  nvtx_region_unregister(c->ptr);  // before anyone can be handed the chunk again
  if (c->streams.empty() && caching_ && park_in_cache(c)) return;
  release_shared(c);
}

void pool_core::release_shared(chunk* c) noexcept {
  const bool ordered = !c->streams.empty();
  const bool recorded = !ordered || record_events(c);
  void* release_stream = nullptr;
  if (ordered && c->streams.size() == 1 && c->streams.front().has_stable_identity()) {
    release_stream = c->streams.front().native_handle();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  count_returned(c);
  bytes_requested_ -= c->requested;
  if (!recorded) {
    ++quarantined_;
  } else if (!ordered) {
    make_idle(c);
  } else {
    c->st = chunk::state::pending;
    c->release_stream = release_stream;
    classes_[c->cls].pending.push_back(c);
    bytes_pending_ += c->bytes;
  }
  const bool last = deletable();
  if (waiters_ > 0) released_cv_.notify_all();
  lock.unlock();
  if (last) delete this;
}

bool pool_core::record_events(chunk* c) noexcept {
  try {
    take_events(c);
    for (std::size_t i = 0; i < c->streams.size(); ++i) {
      backend_->record_event(c->events[i].event, c->events[i].device, c->streams[i]);
    }
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pinpool: pool '%s': cannot record a release (%s); chunk quarantined\n",
                 opt_.name, e.what());
    std::lock_guard<std::mutex> lock(mutex_);
    if (broken_.empty()) broken_ = e.what();
    refusing_ = true;
    recycle_events(c);
    return false;
  }
}

// Fills c->events with one idle event per stream, on the stream's device (created when the
// pool has none: slow path, without the lock).
void pool_core::take_events(chunk* c) {
  c->events.clear();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const stream_ref& s : c->streams) {
      auto& idle = idle_events_.at(static_cast<std::size_t>(s.device()));
      c->events.push_back({idle.empty() ? nullptr : idle.back(), s.device()});
      if (!idle.empty()) idle.pop_back();
    }
  }
  for (event_slot& e : c->events) {
    if (e.event == nullptr) e.event = backend_->create_event(e.device);
  }
}

// Detaches a chunk's events for reuse (under the lock). Recording an event again while earlier
// work is pending is fine: a record replaces the previous one, and waits already enqueued keep
// the record they saw (CUDA semantics, which the CPU backend and the emulation share).
void pool_core::recycle_events(chunk* c) {
  for (const event_slot& e : c->events) {
    if (e.event != nullptr) idle_events_[static_cast<std::size_t>(e.device)].push_back(e.event);
  }
  c->events.clear();
}

// ---- thread caches ----------------------------------------------------------------------------

// Owner thread, no lock: a cached chunk of class `cls`, counted as an acquisition and a hit.
inline chunk* pool_core::take_from_cache(std::uint32_t cls, std::size_t bytes) noexcept {
  cache_entry* e = find_cache_entry(this);
  if (e == nullptr) return nullptr;
  for (int i = 0; i < cache_entry::slots; ++i) {
    if (e->slot_class[i] != cls) continue;
    chunk* c = e->slot[i].load(std::memory_order_relaxed);
    if (c != nullptr) {
      e->slot[i].store(nullptr, std::memory_order_relaxed);
      bump(e->acquisitions);
      bump(e->hits);
      bump(e->requested_delta, static_cast<std::int64_t>(bytes));
      return c;
    }
  }
  return nullptr;
}

// Gives a chunk to the caller (from the pool's lists, or from the thread cache whose chunks the
// pool already counts as handed out): its request, its stream, its NVTX region.
inline buffer pool_core::hand_over(chunk* c, std::size_t bytes, const stream_ref* s) {
  c->st = chunk::state::in_use;
  c->requested = bytes;
  c->streams.clear();
  if (s != nullptr) c->streams.push_back(*s);
  nvtx_region_register(c->slab->nvtx_heap, c->ptr, c->bytes);
  return buffer{this, c, c->ptr, bytes};
}

// Owner thread: parks an idle chunk in this thread's cache (attaching one on first use). The
// pool keeps counting it as handed out until the entry is detached.
inline bool pool_core::park_in_cache(chunk* c) {
  cache_entry* e = find_cache_entry(this);
  try {
    if (e == nullptr) e = attach_cache_entry(this);
  } catch (const std::exception&) {  // cannot register (out of memory): use the pool's lists
    return false;
  }
  if (e == nullptr) return false;
  for (int i = 0; i < cache_entry::slots; ++i) {
    if (e->slot[i].load(std::memory_order_relaxed) == nullptr) {
      bump(e->requested_delta, -static_cast<std::int64_t>(c->requested));
      c->st = chunk::state::ready;
      e->slot_class[i] = c->cls;
      e->slot[i].store(c, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

bool pool_core::attach_cache(cache_entry& e) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return false;
  attached_.push_back(&e);
  e.core = this;
  e.acquisitions.store(0, std::memory_order_relaxed);
  e.hits.store(0, std::memory_order_relaxed);
  e.requested_delta.store(0, std::memory_order_relaxed);
  return true;
}

void pool_core::detach_cache(cache_entry& e) noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  for (auto& slot : e.slot) {
    chunk* c = slot.exchange(nullptr, std::memory_order_relaxed);
    if (c == nullptr) continue;
    count_returned(c);  // its request was taken off through the entry's requested_delta
    make_idle(c);
  }
  acquisitions_ += e.acquisitions.load(std::memory_order_relaxed);
  hits_ += e.hits.load(std::memory_order_relaxed);
  bytes_requested_ = static_cast<std::size_t>(static_cast<std::int64_t>(bytes_requested_) +
                                              e.requested_delta.load(std::memory_order_relaxed));
  attached_.erase(std::find(attached_.begin(), attached_.end(), &e));
  e.core = nullptr;
  const bool last = deletable();
  if (waiters_ > 0) released_cv_.notify_all();
  lock.unlock();
  if (last) delete this;
}

void pool_core::detach_own_cache() noexcept {
  if (cache_entry* e = find_cache_entry(this)) detach_cache(*e);
}

// ---- stats and teardown -----------------------------------------------------------------------

pool_stats pool_core::stats() const {
  pool_stats st;
  st.name = opt_.name;
  st.kind = opt_.kind;
  st.backend = backend_->name();
  std::lock_guard<std::mutex> lock(mutex_);
  st.page_locked = opt_.kind == memory_kind::pinned_host && all_locked_ && !slabs_.empty();
  st.bytes_reserved = bytes_reserved_;
  // Chunks parked in thread caches are idle: not in use, not outstanding.
  std::vector<std::size_t> cached_per_class;
  std::size_t cached_bytes = 0, cached_chunks = 0;
  std::int64_t requested_delta = 0;
  std::uint64_t cache_acquisitions = 0, cache_hits = 0;
  for (const cache_entry* e : attached_) {
    cache_acquisitions += e->acquisitions.load(std::memory_order_relaxed);
    cache_hits += e->hits.load(std::memory_order_relaxed);
    requested_delta += e->requested_delta.load(std::memory_order_relaxed);
    for (const auto& slot : e->slot) {
      if (const chunk* c = slot.load(std::memory_order_relaxed)) {
        cached_per_class.resize(classes_.size());
        ++cached_per_class[c->cls];
        cached_bytes += c->bytes;
        ++cached_chunks;
      }
    }
  }
  st.bytes_in_use = bytes_in_use_ - cached_bytes;
  st.bytes_pending = bytes_pending_;
  st.peak_bytes_in_use = peak_in_use_;
  st.bytes_requested =
      static_cast<std::size_t>(static_cast<std::int64_t>(bytes_requested_) + requested_delta);
  st.acquisitions = acquisitions_ + cache_acquisitions;
  st.hits = hits_ + cache_hits;
  st.grows = grows_;
  st.waits = waits_;
  st.stream_waits = stream_waits_;
  st.backend_allocations = backend_allocations_;
  st.backend_frees = backend_frees_;
  st.slabs = slabs_.size();
  st.outstanding_buffers = outstanding_ - cached_chunks;
  for (std::uint32_t i = 0; i < classes_.size(); ++i) {
    const class_state& k = classes_[i];
    if (k.chunks == 0 && k.acquisitions == 0) continue;
    const std::size_t cached = cached_per_class.empty() ? 0 : cached_per_class[i];
    st.classes.push_back(
        {sizes_.chunk_bytes(i), k.chunks, k.in_use - cached, k.acquisitions, k.hits});
  }
  return st;
}

void pool_core::close() noexcept {
  detach_own_cache();
  std::unique_lock<std::mutex> lock(mutex_);
  closed_ = true;
  std::size_t cached = 0;
  for (const cache_entry* e : attached_) {
    for (const auto& slot : e->slot) cached += slot.load(std::memory_order_relaxed) != nullptr;
  }
  if (outstanding_ > cached) {
    std::fprintf(stderr,
                 "pinpool: pool '%s' destroyed with %zu buffer(s) outstanding; its memory is "
                 "kept until the last of them is released\n",
                 opt_.name, outstanding_ - cached);
  }
  if (!deletable()) return;  // the last buffer or thread-cache detach deletes it
  lock.unlock();
  delete this;
}

// Waits (host) for every pending release, then returns events and slabs to the backend.
void pool_core::destroy_memory() noexcept {
  auto wait_and_destroy = [&](const event_slot& e) {
    try {
      backend_->synchronize_event(e.event, e.device);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "pinpool: pool '%s': waiting for a release failed: %s\n", opt_.name,
                   ex.what());
    }
    backend_->destroy_event(e.event, e.device);
  };
  for (class_state& k : classes_) {
    for (chunk* c = k.pending.front(); c != nullptr; c = c->next) {
      for (const event_slot& e : c->events) wait_and_destroy(e);
    }
  }
  for (std::size_t d = 0; d < idle_events_.size(); ++d) {
    for (void* e : idle_events_[d]) backend_->destroy_event(e, static_cast<int>(d));
  }
  if (quarantined_ != 0) return;  // memory may still be used by work we could not track: leak it
  for (auto& s : slabs_) {
    nvtx_heap_unregister(s->nvtx_heap);
    backend_->deallocate(opt_.kind, opt_.device, s->mem);
  }
}

}  // namespace pinpool::detail

// ---- the public entry points of the hot path, in this file so the fast path inlines -----------

namespace pinpool {

buffer pool::acquire(std::size_t bytes) {
  return core_->acquire(bytes, nullptr, true);
}

buffer pool::acquire(std::size_t bytes, stream_ref s) {
  return core_->acquire(bytes, &s, true);
}

namespace {
std::optional<buffer> unless_empty(buffer b) {
  if (b.empty()) return std::nullopt;
  return std::optional<buffer>{std::move(b)};
}
}  // namespace

std::optional<buffer> pool::try_acquire(std::size_t bytes) {
  return unless_empty(core_->acquire(bytes, nullptr, false));
}

std::optional<buffer> pool::try_acquire(std::size_t bytes, stream_ref s) {
  return unless_empty(core_->acquire(bytes, &s, false));
}

void buffer::reset() noexcept {
  if (chunk_ == nullptr) return;
  core_->release(std::exchange(chunk_, nullptr));
  core_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

}  // namespace pinpool
