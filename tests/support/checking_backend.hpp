#pragma once
// A checking backend decorator for tests (issue 9). It wraps any backend and forwards every
// member, while it
//  - records the live slabs (pointer -> bytes, kind, device, page_locked): a `deallocate` of an
//    unknown pointer (never allocated, or freed already) or one whose size, kind, device or
//    page_locked differ from what `allocate` returned is a violation and is NOT forwarded;
//    a slab the wrapped backend returns with the wrong size, kind or device, misaligned or
//    overlapping a live slab is a violation too;
//  - counts slabs still alive (`leaked_slabs`), events created minus destroyed and streams
//    created minus destroyed; destroying an unknown event or stream, or using a destroyed event,
//    is a violation (not forwarded);
//  - poisons memory: every new slab is filled with `poison_byte` (never-written memory reads as
//    the pattern), slabs are poisoned again before they are returned, and `poison` /
//    `poison_async` let a test poison a chunk it is about to release (the pool does not tell the
//    backend about chunk releases), so a later reader of a released chunk sees the pattern.
// Violations are collected (`violations`) and written to stderr as they happen. Thread-safe.

#include <pinpool/backend.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace pinpool_test {

/// The poison pattern: every byte of a poisoned range.
inline constexpr unsigned char poison_byte = 0xA5;
/// An aligned 8-byte word of a poisoned range.
inline constexpr std::uint64_t poison_word = 0xA5A5A5A5A5A5A5A5ull;

/// @brief True when all `n` bytes at `p` are `poison_byte` (host-accessible memory only).
bool is_poisoned(const void* p, std::size_t n) noexcept;

class checking_backend final : public pinpool::backend {
 public:
  explicit checking_backend(std::shared_ptr<pinpool::backend> inner);
  /// Prints `report()` to stderr when something is still alive or a violation was recorded.
  ~checking_backend() override;

  /// @brief `std::make_shared<checking_backend>(inner)`.
  static std::shared_ptr<checking_backend> wrap(std::shared_ptr<pinpool::backend> inner);

  const std::shared_ptr<pinpool::backend>& inner() const noexcept { return inner_; }

  // ---- pinpool::backend, forwarded ----------------------------------------------------------
  pinpool::backend_kind kind() const noexcept override { return inner_->kind(); }
  const char* name() const noexcept override { return inner_->name(); }
  int device_count() const noexcept override { return inner_->device_count(); }

  pinpool::slab allocate(const pinpool::slab_request& r) override;
  void deallocate(const pinpool::slab& s) noexcept override;

  void* create_native_stream(int device) override;
  void destroy_native_stream(void* handle, int device) noexcept override;
  void memcpy_async(pinpool::stream_ref s, void* dst, const void* src, std::size_t bytes) override;
  void launch_host_func(pinpool::stream_ref s, std::function<void()> fn) override;
  void synchronize(pinpool::stream_ref s) override;
  std::uint64_t stream_id(void* handle, int device) noexcept override;
  int stream_device(void* handle) override;
  bool is_capturing(pinpool::stream_ref s) override;
  std::uint64_t capture_id(pinpool::stream_ref s) override;
  bool stream_idle(pinpool::stream_ref s) override;

  void* create_event(int device) override;
  void destroy_event(void* event, int device) noexcept override;
  void record_event(void* event, int device, pinpool::stream_ref s) override;
  bool event_done(void* event, int device) override;
  void stream_wait_event(pinpool::stream_ref s, void* event, int device) override;
  void synchronize_event(void* event, int device) override;

  // ---- poisoning ----------------------------------------------------------------------------
  /// @brief Whether the host may read and write memory of `kind` from this backend (host and
  /// pinned_host always; device memory only on the CPU backend).
  bool host_accessible(pinpool::memory_kind kind) const noexcept;
  /// @brief Fills `n` bytes at `p` with `poison_byte` now, from the calling thread.
  /// A range outside every live slab, or of memory the host cannot access, is a violation
  /// (nothing is written).
  void poison(void* p, std::size_t n);
  /// @brief Enqueues on `s` a fill of `n` bytes at `p` with `poison_byte` (async copies from a
  /// static poison source), ordered after the work enqueued on `s` so far: enqueue it right
  /// before the stream-ordered release of a chunk. A range outside every live slab is a
  /// violation (nothing is enqueued).
  void poison_async(pinpool::stream_ref s, void* p, std::size_t n);

  // ---- findings -----------------------------------------------------------------------------
  std::vector<std::string> violations() const;
  std::size_t violation_count() const;
  /// Slabs allocated and not (validly) deallocated yet, and their bytes.
  std::size_t leaked_slabs() const;
  std::size_t leaked_bytes() const;
  /// Events created minus destroyed; streams created minus destroyed.
  std::size_t live_events() const;
  std::size_t live_streams() const;
  std::uint64_t slabs_allocated() const;
  std::uint64_t slabs_deallocated() const;
  /// No violation and nothing alive (slabs, events, streams).
  bool clean() const;
  /// One paragraph: the counts, the live slabs (up to 16) and the violations (up to 16).
  std::string report() const;

 private:
  struct slab_info {
    std::size_t bytes;
    pinpool::memory_kind kind;
    int device;
    bool page_locked;
  };
  using slab_map = std::map<std::uintptr_t, slab_info>;

  void violation(std::string what) const;  // records + stderr; lock NOT held
  // The live slab holding [p, p + n), or end(); lock held.
  slab_map::const_iterator find_range(const void* p, std::size_t n) const;
  bool known_event(void* event, const char* call);  // violation when unknown; lock NOT held
  std::string report_locked() const;

  std::shared_ptr<pinpool::backend> inner_;
  mutable std::mutex mutex_;
  slab_map slabs_;
  std::unordered_set<void*> events_;
  std::unordered_set<void*> streams_;
  std::uint64_t allocated_ = 0;
  std::uint64_t deallocated_ = 0;
  std::uint64_t events_created_ = 0;
  std::uint64_t streams_created_ = 0;
  mutable std::vector<std::string> violations_;
};

}  // namespace pinpool_test
