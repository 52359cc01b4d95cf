#pragma once
// The pool's shared state (internal). `pool` owns one; buffers point at it; it deletes itself
// when the pool is gone and its last chunk came back.

#include "chunk_list.hpp"
#include "size_classes.hpp"
#include "thread_cache.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/buffer.hpp>
#include <pinpool/pool_options.hpp>
#include <pinpool/pool_stats.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pinpool::detail {

struct slab_record;

/// @brief An event handle of the backend and the device it was created on.
struct event_slot {
  void* event;
  int device;
};

/// @brief Host-side metadata of one chunk (never stored in chunk memory: device memory cannot
/// hold host headers). Owned by pool_core; stable address.
struct chunk {
  enum class state : std::uint8_t { carved, in_use, ready, pending };
  std::byte* ptr = nullptr;
  std::size_t bytes = 0;      // class size
  std::size_t requested = 0;  // while in use
  std::uint32_t cls = 0;
  state st = state::carved;
  slab_record* slab = nullptr;
  chunk* prev = nullptr;  // links in its class's ready or pending list
  chunk* next = nullptr;
  std::vector<stream_ref> streams;  // in use: the streams its release waits for
  std::vector<event_slot> events;   // pending: recorded at release, one per stream
  void* release_stream = nullptr;   // pending: the only stream it was released on, if stable
};

struct slab_record {
  slab mem;
  void* nvtx_heap = nullptr;    // NVTX memory-API heap of this slab
  std::size_t carved = 0;       // bump offset
  std::size_t live_chunks = 0;  // carved chunks in use or pending
  std::vector<chunk*> chunks;   // every chunk carved from it
};

struct class_state {
  chunk_list ready;    // reusable by anyone now (LIFO)
  chunk_list pending;  // released on streams, events maybe not complete (FIFO)
  std::size_t chunks = 0;
  std::size_t in_use = 0;
  std::uint64_t acquisitions = 0;
  std::uint64_t hits = 0;
};

class pool_core {
 public:
  pool_core(std::shared_ptr<backend> be, const pool_options& opt);
  pool_core(const pool_core&) = delete;
  pool_core& operator=(const pool_core&) = delete;

  /// @brief `s` null: an idle chunk for the host. `may_wait`: wait up to the timeout at the cap;
  /// otherwise an empty buffer when the cap leaves nothing.
  [[gnu::always_inline]] inline buffer acquire(std::size_t bytes, const stream_ref* s,
                                               bool may_wait);
  /// @brief Returns a chunk (stream-ordered). Never throws.
  [[gnu::always_inline]] inline void release(chunk* c) noexcept;
  std::size_t trim();
  pool_stats stats() const;
  /// @brief The pool handle is gone: destroy now or when the last buffer comes back.
  void close() noexcept;

  /// @brief Registers a thread's cache entry (false once the pool is closed). Slow path.
  bool attach_cache(cache_entry& e);
  /// @brief Returns an entry's chunks to the pool and unregisters it; may delete the core.
  /// Called by the entry's owning thread only. Never throws.
  void detach_cache(cache_entry& e) noexcept;

  const pool_options& options() const noexcept { return opt_; }
  backend& get_backend() const noexcept { return *backend_; }
  std::size_t chunk_size_for(std::size_t bytes) const noexcept;
  void check_stream(const stream_ref& s) const;

 private:
  ~pool_core();
  [[gnu::always_inline]] inline std::uint32_t class_of(std::size_t bytes) const;
  [[noreturn]] void reject(std::size_t bytes, const char* why) const;
  chunk* take_reusable(std::uint32_t cls, const stream_ref* s, bool& needs_device_wait);
  chunk* take_same_stream(class_state& k, const stream_ref& s);
  chunk* take_completed(class_state& k);
  bool pending_done(const chunk* c);
  void settle_completed();
  chunk* carve(std::uint32_t cls);
  chunk* carve_from(slab_record& s, std::uint32_t cls);
  std::size_t growth_bytes(std::uint32_t cls) const noexcept;
  slab_record& add_slab(std::unique_lock<std::mutex>& lock, std::size_t bytes);
  bool reclaim_idle_slabs();
  void detach_slab_chunks(slab_record& s);
  chunk* new_chunk_record();
  [[gnu::noinline]] buffer acquire_shared(std::uint32_t cls, std::size_t bytes, const stream_ref* s,
                                          bool may_wait);
  [[gnu::noinline]] void release_shared(chunk* c) noexcept;
  buffer hand_out(chunk* c, std::size_t bytes, const stream_ref* s);
  [[gnu::always_inline]] inline buffer hand_over(chunk* c, std::size_t bytes, const stream_ref* s);
  chunk* unpend(class_state& k, chunk* c);
  void make_idle(chunk* c) noexcept;
  void count_returned(const chunk* c) noexcept;
  [[gnu::always_inline]] inline chunk* take_from_cache(std::uint32_t cls,
                                                       std::size_t bytes) noexcept;
  [[gnu::always_inline]] inline bool park_in_cache(chunk* c);
  void detach_own_cache() noexcept;
  bool deletable() const noexcept { return closed_ && outstanding_ == 0 && attached_.empty(); }
  void wait_device_side(std::unique_lock<std::mutex>& lock, chunk* c, const stream_ref& s);
  [[noreturn]] void throw_exhausted(std::size_t bytes) const;
  bool record_events(chunk* c) noexcept;
  void take_events(chunk* c);
  void recycle_events(chunk* c);
  void destroy_memory() noexcept;

  std::shared_ptr<backend> backend_;
  pool_options opt_;
  size_classes sizes_;

  mutable std::mutex mutex_;
  std::condition_variable released_cv_;
  int waiters_ = 0;
  bool closed_ = false;
  const bool caching_;                  // thread caches in use (pools without a cap)
  std::atomic<bool> refusing_{false};   // mirrors !broken_.empty() for lock-free paths
  std::vector<cache_entry*> attached_;  // thread cache entries holding this pool's chunks
  std::vector<class_state> classes_;
  std::vector<std::unique_ptr<slab_record>> slabs_;
  std::deque<chunk> chunk_storage_;
  std::vector<chunk*> spare_records_;
  std::vector<std::vector<void*>> idle_events_;  // per device: completed, free to record

  // Figures (under mutex_).
  std::size_t bytes_reserved_ = 0;
  std::size_t bytes_in_use_ = 0;
  std::size_t bytes_pending_ = 0;
  std::size_t peak_in_use_ = 0;
  std::size_t bytes_requested_ = 0;
  std::size_t outstanding_ = 0;
  std::uint64_t acquisitions_ = 0, hits_ = 0, grows_ = 0, waits_ = 0, stream_waits_ = 0;
  std::uint64_t backend_allocations_ = 0, backend_frees_ = 0;
  std::string broken_;           // why the pool refuses work (a release could not be recorded)
  std::size_t quarantined_ = 0;  // chunks whose release could not be recorded (runtime failure)
  bool all_locked_ = true;
};

}  // namespace pinpool::detail
