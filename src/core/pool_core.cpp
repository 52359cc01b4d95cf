#include "options.hpp"
#include "pool_core_inl.hpp"  // attach_stream: the last step of every acquisition

#include <pinpool/detail/nvtx.hpp>
#include <pinpool/error.hpp>
#include <pinpool/log.hpp>
#include <pinpool/pool.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace pinpool::detail {

pool_core::pool_core(std::shared_ptr<backend> be, const pool_options& opt)
    : backend_(std::move(be)),
      opt_(checked_options(backend_.get(), opt, name_)),
      sizes_(opt_.alignment, opt_.classes_per_doubling),
      caching_(opt_.max_bytes == 0 && opt_.thread_cache),
      may_capture_(backend_->kind() == backend_kind::cuda && opt_.detect_capture),
      lazy_release_(opt_.lazy_release && opt_.kind == memory_kind::device),
      parks_on_streams_(lazy_release_ && caching_ &&
                        opt_.pending_reuse == cross_stream_reuse::at_cap),
      events_(backend_->device_count()),
      lists_(sizes_.count(), events_, fences_),
      arena_(sizes_, opt_.alignment, opt_.slab_bytes, opt_.max_bytes, opt_.first_slab_bytes),
      raw_(opt_.alignment) {
  closed_mark_.cls = closed_mark_class;
  if (opt_.initial_bytes > 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    add_slab(lock, round_up(opt_.initial_bytes, opt_.alignment));
  }
}

pool_core::~pool_core() {
  if (!memory_freed_) destroy_memory();
}

std::size_t pool_core::chunk_size_for(std::size_t bytes) const noexcept {
  if (bytes == 0 || bytes > sizes_.max_request()) return 0;
  return sizes_.chunk_bytes(sizes_.index_of(bytes));
}

// ---- acquisition ------------------------------------------------------------------------------

// A chunk of the pool's lists: reusable at once, behind a device-side wait when the pool prefers
// waiting (pending_reuse = always), whose release completed, or (at max_pending_bytes) after a
// wait for the oldest pending one. Null when the pool would have to grow.
inline chunk* pool_core::take_without_growing(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                                              const stream_ref* s, bool may_wait) {
  if (chunk* c = take_reusable(cls, s)) return c;
  // Waiting anyway: a device-side wait (one runtime call) costs less than asking first whether
  // the release completed (two calls, three when it has not). Device pools and streams only.
  if (opt_.pending_reuse == cross_stream_reuse::always) {
    if (chunk* c = take_behind_device_wait(lock, cls, s)) return c;
  }
  if (chunk* c = take_completed(lock, cls)) return c;
  if (opt_.max_pending_bytes != 0 && lists_.bytes_pending() >= opt_.max_pending_bytes) {
    return take_after_wait(lock, cls, s, may_wait);
  }
  return nullptr;
}

// The pool's own lists (under the lock), growth, and waiting at the cap. Waiting: releases
// notify; completions of stream work do not, so the waiter also polls every millisecond.
buffer pool_core::acquire_shared(std::uint32_t cls, std::size_t bytes, const stream_ref* s,
                                 bool may_wait) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!broken_.empty()) reject_broken();
  ++counters_.acquisitions;
  lists_.count_acquisition(cls);
  std::chrono::steady_clock::time_point deadline{};
  std::optional<nvtx_range> waiting;  // "pinpool::wait" from the first wait to the return
  reclaim_state reclaim;
  for (;;) {
    if (chunk* c = take_without_growing(lock, cls, s, may_wait)) return hand_out(hit(c), bytes, s);
    if (chunk* c = take_new_reclaiming(lock, cls, bytes, s, may_wait, reclaim)) {
      return hand_out(c, bytes, s);
    }
    if (chunk* c = take_behind_device_wait(lock, cls, s)) return hand_out(hit(c), bytes, s);
    if (!may_wait) return buffer{};
    const auto now = std::chrono::steady_clock::now();
    if (!waiting) {
      waiting.emplace("pinpool::wait");
      ++counters_.waits;
      deadline = now + opt_.acquire_timeout;
    }
    // Past the deadline the policy may free memory: the wait below then returns at once.
    if (now >= deadline && !reclaim_before_failing(lock, bytes, true, reclaim)) {
      throw_exhausted(bytes);
    }
    ++waiters_;
    released_cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds{1}));
    --waiters_;
  }
}

// A chunk no list had, growing the pool last: carved from free space; else from free space that
// idle chunks of other classes make when given back to their slabs (merged with their free
// neighbours); else, once, after settling the releases that completed (runtime calls, made only
// when the pool would otherwise grow or is at its cap: fences on the streams with unfenced lazy
// releases, then queries); else from a new slab. Null when the cap leaves nothing.
chunk* pool_core::take_new(std::unique_lock<std::mutex>& lock, std::uint32_t cls) {
  bool settled = false;
  for (;;) {
    if (chunk* c = carve_from_free_space(cls)) return c;
    if (!settled && lists_.bytes_pending() + arena_.bytes_free() >= sizes_.chunk_bytes(cls)) {
      settled = true;
      fence_all(lock);
      lists_.settle([this](const chunk& c) { return release_done(c); });
      continue;
    }
    if (slabs_growing_ == 0) break;
    // Another thread is adding a slab (without the lock): it may hold this chunk too, so wait
    // for it rather than add a second one.
    ++waiters_;
    released_cv_.wait(lock, [this] { return slabs_growing_ == 0; });
    --waiters_;
  }
  const std::size_t slab_bytes = arena_.growth_bytes(cls);
  return slab_bytes == 0 ? nullptr : arena_.carve_from(add_slab(lock, slab_bytes), cls);
}

// Carved from free space, after giving the idle chunks back to it when they may make room.
chunk* pool_core::carve_from_free_space(std::uint32_t cls) {
  if (chunk* c = arena_.carve(cls)) return c;
  const std::size_t idle = lists_.bytes_ready();
  if (idle == 0 || idle + arena_.bytes_free() < sizes_.chunk_bytes(cls)) return nullptr;
  arena_.dissolve_idle([this](chunk* c) { forget_chunk(c); });
  return arena_.carve(cls);
}

// A chunk that needs no wait and no runtime call: an idle chunk, else one released on `s`
// itself (stream order makes it safe).
chunk* pool_core::take_reusable(std::uint32_t cls, const stream_ref* s) {
  if (chunk* c = lists_.take_ready(cls)) return c;
  if (s == nullptr || !s->has_stable_identity() || lists_[cls].pending.empty()) return nullptr;
  return lists_.take_same_stream(cls, s->id());
}

// A pending chunk of `cls` whose release completed. The events are queried without the lock
// (they are runtime calls), at most one chunk per release stream (the oldest: later releases on
// a stream cannot be done before it); a chunk taken or re-released meanwhile is left alone. A
// lazily released chunk is asked about through its stream's fence, recorded first if no record
// covers it yet (one record per stream, whatever the number of chunks it covers); a fence this
// call had to record is not asked about (the stream was busy a moment ago: the answer would be
// not ready, at three runtime calls), the next acquisition asks.
chunk* pool_core::take_completed(std::unique_lock<std::mutex>& lock, std::uint32_t cls) {
  constexpr std::size_t max_probes = 8;
  struct probe {
    chunk* c;
    std::uint64_t release_seq;
    std::uint64_t lazy_stream;  // 0: the chunk's own events
    std::vector<event_slot> events;
    std::uint64_t covers = 0;  // lazy: the releases the fence's record covers
  };
  std::vector<chunk*> found;
  lists_.candidates(cls, found, max_probes);
  if (found.empty()) return nullptr;
  std::vector<probe> probes;
  probes.reserve(found.size());
  for (chunk* c : found) {
    if (c->lazy && fences_.completed(*c)) return lists_.take_pending(c);
    probes.push_back({c, c->release_seq, c->lazy ? c->release_stream : 0,
                      c->lazy ? std::vector<event_slot>{} : c->events});
  }
  for (probe& p : probes) {
    if (p.lazy_stream == 0) continue;
    event_slot fence{};
    const fence_state st = fence_for(lock, p.lazy_stream, p.release_seq, fence, p.covers);
    const bool still_there = p.c->release_seq == p.release_seq;
    if (st == fence_state::complete && still_there) return lists_.take_pending(p.c);
    if (st == fence_state::fenced) p.events.push_back(fence);  // not one recorded just now
  }
  lock.unlock();
  const probe* done = nullptr;
  try {
    for (const probe& p : probes) {
      if (!p.events.empty() && events_done(p.events)) {
        done = &p;
        break;
      }
    }
  } catch (...) {
    lock.lock();
    throw;
  }
  lock.lock();
  if (done == nullptr) return nullptr;
  if (done->lazy_stream != 0) note_fence_done(done->lazy_stream, done->covers);
  const bool still_there = done->c->release_seq == done->release_seq;
  return still_there ? lists_.take_pending(done->c) : nullptr;
}

// Device memory acquired on a stream: the oldest pending chunk, with `s` made to wait on the
// device for its release. Null for host memory, host acquisitions, or nothing pending.
chunk* pool_core::take_behind_device_wait(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                                          const stream_ref* s) {
  if (s == nullptr || opt_.kind != memory_kind::device) return nullptr;
  return take_oldest_after_wait(lock, cls, s);
}

// Over max_pending_bytes: the oldest pending chunk of `cls`, after a wait for its release
// instead of growing: device-side for device memory acquired on a stream, else on the host
// (unless the caller may not wait: try_acquire grows instead).
chunk* pool_core::take_after_wait(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                                  const stream_ref* s, bool may_wait) {
  if (s != nullptr && opt_.kind == memory_kind::device) {
    return take_behind_device_wait(lock, cls, s);
  }
  if (!may_wait) return nullptr;
  nvtx_range range("pinpool::wait");
  return take_oldest_after_wait(lock, cls, nullptr);
}

// The oldest pending chunk of `cls`, once `waiter` (a stream, device-side; null: the host,
// blocking) waits for its release (wait_for_release). Null when none is pending or the wait
// cannot be made yet.
chunk* pool_core::take_oldest_after_wait(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                                         const stream_ref* waiter) {
  std::uint64_t seq = 0;
  chunk* c = lists_.take_oldest_pending(cls, seq);
  if (c == nullptr) return nullptr;
  return wait_for_release(lock, c, seq, waiter) ? c : nullptr;
}

chunk* pool_core::hit(chunk* c) noexcept {
  ++counters_.hits;
  ++lists_[c->cls].hits;
  return c;
}

bool pool_core::events_done(const std::vector<event_slot>& events) {
  return std::all_of(events.begin(), events.end(), [this](const event_slot& e) {
    return backend_->event_done(e.event, e.device);
  });
}

// Whether a pending chunk's release completed, for settling under the lock: its events, or for a
// lazy one its stream's fence when a record covers it (no fence is recorded here).
bool pool_core::release_done(const chunk& c) {
  if (!c.lazy) return events_done(c.events);
  stream_fence* f = fences_.find(c.release_stream);
  if (f == nullptr) return false;
  if (c.release_seq <= f->completed) return true;
  if (c.release_seq > f->recorded || !backend_->event_done(f->fence.event, f->fence.device)) {
    return false;
  }
  f->completed = std::max(f->completed, f->recorded);
  return true;
}

// Makes later work on `s` wait for the release of chunk `c` (taken off its pending list as
// release `seq`), or with `s` null the host (blocking): its events, or a lazy chunk's stream
// fence (recorded first when no record covers it). The backend is called without the lock.
// False, the chunk back on its list, when the fence cannot be recorded yet; on failure the same,
// and the error propagates.
bool pool_core::wait_for_release(std::unique_lock<std::mutex>& lock, chunk* c, std::uint64_t seq,
                                 const stream_ref* s) {
  std::vector<event_slot> waits = c->events;
  std::uint64_t covers = 0;
  try {
    if (c->lazy) {
      event_slot fence{};
      // No idle check first: the wait is one call, the check two (three when busy).
      const fence_state st = fence_for(lock, c->release_stream, seq, fence, covers, false);
      if (st == fence_state::not_yet) {
        lists_.restore_pending(c);
        return false;
      }
      if (st != fence_state::complete) waits.push_back(fence);
    }
    lock.unlock();
    for (const event_slot& e : waits) {
      if (s != nullptr) {
        backend_->stream_wait_event(*s, e.event, e.device);
      } else {
        backend_->synchronize_event(e.event, e.device);
      }
    }
  } catch (...) {
    if (!lock.owns_lock()) lock.lock();
    lists_.restore_pending(c);
    throw;
  }
  lock.lock();
  if (!waits.empty()) ++(s != nullptr ? counters_.stream_waits : counters_.waits);
  if (c->lazy) {
    if (s == nullptr && covers != 0) note_fence_done(c->release_stream, covers);
    fences_.left_pending(c->release_stream);
  }
  events_.give_back_all(*c);
  return true;
}

// From the pool's lists (under the lock): counted as handed out, then given to the caller with
// its request, its stream (written under the pool's lock, so without the chunk's streams_lock:
// a leak report holds the pool's lock) and its NVTX region.
buffer pool_core::hand_out(chunk* c, std::size_t bytes, const stream_ref* s) {
  ++lists_[c->cls].in_use;
  counters_.handed_out(c->bytes, bytes);
  c->st = chunk::state::in_use;
  c->requested = bytes;
  c->streams.clear();
  c->per_thread_owner = std::thread::id{};
  if (s != nullptr) attach_stream(c, *s);
  nvtx_region_register(c->slab->nvtx_heap, c->ptr, c->bytes);
  return buffer{this, c, c->ptr, bytes};
}

// Allocates a slab of `bytes` without holding the lock (the bytes are reserved against the cap
// first). Called and returns with the lock held.
slab_record& pool_core::add_slab(std::unique_lock<std::mutex>& lock, std::size_t bytes,
                                 bool in_capture) {
  arena_.reserve(bytes);
  ++slabs_growing_;
  lock.unlock();
  nvtx_range range("pinpool::grow");
  slab mem;
  try {
    const slab_request r{opt_.kind, opt_.device, bytes, opt_.numa_node, opt_.slab_touch_threads};
    mem = in_capture ? backend_->allocate_during_capture(r) : backend_->allocate(r);
    announce_slab(mem);
  } catch (...) {
    lock.lock();
    arena_.unreserve(bytes);
    slab_added();
    throw;
  }
  lock.lock();
  slab_added();
  ++counters_.grows;
  ++counters_.backend_allocations;
  // NVTX memory heaps describe memory CUDA tools can check: on a CUDA backend, not plain host
  // memory (compute-sanitizer rejects a heap over memory the runtime did not allocate, then every
  // region in it). The CPU backend registers all its slabs (the trace tool reads them).
  const bool annotate = opt_.kind != memory_kind::host || backend_->kind() != backend_kind::cuda;
  return arena_.adopt(mem, annotate ? nvtx_heap_register(mem.ptr, mem.bytes) : nullptr);
}

// ---- release ----------------------------------------------------------------------------------

// Streams: an event recorded on each (backend calls without the lock), then the chunk waits on
// its class's pending list; released on one owning stream alone, no event (stream_fences). No
// stream: idle at once. A runtime failure while recording quarantines the chunk (never reused: work
// we cannot track may still use it) and is reported. A chunk of a graph scope, or released during
// a capture, may stay with a scope instead (pool_capture.cpp).
void pool_core::release_shared(chunk* c) noexcept {
  const bool ordered = !c->streams.empty();
  const bool lazy =
      lazy_release_ && c->streams.size() == 1 && c->streams.front().lifetime_tracked();
  // The checks' common answers inline (no call): no per-thread owner, capture not checked.
  const bool owned = c->per_thread_owner == std::thread::id{} || released_by_owner(c);
  const capture_release capture =
      ordered && owned && may_capture_ ? release_capture_state(c) : capture_release::outside;
  if (capture == capture_release::kept) return;
  if (lazy && parks_on_streams_ && owned && capture == capture_release::outside &&
      park_on_stream(c)) {
    return;
  }
  const bool recorded =
      !ordered || (owned && capture == capture_release::outside && (lazy || record_events(c)));
  const std::uint64_t release_stream = c->streams.size() == 1 ? c->streams.front().id() : 0;
  std::unique_lock<std::mutex> lock(mutex_);
  --lists_[c->cls].in_use;
  counters_.returned(c->bytes);
  counters_.bytes_requested -= c->requested;
  if (!recorded) {
    ++quarantined_;
    c->st = chunk::state::quarantined;
  } else if (!ordered) {
    lists_.make_idle(c);
  } else {
    const std::uint64_t seq = lists_.add_pending(c, release_stream, lazy);
    if (lazy) fences_.note_release(c->streams.front(), seq, events_);
  }
  if (waiters_ > 0) released_cv_.notify_all();
  if (closed_) {
    leave_closed(lock, c->st == chunk::state::ready && c->slab->live_chunks == 0);
  }
}

bool pool_core::park_on_stream(chunk* c) noexcept {
  if (refusing_.load(std::memory_order_relaxed)) return false;
  cache_entry* e = find_cache_entry(this);
  if (e == nullptr) {
    try {
      e = attach_cache_entry(this);
    } catch (...) {  // cannot register (out of memory): use the pool's lists
      return false;
    }
  }
  return e != nullptr && park_for_stream(*e, c, c->streams.front().id());
}

bool pool_core::record_events(chunk* c) noexcept {
  try {
    take_events(c);
    for (std::size_t i = 0; i < c->streams.size(); ++i) {
      backend_->record_event(c->events[i].event, c->events[i].device, c->streams[i]);
    }
    return true;
  } catch (const std::exception& e) {
    ::pinpool::detail::log_message(
        "pinpool: pool '%s': cannot record a release (%s); chunk quarantined", opt_.name, e.what());
    std::lock_guard<std::mutex> lock(mutex_);
    refuse_work(e.what());
    events_.give_back_all(*c);
    return false;
  }
}

// Fills c->events with one idle event per stream, on the stream's device (created when the
// pool has none: slow path, without the lock).
void pool_core::take_events(chunk* c) {
  c->events.clear();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const stream_ref& s : c->streams)
      c->events.push_back({events_.take(s.device()), s.device()});
  }
  for (event_slot& e : c->events) {
    if (e.event == nullptr) e.event = backend_->create_event(e.device);
  }
}

// ---- lazy release fences --------------------------------------------------------------------

// Lazy release `seq` on stream `stream_id`: complete (known done, the stream is idle or gone),
// fenced (`fence`'s latest record covers releases up to `covers`, seq among them), recorded (the
// same, by a record this call made on the busy stream), or not yet
// (the stream is being destroyed or captured, the chunk left meanwhile, or a concurrent first
// record raced). Asks the stream (unless `ask_idle` is false), and records the fence on it if
// busy (backend::record_fence, without the lock), when no record covers `seq`.
pool_core::fence_state pool_core::fence_for(std::unique_lock<std::mutex>& lock,
                                            std::uint64_t stream_id, std::uint64_t seq,
                                            event_slot& fence, std::uint64_t& covers,
                                            bool ask_idle) {
  stream_fence* f = fences_.find(stream_id);
  if (f == nullptr) return fence_state::not_yet;
  if (seq <= f->completed) return fence_state::complete;
  if (seq <= f->recorded) {
    fence = f->fence;
    covers = f->recorded;
    return fence_state::fenced;
  }
  const std::uint64_t target = lists_.last_release_seq();  // a record from now on covers these
  const stream_ref s = f->stream;
  event_slot ev = f->fence;
  lock.unlock();
  backend::fence_result r = backend::fence_result::not_now;
  try {
    if (ev.event == nullptr) ev.event = backend_->create_event(ev.device);
    r = backend_->record_fence(ev.event, ev.device, s, ask_idle);
  } catch (...) {
    lock.lock();
    f = fences_.find(stream_id);
    if (f == nullptr || f->fence.event != ev.event) events_.give_back(ev);
    throw;
  }
  lock.lock();
  f = fences_.find(stream_id);
  if (f != nullptr && f->fence.event == nullptr) f->fence = ev;
  if (f == nullptr || f->fence.event != ev.event) {  // left meanwhile, or another first record
    events_.give_back(ev);
    return fence_state::not_yet;
  }
  if (r == backend::fence_result::gone) {
    f->completed = stream_fences::all;
    return fence_state::complete;
  }
  if (r == backend::fence_result::idle) {
    f->completed = std::max(f->completed, target);
    return fence_state::complete;
  }
  if (r == backend::fence_result::not_now) return fence_state::not_yet;
  ++counters_.fences;
  f->recorded = std::max(f->recorded, target);
  fence = f->fence;
  covers = target;
  return fence_state::recorded;
}

// Records a fence on every stream with lazy releases no record covers (stats, trim, and growth at
// the cap, which must see every release that may have completed).
void pool_core::fence_all(std::unique_lock<std::mutex>& lock) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> unfenced;  // stream, its latest release
  fences_.for_each_unfenced(
      [&](std::uint64_t id, const stream_fence& f) { unfenced.emplace_back(id, f.last); });
  for (const auto& [id, last] : unfenced) {
    event_slot fence{};
    std::uint64_t covers = 0;
    fence_for(lock, id, last, fence, covers);
  }
}

void pool_core::note_fence_done(std::uint64_t stream_id, std::uint64_t covers) noexcept {
  if (stream_fence* f = fences_.find(stream_id)) f->completed = std::max(f->completed, covers);
}

// Teardown: waits (host) for each stream's lazy releases, then returns the fences to the pool
// of idle events (destroyed with it).
void pool_core::wait_for_fences_at_teardown() noexcept {
  fences_.for_each([this](std::uint64_t, stream_fence& f) {
    try {
      if (f.pending != 0 && f.completed < f.last) {
        if (f.fence.event == nullptr) f.fence.event = backend_->create_event(f.fence.device);
        if (backend_->record_fence(f.fence.event, f.fence.device, f.stream) ==
            backend::fence_result::recorded) {
          backend_->synchronize_event(f.fence.event, f.fence.device);
        }
      }
    } catch (const std::exception& ex) {
      ::pinpool::detail::log_message("pinpool: pool '%s': waiting for a release failed: %s",
                                     opt_.name, ex.what());
    }
    events_.give_back(f.fence);
    f.fence.event = nullptr;
  });
}

// ---- out of memory (pool_options::on_exhausted) ------------------------------------------------

chunk* pool_core::take_new_reclaiming(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                                      std::size_t bytes, const stream_ref* s, bool may_wait,
                                      reclaim_state& reclaim) {
  for (;;) {
    try {
      return take_new(lock, cls);
    } catch (const out_of_memory&) {
      if (!may_wait || !reclaim_before_failing(lock, bytes, false, reclaim)) throw;
    }
    // What the policy released may serve the request without growing.
    if (chunk* c = take_reusable(cls, s)) return hit(c);
    if (chunk* c = take_completed(lock, cls)) return hit(c);
  }
}

bool pool_core::reclaim_before_failing(std::unique_lock<std::mutex>& lock, std::size_t bytes,
                                       bool at_cap, reclaim_state& state) {
  if (!state.trimmed) {
    state.trimmed = true;
    lock.unlock();
    const std::size_t freed = trim();
    lock.lock();
    if (freed != 0) return true;
  }
  if (!opt_.on_exhausted || state.asked >= opt_.max_exhaustion_retries) return false;
  ++state.asked;
  lock.unlock();
  bool retry = false;
  try {
    retry = opt_.on_exhausted(exhaustion{bytes, at_cap, state.asked});
  } catch (...) {
    lock.lock();
    throw;  // the callback's own error replaces the pool's
  }
  lock.lock();
  return retry;
}

// ---- trim, stats and teardown -----------------------------------------------------------------

std::size_t pool_core::trim() {
  nvtx_range range("pinpool::trim");
  detach_own_cache();  // this thread's cached chunks become idle, so their slabs can go
  std::vector<std::unique_ptr<slab_record>> idle;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    fence_all(lock);
    lists_.settle([this](const chunk& c) { return release_done(c); });
    idle = remove_idle_slabs();
  }
  return free_slabs(idle);
}

std::vector<std::unique_ptr<slab_record>> pool_core::remove_idle_slabs() {
  auto idle = arena_.remove_idle([this](chunk* c) { forget_chunk(c); });
  counters_.backend_frees += idle.size();
  return idle;
}

std::size_t pool_core::free_slabs(const std::vector<std::unique_ptr<slab_record>>& idle) noexcept {
  std::size_t freed = 0;
  for (const auto& s : idle) {
    nvtx_heap_unregister(s->nvtx_heap);
    free_slab(s->mem);
    freed += s->mem.bytes;
  }
  return freed;
}

// Settles completed releases for a reader of the stats (fencing lazy ones first); a failing
// record or query leaves the chunk pending (the next acquisition reports the failure).
void pool_core::settle_quietly(std::unique_lock<std::mutex>& lock) noexcept {
  try {
    fence_all(lock);
  } catch (const std::exception&) {  // reported by the next acquisition
  }
  lists_.settle([this](const chunk& c) {
    try {
      return release_done(c);
    } catch (const std::exception&) {
      return false;
    }
  });
}

pool_stats pool_core::stats() {
  pool_stats st;
  st.name = opt_.name;
  st.kind = opt_.kind;
  st.backend = backend_->name();
  return_own_stream_parked();
  std::unique_lock<std::mutex> lock(mutex_);
  settle_quietly(lock);
  const cache_totals cached = sum_caches(attached_, lists_.count());
  counters_.snapshot(st, cached);
  st.page_locked =
      opt_.kind == memory_kind::pinned_host && arena_.all_page_locked() && !arena_.slabs().empty();
  st.bytes_reserved = arena_.bytes_reserved();
  st.bytes_pending = lists_.bytes_pending() + cached.stream_bytes;
  st.slabs = arena_.slabs().size();
  st.numa_nodes = arena_.numa_nodes();
  st.classes.reserve(lists_.used().size());
  for (const std::uint32_t i : lists_.used()) {
    const class_state& k = lists_[i];
    const std::size_t in_cache = cached.per_class.empty() ? 0 : cached.per_class[i];
    st.classes.push_back(
        {sizes_.chunk_bytes(i), arena_.chunks_of(i), k.in_use - in_cache, k.acquisitions, k.hits});
  }
  return st;
}

// Other threads' cached chunks come back at once (their entries keep only the core, marked),
// so that only the slabs of buffers still out, pending releases and chunks parked by a release
// racing with this call outlive the pool handle.
void pool_core::close() noexcept {
  detach_own_cache();
  std::unique_lock<std::mutex> lock(mutex_);
  closed_ = true;
  for (cache_entry* e : attached_) take_back_cached(*e, &closed_mark_);
  const std::size_t cached = sum_caches(attached_, 0).chunks;  // parks racing with the above
  const std::vector<std::string> leaks = counters_.outstanding > cached
                                             ? leak_message(counters_.outstanding - cached)
                                             : std::vector<std::string>{};
  leave_closed(lock, true);  // may delete the core: `leaks` is this call's own
  for (const std::string& line : leaks) ::pinpool::detail::log_message("%s", line.c_str());
}

// Frees the memory of a closed pool that no buffer holds; the core itself goes when nothing
// refers to it. Each round frees unlocked, with closing_ set (not deletable meanwhile), then
// looks again: a release or detach made meanwhile left the work to this thread.
void pool_core::leave_closed(std::unique_lock<std::mutex>& lock, bool look_for_idle) noexcept {
  for (;;) {
    if (deletable()) {
      lock.unlock();
      delete this;
      return;
    }
    const bool all = counters_.outstanding == 0 && scopes_.empty() && !memory_freed_;
    std::vector<std::unique_ptr<slab_record>> idle;
    if (!all && look_for_idle && !memory_freed_) idle = take_idle_slabs(lock);
    if (closing_ || (!all && idle.empty())) {  // closing_: its holder looks again
      lock.unlock();
      return;
    }
    closing_ = true;
    lock.unlock();
    if (all) {
      destroy_memory();
    } else {
      free_slabs(idle);
    }
    lock.lock();
    closing_ = false;
    memory_freed_ = memory_freed_ || all;
    look_for_idle = true;
  }
}

std::vector<std::unique_ptr<slab_record>> pool_core::take_idle_slabs(
    std::unique_lock<std::mutex>& lock) noexcept {
  if (closing_) return {};
  settle_quietly(lock);
  try {
    return remove_idle_slabs();
  } catch (const std::exception&) {  // out of memory: they go with the rest
    return {};
  }
}

// Waits (host) for every pending release, then returns events and slabs to the backend.
void pool_core::destroy_memory() noexcept {
  auto wait_and_destroy = [&](const event_slot& e) {
    try {
      backend_->synchronize_event(e.event, e.device);
    } catch (const std::exception& ex) {
      ::pinpool::detail::log_message("pinpool: pool '%s': waiting for a release failed: %s",
                                     opt_.name, ex.what());
    }
    backend_->destroy_event(e.event, e.device);
  };
  for (std::uint32_t i = 0; i < lists_.count(); ++i) {
    for (chunk* c = lists_[i].pending.front(); c != nullptr; c = c->next) {
      for (const event_slot& e : c->events) wait_and_destroy(e);
    }
  }
  wait_for_fences_at_teardown();
  events_.destroy_all(*backend_);
  if (quarantined_ != 0) return;  // memory may still be used by work we could not track: leak it
  for (const auto& s : arena_.slabs()) {
    nvtx_heap_unregister(s->nvtx_heap);
    free_slab(s->mem);
  }
}

// ---- registration hooks (slab_hooks.hpp) ------------------------------------------------------

namespace {
slab_info info_of(const slab& mem) {
  return slab_info{mem.ptr, mem.bytes, mem.kind, mem.device};
}
}  // namespace

void pool_core::announce_slab(const slab& mem) {
  if (!opt_.hooks.on_create) return;
  try {
    opt_.hooks.on_create(info_of(mem));
  } catch (...) {
    backend_->deallocate(mem);  // never handed out: the pool is as before
    throw;
  }
}

void pool_core::free_slab(const slab& mem) noexcept {
  if (opt_.hooks.on_destroy) {
    try {
      opt_.hooks.on_destroy(info_of(mem));
    } catch (const std::exception& e) {
      detail::log_message("pinpool: pool '%s': a slab's on_destroy hook threw (%s); slab freed",
                          opt_.name, e.what());
    } catch (...) {
      detail::log_message("pinpool: pool '%s': a slab's on_destroy hook threw; slab freed",
                          opt_.name);
    }
  }
  backend_->deallocate(mem);
}

}  // namespace pinpool::detail
