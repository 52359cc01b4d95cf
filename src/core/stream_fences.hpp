#pragma once
// Lazy release fences (internal). A chunk released on one lifetime-tracked stream s alone
// (`stream_ref::lifetime_tracked`) records no event at release. It may go
//   - to later work on s at once (stream order),
//   - to another stream t behind a device-side wait on s's fence, once a record of the fence
//     covers the release,
//   - to the host once such a record has completed.
// A record made at any moment covers every release on s made before it, so one record per
// stream per hand-off serves all chunks released on s so far, instead of one event per release.
// Releases are compared by the pool-wide `chunk::release_seq` (increasing, assigned under the
// pool's lock): a record whose snapshot was taken after release n covers n.
// A destroyed stream counts as complete (its owning `stream` waits for its work first), and so
// does an idle one (asked before recording: nothing to wait for, so no record).
//
// Not thread-safe: the pool calls it under its lock. Backend calls (recording, querying,
// waiting on the fence) are the pool's, made without the lock.

#include "chunk.hpp"
#include "event_pool.hpp"

#include <pinpool/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <unordered_map>

namespace pinpool::detail {

struct stream_fence {
  explicit stream_fence(const stream_ref& s) : stream(s), fence{nullptr, s.device()} {}

  stream_ref stream;
  event_slot fence;             // recorded on `stream` when a hand-off needs it; null until then
  std::uint64_t last = 0;       // release_seq of the latest lazy release on the stream
  std::uint64_t recorded = 0;   // releases up to this release_seq are covered by the fence
  std::uint64_t completed = 0;  // releases up to this release_seq have completed
  std::size_t pending = 0;      // lazily released chunks not yet reused or settled
};

class stream_fences {
 public:
  static constexpr std::uint64_t all = std::numeric_limits<std::uint64_t>::max();

  /// @brief A chunk released lazily on `s` as release `seq`. May drop the records of streams
  /// with nothing pending, their events going back to `events`.
  void note_release(const stream_ref& s, std::uint64_t seq, event_pool& events) {
    stream_fence* f = find(s.id());
    if (f == nullptr) f = &add(s, events);
    f->last = seq;
    ++f->pending;
  }
  /// @brief A lazily released chunk was reused or settled (it is no longer pending).
  void left_pending(std::uint64_t stream_id) noexcept {
    if (stream_fence* f = find(stream_id)) --f->pending;
  }
  /// @brief A chunk taken for a device-side wait went back to its pending list as release `seq`
  /// (it still counted as pending meanwhile).
  void restored(std::uint64_t stream_id, std::uint64_t seq) noexcept;

  /// @brief The record of stream `id`; null when none (nothing released lazily on it pending).
  /// The last record found is remembered (a pool mostly works on one stream at a time: a
  /// same-stream round trip asks twice), so it costs no hash lookup; records are erased only by
  /// `prune`, which forgets it.
  stream_fence* find(std::uint64_t id) noexcept {
    if (last_ != nullptr && last_id_ == id) return last_;
    const auto it = streams_.find(id);
    if (it == streams_.end()) return nullptr;
    last_id_ = id;
    last_ = &it->second;  // unordered_map nodes keep their address until erased
    return last_;
  }
  /// @brief Streams with a record (tests).
  std::size_t size() const noexcept { return streams_.size(); }
  /// @brief Whether the lazy release `c` is known to have completed (no backend call).
  bool completed(const chunk& c) noexcept {
    const stream_fence* f = find(c.release_stream);
    return f != nullptr && c.release_seq <= f->completed;
  }
  /// @brief Records of streams whose fence does not cover their latest release (`fence_all`).
  template <class Fn>
  void for_each_unfenced(Fn&& fn) {
    for (auto& [id, f] : streams_) {
      if (f.pending != 0 && f.recorded < f.last && f.completed < f.last) fn(id, f);
    }
  }
  template <class Fn>
  void for_each(Fn&& fn) {
    for (auto& [id, f] : streams_) fn(id, f);
  }

 private:
  stream_fence& add(const stream_ref& s, event_pool& events);
  void prune(event_pool& events);

  std::unordered_map<std::uint64_t, stream_fence> streams_;
  stream_fence* last_ = nullptr;  // the record `find` returned last (null after `prune`)
  std::uint64_t last_id_ = 0;
  std::size_t prune_above_ = 64;  // prune when this many streams have records
};

}  // namespace pinpool::detail
