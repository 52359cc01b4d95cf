// Acquisitions and releases during a stream capture, and graph scopes (internal). The rules are
// docs/design.md's "CUDA Graphs"; graph_scope_state.hpp holds what a scope keeps.
//
// Nothing here makes a call that breaks a capture: a capture is told by cudaStreamIsCapturing
// and cudaStreamGetCaptureInfo, a chunk comes from the ready lists (idle: no question to ask),
// from a scope's own released chunks, or from a new slab allocated with the thread's capture mode
// relaxed (backend::allocate_during_capture); no event is recorded, queried or waited for and no
// stream is synchronised while the capture lasts. Only the pool's slow paths come here: the hot
// path reaches acquire_in_capture only where it refused before, and release_capture_state only
// where it checked for capture before.
#include "pool_core_inl.hpp"  // hand_over

#include <pinpool/error.hpp>
#include <pinpool/log.hpp>

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace pinpool::detail {

namespace {

[[noreturn]] void reject_scope(const char* pool, const char* why) {
  throw std::invalid_argument(std::string("pinpool: pool '") + pool + "': graph_scope: " + why);
}

void add_unique(std::vector<stream_ref>& streams, const stream_ref& s) {
  if (std::find(streams.begin(), streams.end(), s) == streams.end()) streams.push_back(s);
}

}  // namespace

// ---- acquisition --------------------------------------------------------------------------------

// On a stream being captured: through the scope serving the capture, first a chunk it was given
// back on this same stream earlier in the capture (stream order makes the reuse safe: the graph
// keeps the capture's order on one stream), else an idle chunk of the pool or a new one.
buffer pool_core::acquire_in_capture(std::uint32_t cls, std::size_t bytes, const stream_ref& s) {
  const std::uint64_t capture = backend_->capture_id(s);
  std::unique_lock<std::mutex> lock(mutex_);
  graph_scope_state* g = capture == 0 ? nullptr : scope_of_capture(capture);
  if (g == nullptr) {
    lock.unlock();
    reject_capture();
  }
  if (!broken_.empty()) reject_broken();
  ++counters_.acquisitions;
  lists_.count_acquisition(cls);
  g->out.reserve(g->out.size() + 1);
  if (s.has_stable_identity()) {
    if (chunk* c = take_parked(*g, cls, s.id())) {
      g->out.push_back(c);
      counters_.bytes_requested += bytes;
      // Under the lock, as hand_out: the streams of its earlier use in the capture go (else the
      // next release would see two streams and never reuse it).
      c->st = chunk::state::in_use;
      c->streams.clear();
      c->per_thread_owner = std::thread::id{};
      return hand_over(hit(c), bytes, &s);
    }
  }
  chunk* c = lists_.take_ready(cls);
  c = c != nullptr ? hit(c) : take_new_in_capture(lock, cls, bytes);
  c->scope = g;
  g->out.push_back(c);
  return hand_out(c, bytes, &s);
}

// As take_new, less what would ask the runtime about releases (fencing and settling): carved
// from free space, with idle chunks given back to it first, or from a new slab. At the cap with
// nothing idle: exhausted (waiting would mean polling events, which a capture forbids).
chunk* pool_core::take_new_in_capture(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                                      std::size_t bytes) {
  if (chunk* c = carve_from_free_space(cls)) return c;
  if (const std::size_t slab_bytes = arena_.growth_bytes(cls)) {
    return arena_.carve_from(add_slab(lock, slab_bytes, true), cls);
  }
  throw pool_exhausted(std::string("pinpool: pool '") + opt_.name +
                       "' exhausted during a graph capture: no idle chunk for " +
                       std::to_string(bytes) + " bytes under max_bytes " +
                       std::to_string(opt_.max_bytes) +
                       " (a capture cannot wait for releases; reserve more with initial_bytes)");
}

graph_scope_state* pool_core::scope_of_capture(std::uint64_t capture) const noexcept {
  for (graph_scope_state* g : scopes_) {
    if (g->capture == capture) return g;
  }
  return nullptr;
}

// The chunk of `cls` released to the scope last on stream `stream_id`, if any.
chunk* pool_core::take_parked(graph_scope_state& g, std::uint32_t cls, std::uint64_t stream_id) {
  for (auto it = g.parked.rbegin(); it != g.parked.rend(); ++it) {
    if (it->reusable_on == stream_id && it->c->cls == cls) {
      chunk* c = it->c;
      g.parked.erase(std::next(it).base());
      return c;
    }
  }
  return nullptr;
}

// ---- release ------------------------------------------------------------------------------------

// The common answer (no scope, no stream being captured) after the checks release_shared always
// made; the rest out of line. A runtime failure quarantines the chunk and the pool refuses work
// (capture_check_failed).
pool_core::capture_release pool_core::release_capture_state(chunk* c) noexcept {
  try {
    const stream_ref* capturing = nullptr;
    for (const stream_ref& s : c->streams) {
      if (backend_->is_capturing(s)) {
        capturing = &s;
        break;
      }
    }
    if (capturing == nullptr && c->scope == nullptr) return capture_release::outside;
    return release_in_capture(c, capturing);
  } catch (const std::exception& e) {
    if (c->scope != nullptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      leave_scope(c);
    }
    capture_check_failed(e);
    return capture_release::quarantine;
  }
}

// A chunk of a scope stays with it (reusable later in its capture on the stream it was released
// on, when that was its only stream and the capture is the scope's); released in another capture,
// two graphs may use it: never reused. A chunk from outside released during a capture is adopted
// by the capture's scope until it ends, or never reused when no scope serves the capture.
pool_core::capture_release pool_core::release_in_capture(chunk* c, const stream_ref* capturing) {
  const std::uint64_t capture = capturing == nullptr ? 0 : backend_->capture_id(*capturing);
  std::unique_lock<std::mutex> lock(mutex_);
  if (c->scope != nullptr && c->scope->closed) {
    const bool never = c->scope->quarantine;
    leave_scope(c);
    if (never) return capture_release::quarantine;
  }
  if (graph_scope_state* g = c->scope) {
    if (capturing != nullptr && capture != g->capture) {
      leave_scope(c);
      lock.unlock();
      ::pinpool::detail::log_message(
          "pinpool: pool '%s': a buffer acquired in one graph's capture was released in "
          "another capture; its chunk is never reused",
          opt_.name);
      return capture_release::quarantine;
    }
    const bool one_stream = capturing != nullptr && c->streams.size() == 1;
    park_in_scope(*g, c, one_stream ? capturing->id() : 0, false);
    return capture_release::kept;
  }
  if (capturing == nullptr) return capture_release::outside;
  graph_scope_state* g = capture == 0 ? nullptr : scope_of_capture(capture);
  if (g == nullptr) {
    lock.unlock();
    return released_in_capture() ? capture_release::outside : capture_release::quarantine;
  }
  park_in_scope(*g, c, 0, true);
  return capture_release::kept;
}

// Under the lock. The chunk stays handed out (the pool counts it in use) with no request.
void pool_core::park_in_scope(graph_scope_state& g, chunk* c, std::uint64_t reusable_on,
                              bool adopted) {
  g.parked.push_back({c, reusable_on, adopted});
  if (!adopted) g.out.erase(std::find(g.out.begin(), g.out.end(), c));
  c->scope = &g;
  counters_.bytes_requested -= c->requested;
  c->requested = 0;
}

// Under the lock: the chunk leaves its scope (its `out`); a closed scope goes with its last
// chunk. Returns whether the chunk had a scope.
bool pool_core::leave_scope(chunk* c) noexcept {
  graph_scope_state* g = std::exchange(c->scope, nullptr);
  if (g == nullptr) return false;
  const auto it = std::find(g->out.begin(), g->out.end(), c);
  if (it != g->out.end()) g->out.erase(it);
  if (g->closed && g->out.empty()) delete g;
  return true;
}

// ---- scopes -------------------------------------------------------------------------------------

void pool_core::open_scope(graph_scope_state& g) {
  check_stream(g.origin);
  if (!may_capture_) {
    reject_scope(opt_.name,
                 "the pool does not detect capture (a CUDA backend and "
                 "pool_options::detect_capture are needed)");
  }
  if (!g.origin.has_stable_identity()) {
    reject_scope(opt_.name,
                 "needs a stream with an identity of its own (not "
                 "cudaStreamPerThread or the legacy stream)");
  }
  g.capture = backend_->capture_id(g.origin);
  if (g.capture == 0) {
    reject_scope(opt_.name,
                 "the stream is not being captured (create the scope after "
                 "cudaStreamBeginCapture, before the capture's first acquisition)");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (scope_of_capture(g.capture) != nullptr) {
    reject_scope(opt_.name, "another graph_scope of this pool already serves the capture");
  }
  scopes_.push_back(&g);
}

void pool_core::add_scope_release_stream(graph_scope_state& g, const stream_ref& s) {
  check_stream(s);
  std::lock_guard<std::mutex> lock(mutex_);
  add_unique(g.release_after, s);
}

std::size_t pool_core::scope_bytes(const graph_scope_state& g) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t bytes = 0;
  for (const chunk* c : g.out) bytes += c->bytes;
  for (const auto& p : g.parked) bytes += p.c->bytes;
  return bytes;
}

// The scope's end. Its capture still active: the graph may yet be instantiated with the parked
// chunks' addresses, so they are never reused. Else each goes back through release_shared, on the
// scope's stream and its release_after streams (and, adopted, on its own streams too): replays
// enqueued there before the scope's end finish before anyone else gets the chunk. Chunks still
// in use go back to the pool when released.
void pool_core::close_scope(graph_scope_state* g) noexcept {
  bool active = true;
  try {
    active = backend_->capture_id(g->origin) == g->capture;
  } catch (const std::exception& e) {
    ::pinpool::detail::log_message(
        "pinpool: pool '%s': graph_scope: cannot tell whether its capture ended (%s); its "
        "chunks are never reused",
        opt_.name, e.what());
  }
  std::vector<chunk*> back;
  std::size_t never_reused = 0;
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    scopes_.erase(std::find(scopes_.begin(), scopes_.end(), g));
    g->closed = true;
    g->quarantine = active;
    return_scope_chunks(*g, back);
    if (g->out.empty()) delete g;
    if (active) {
      never_reused = back.size();
      back.clear();
    }
    last = back.empty() && deletable();
  }
  if (never_reused != 0) {
    ::pinpool::detail::log_message(
        "pinpool: pool '%s': a graph_scope was destroyed while its capture is active; its %zu "
        "chunk(s) are never reused (destroy it after cudaStreamEndCapture)",
        opt_.name, never_reused);
  }
  if (last) {
    delete this;
    return;
  }
  for (chunk* c : back) release_shared(c);  // the last one may delete the core
}

// Under the lock: the scope's parked chunks leave it, quarantined (its capture is active) or
// given the streams their release waits for. `back` gets them all.
void pool_core::return_scope_chunks(graph_scope_state& g, std::vector<chunk*>& back) noexcept {
  for (const auto& p : g.parked) {
    chunk* c = p.c;
    c->scope = nullptr;
    back.push_back(c);
    if (g.quarantine) {
      --lists_[c->cls].in_use;
      counters_.returned(c->bytes);
      ++quarantined_;
      continue;
    }
    if (!p.adopted) {  // used by the graph only: its capture's streams did no work with it
      c->streams.clear();
      c->per_thread_owner = std::thread::id{};
    }
    add_unique(c->streams, g.origin);
    for (const stream_ref& s : g.release_after) add_unique(c->streams, s);
  }
  g.parked.clear();
}

}  // namespace pinpool::detail
