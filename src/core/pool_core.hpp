#pragma once
// The pool's shared state (internal): locking, ordering and lifetime. `pool` owns one; buffers
// point at it; it deletes itself when the pool is gone and its last chunk came back.
//
// It composes the pieces, each in its own file and each used under `mutex_`:
//   slab_arena   slabs, best-fit carving from free space, growth under the cap, idle chunks
//                given back to free space, trimming idle slabs
//   class_lists  per-class ready/pending chunks and the reuse lookups
//   event_pool   idle release events per device
//   stream_fences per-stream fences of chunks released without an event (lazy release)
//   pool_counters the running figures behind stats()
//   thread_cache per-thread caches of idle chunks (lock-free, owner thread only)
//   raw_index    pointer -> chunk record of the chunks out as raw pointers (lock-free)
// Chunks in use belong to their holders, which write some of their fields without the lock
// (chunk.hpp says which, and how the leak report reads them safely).
// Backend calls (growth, event records, device-side waits) are made without the lock.
//
// The hot path (acquire, release and their thread-cache paths) is in pool_core_inl.hpp, included
// by the files that define the public entry points (pool.cpp, buffer.cpp, raw_pointers.cpp).
// Refusals and their messages are in pool_checks.cpp; registering thread-cache entries in
// thread_cache.cpp; acquisitions and releases during a stream capture, and graph scopes
// (graph_scope_state.hpp), in pool_capture.cpp.

#include "chunk.hpp"
#include "class_lists.hpp"
#include "counters.hpp"
#include "event_pool.hpp"
#include "graph_scope_state.hpp"
#include "raw_index.hpp"
#include "size_classes.hpp"
#include "slab_arena.hpp"
#include "stream_fences.hpp"
#include "thread_cache.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/buffer.hpp>
#include <pinpool/pool_leak_report.hpp>
#include <pinpool/pool_options.hpp>
#include <pinpool/pool_stats.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pinpool::detail {

class pool_core {
 public:
  pool_core(std::shared_ptr<backend> be, const pool_options& opt);
  pool_core(const pool_core&) = delete;
  pool_core& operator=(const pool_core&) = delete;

  /// @brief `s` null: an idle chunk for the host. `may_wait`: wait up to the timeout at the cap;
  /// otherwise an empty buffer when the cap leaves nothing. (pool_core_inl.hpp)
  [[gnu::always_inline]] inline buffer acquire(std::size_t bytes, const stream_ref* s,
                                               bool may_wait);
  /// @brief Returns a chunk (stream-ordered). Never throws. (pool_core_inl.hpp)
  [[gnu::always_inline]] inline void release(chunk* c) noexcept;
  /// @brief acquire (no stream) and release past the inline thread-cache hit, out of line so
  /// that the hit makes no call (pool.cpp, buffer.cpp).
  [[gnu::noinline]] buffer acquire_host_slow(std::size_t bytes, bool may_wait);
  [[gnu::noinline]] void release_slow(chunk* c) noexcept;
  std::size_t trim();
  /// @brief Settles completed releases first, so `bytes_pending` counts only releases whose
  /// stream work had not finished at the call.
  pool_stats stats();
  /// @brief The chunks handed out now (not those parked in thread caches), by address; under
  /// the lock, safe against holders writing their chunks' streams (leak_report.cpp).
  pool_leak_report leak_report() const;
  void reset_peak() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    counters_.peak_in_use = counters_.bytes_in_use;
  }
  /// @brief The pool handle is gone: destroy now, or take back the chunks every thread cache
  /// holds (thread_cache.hpp says why that is safe), free every slab with no chunk in use and
  /// destroy the rest when the last buffer comes back and the last cache entry detaches.
  void close() noexcept;

  /// @brief Registers a thread's cache entry (false once the pool is closed). Slow path.
  bool attach_cache(cache_entry& e);
  /// @brief Returns an entry's chunks to the pool and unregisters it; may delete the core.
  /// Called by the entry's owning thread only. Never throws.
  void detach_cache(cache_entry& e) noexcept;

  const pool_options& options() const noexcept { return opt_; }
  backend& get_backend() const noexcept { return *backend_; }
  std::size_t chunk_size_for(std::size_t bytes) const noexcept;
  /// @throws std::invalid_argument when `s` belongs to another backend, or (device pools) to
  /// another device without peer access to the pool's (backend::enable_peer_access).
  void check_stream(const stream_ref& s) const {
    if (&s.get_backend() != backend_.get() ||
        (opt_.kind == memory_kind::device && s.device() != opt_.device &&
         !backend_->peer_access_enabled(s.device(), opt_.device))) {
      reject_stream(s);
    }
  }
  /// @brief buffer::record_stream: checks `s` and adds it to the chunk's streams (under the
  /// chunk's streams_lock, as every write its holder makes without the pool's lock).
  /// (pool_core_inl.hpp)
  inline void add_stream(chunk* c, const stream_ref& s);
  /// @brief buffer::set_stream: checks `s`, which replaces the chunk's streams.
  inline void replace_streams(chunk* c, const stream_ref& s);

  // Raw pointers (pool::allocate, deallocate, record_stream: raw_pointers.cpp). A chunk out as a
  // raw pointer is an acquired chunk whose buffer handle was dropped; raw_ maps the pointer back.
  /// @brief A chunk of `bytes` (0: null) aligned to `alignment`, as `acquire` (s null: host).
  void* allocate_raw(std::size_t bytes, std::size_t alignment, const stream_ref* s);
  /// @brief Releases `p` (null: nothing) as its buffer's destructor would; with `s`, on `s`
  /// instead of the stream it was allocated on. @throws std::invalid_argument for a pointer not
  /// out now (foreign, interior, freed) or a stream the pool cannot use; `p` stays out then.
  void deallocate_raw(void* p, const stream_ref* s);
  /// @brief buffer::record_stream for `p`. @throws std::invalid_argument as deallocate_raw.
  void record_stream_raw(const void* p, const stream_ref& s);
  /// @brief Whether the chunk's release already waits for `s` (a per-thread handle: only when
  /// the chunk is this thread's). (pool_core_inl.hpp)
  static inline bool waits_for(const chunk& c, const stream_ref& s) noexcept;

  // Graph scopes (graph_scope.hpp; pool_capture.cpp).
  /// @brief Serves acquisitions in the capture `g.origin` takes part in from now on.
  /// @throws std::invalid_argument when the stream is not being captured, has no identity of its
  /// own, belongs to another backend or device, the pool does not detect capture, or another
  /// scope already serves that capture.
  void open_scope(graph_scope_state& g);
  /// @brief The scope ends: its parked chunks go back to the pool behind its release streams (or
  /// are never reused when its capture is still active). Takes ownership of `g`; may delete the
  /// core. Never throws.
  void close_scope(graph_scope_state* g) noexcept;
  /// @brief graph_scope::release_after. @throws std::invalid_argument as check_stream.
  void add_scope_release_stream(graph_scope_state& g, const stream_ref& s);
  /// @brief Bytes of the chunks `g` holds (in use and parked).
  std::size_t scope_bytes(const graph_scope_state& g) const;

 private:
  ~pool_core();
  [[gnu::always_inline]] inline std::uint32_t class_of(std::size_t bytes) const;
  [[gnu::always_inline]] inline buffer acquire_on(std::size_t bytes, const stream_ref& s,
                                                  bool may_wait);
  [[gnu::always_inline]] inline buffer hand_over(chunk* c, std::size_t bytes, const stream_ref* s);
  [[gnu::always_inline]] inline buffer hand_back(chunk* c, std::size_t bytes);
  [[noreturn]] void reject(std::size_t bytes, const char* why) const;
  [[noreturn]] void reject_stream(const stream_ref& s) const;
  [[noreturn]] void reject_foreign_per_thread_stream() const;
  [[noreturn]] void reject_capture() const;
  [[noreturn]] void reject_broken() const;
  [[noreturn]] void reject_pointer(const void* p, const char* call) const;
  void release_on(chunk* c, const stream_ref& s);
  // What a release on a stream does about graph capture: nothing (outside), the chunk kept by
  // a graph scope (release_shared is done), or never reused.
  enum class capture_release { outside, kept, quarantine };
  capture_release release_capture_state(chunk* c) noexcept;
  [[gnu::cold, gnu::noinline]] capture_release release_in_capture(chunk* c,
                                                                  const stream_ref* capturing);
  [[gnu::cold, gnu::noinline]] bool released_in_capture() const noexcept;
  [[gnu::cold, gnu::noinline]] bool capture_check_failed(const std::exception& e) noexcept;
  [[gnu::cold, gnu::noinline]] buffer acquire_in_capture(std::uint32_t cls, std::size_t bytes,
                                                         const stream_ref& s);
  chunk* take_new_in_capture(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                             std::size_t bytes);
  graph_scope_state* scope_of_capture(std::uint64_t capture) const noexcept;
  void park_in_scope(graph_scope_state& g, chunk* c, std::uint64_t reusable_on, bool adopted);
  static chunk* take_parked(graph_scope_state& g, std::uint32_t cls, std::uint64_t stream_id);
  static bool leave_scope(chunk* c) noexcept;
  void return_scope_chunks(graph_scope_state& g, std::vector<chunk*>& back) noexcept;
  /// @brief A release could not be ordered (runtime failure): the pool refuses work from now on,
  /// giving the first such failure as the reason. Called with the lock held.
  void refuse_work(const char* why) noexcept {
    if (broken_.empty()) broken_ = why;
    refusing_ = true;
  }
  [[gnu::always_inline]] inline void attach_stream(chunk* c, const stream_ref& s);
  bool released_by_owner(const chunk* c) const noexcept;
  [[gnu::noinline]] buffer acquire_shared(std::uint32_t cls, std::size_t bytes, const stream_ref* s,
                                          bool may_wait);
  [[gnu::noinline]] void release_shared(chunk* c) noexcept;

  // Acquisition under the lock.
  chunk* take_reusable(std::uint32_t cls, const stream_ref* s);
  // (pool_core.cpp; inline: a part of acquire_shared)
  [[gnu::always_inline]] inline chunk* take_without_growing(std::unique_lock<std::mutex>& lock,
                                                            std::uint32_t cls, const stream_ref* s,
                                                            bool may_wait);
  chunk* take_behind_device_wait(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                                 const stream_ref* s);
  chunk* take_after_wait(std::unique_lock<std::mutex>& lock, std::uint32_t cls, const stream_ref* s,
                         bool may_wait);
  chunk* take_oldest_after_wait(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                                const stream_ref* waiter);
  chunk* hit(chunk* c) noexcept;
  chunk* take_new(std::unique_lock<std::mutex>& lock, std::uint32_t cls);
  chunk* carve_from_free_space(std::uint32_t cls);
  buffer hand_out(chunk* c, std::size_t bytes, const stream_ref* s);
  bool wait_for_release(std::unique_lock<std::mutex>& lock, chunk* c, std::uint64_t seq,
                        const stream_ref* s);
  /// `in_capture`: backend::allocate_during_capture.
  slab_record& add_slab(std::unique_lock<std::mutex>& lock, std::size_t bytes,
                        bool in_capture = false);
  /// A slab allocation made without the lock ended (added or failed): wakes take_new's waiters.
  void slab_added() noexcept {
    --slabs_growing_;
    if (waiters_ > 0) released_cv_.notify_all();
  }
  /// Runs `hooks.on_create` for a new slab; if it throws, frees the slab and rethrows. Unlocked.
  void announce_slab(const slab& mem);
  /// Runs `hooks.on_destroy` (exceptions logged), then returns the slab to the backend.
  void free_slab(const slab& mem) noexcept;
  chunk* take_completed(std::unique_lock<std::mutex>& lock, std::uint32_t cls);
  bool events_done(const std::vector<event_slot>& events);
  bool release_done(const chunk& c);
  void settle_quietly(std::unique_lock<std::mutex>& lock) noexcept;

  // Lazy release fences (stream_fences.hpp); each is called and returns with the lock held.
  // fenced: a record made earlier covers the release; recorded: this call just recorded the
  // fence on a busy stream (asking it at once would almost always answer not ready).
  enum class fence_state { complete, fenced, recorded, not_yet };
  fence_state fence_for(std::unique_lock<std::mutex>& lock, std::uint64_t stream_id,
                        std::uint64_t seq, event_slot& fence, std::uint64_t& covers,
                        bool ask_idle = true);
  void fence_all(std::unique_lock<std::mutex>& lock);
  void note_fence_done(std::uint64_t stream_id, std::uint64_t covers) noexcept;
  void wait_for_fences_at_teardown() noexcept;
  [[noreturn]] void throw_exhausted(std::size_t bytes) const;
  /// Progress of the out-of-memory policy within one acquisition.
  struct reclaim_state {
    bool trimmed = false;
    unsigned asked = 0;
  };
  /// Before an acquisition fails: trims this pool's idle slabs (once), then asks
  /// `on_exhausted` (unlocked; at most max_exhaustion_retries times). Called and returns with
  /// the lock held. @return true to try again.
  bool reclaim_before_failing(std::unique_lock<std::mutex>& lock, std::size_t bytes, bool at_cap,
                              reclaim_state& state);
  /// take_new under the policy: when the backend refuses a slab (and the caller may wait),
  /// reclaims and looks again, first among the chunks reclaiming may have released. Null at the
  /// cap; out_of_memory when the policy gives up.
  chunk* take_new_reclaiming(std::unique_lock<std::mutex>& lock, std::uint32_t cls,
                             std::size_t bytes, const stream_ref* s, bool may_wait,
                             reclaim_state& reclaim);

  // Release.
  bool record_events(chunk* c) noexcept;
  void take_events(chunk* c);

  // Lifetime.
  void forget_chunk(chunk* c) noexcept { lists_.forget(c); }
  void detach_own_cache() noexcept;
  void return_parked(chunk* c) noexcept;
  /// The calling thread's stream-parked chunks back to the pool (stats: settled there).
  void return_own_stream_parked() noexcept;
  /// Release on one owning stream (lazy), outside a capture: parks the chunk in this thread's
  /// stream slots (attaching an entry on first use). False when they are full or unavailable.
  bool park_on_stream(chunk* c) noexcept;
  /// Returns the chunks in `e`'s slots to the pool's lists, leaving `leave` in each slot (null,
  /// or closed_mark_ when closing). With the lock held. @return whether it returned any.
  bool take_back_cached(cache_entry& e, chunk* leave) noexcept;
  /// Removes the slabs with no chunk in use or pending (trim, close); the caller frees them
  /// with free_slabs, unlocked. Called and returns with the lock held.
  std::vector<std::unique_ptr<slab_record>> remove_idle_slabs();
  std::size_t free_slabs(const std::vector<std::unique_ptr<slab_record>>& idle) noexcept;
  /// The pool is closed and a chunk came back (or it just closed); called with the lock held,
  /// returns without it, the core possibly gone. Deletes the core when deletable; else frees,
  /// unlocked, every slab once no buffer is out (waiting for pending releases, as the
  /// destructor), or with `look_for_idle` the slabs with no chunk in use or pending. Other
  /// threads' cache entries then keep only the core (small) until they detach.
  void leave_closed(std::unique_lock<std::mutex>& lock, bool look_for_idle) noexcept;
  /// leave_closed: settles and removes the idle slabs (none while another thread frees some).
  std::vector<std::unique_ptr<slab_record>> take_idle_slabs(
      std::unique_lock<std::mutex>& lock) noexcept;
  bool deletable() const noexcept {
    return closed_ && !closing_ && counters_.outstanding == 0 && attached_.empty() &&
           scopes_.empty();
  }
  void destroy_memory() noexcept;
  // The leak report (leak_report.cpp), with the lock held.
  void collect_outstanding(std::vector<outstanding_chunk>& out) const;
  /// The destructor's messages when `outstanding` buffers are still out; never throws.
  std::vector<std::string> leak_message(std::size_t outstanding) const noexcept;

  std::shared_ptr<backend> backend_;
  std::string name_;  // owned copy of opt_.name
  pool_options opt_;
  size_classes sizes_;

  mutable std::mutex mutex_;
  std::condition_variable released_cv_;
  int waiters_ = 0;
  int slabs_growing_ = 0;  // slab allocations in flight (add_slab, without the lock)
  bool closed_ = false;
  const bool caching_;                      // thread caches in use (pools without a cap)
  const bool may_capture_;                  // capture is checked (CUDA, detect_capture)
  const bool lazy_release_;                 // device pools with lazy_release (stream_fences)
  const bool parks_on_streams_;             // lazy releases park in stream slots (caching, at_cap)
  std::atomic<bool> refusing_{false};       // mirrors !broken_.empty() for lock-free paths
  std::vector<cache_entry*> attached_;      // thread cache entries holding this pool's chunks
  std::vector<graph_scope_state*> scopes_;  // open graph scopes (pool_capture.cpp)
  event_pool events_;
  stream_fences fences_;
  class_lists lists_;
  slab_arena arena_;
  raw_index raw_;
  pool_counters counters_;
  std::string broken_;           // why the pool refuses work (a release could not be recorded)
  std::size_t quarantined_ = 0;  // chunks whose release could not be recorded (runtime failure)
  bool closing_ = false;         // closed, a thread frees memory unlocked: not deletable yet
  bool memory_freed_ = false;    // closed, and every slab and event went back (leave_closed)
  chunk closed_mark_;            // left in attached entries' slots by close (thread_cache.hpp)
};

}  // namespace pinpool::detail
