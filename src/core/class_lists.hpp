#pragma once
// Per size class, the chunks nobody holds (internal): `ready` ones are idle now; `pending` ones
// were released on streams whose release events may not have completed. Implements the reuse
// policy's lookups: an idle chunk, one released on the asking stream itself (stream order makes
// it safe), the candidates worth asking whether their release completed (the pool asks without
// its lock, then `take_pending`), the oldest pending one (for a device-side wait).
//
// Not thread-safe: the pool calls it under its lock. Events of chunks leaving the pending list
// go back to the event_pool, except for `take_oldest_pending`, whose caller still waits on them.
// `settle`'s predicate says whether a chunk's release events completed (it queries the backend).

#include "chunk.hpp"
#include "chunk_list.hpp"
#include "event_pool.hpp"
#include "stream_fences.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pinpool::detail {

struct class_state {
  chunk_list ready;    // reusable by anyone now (LIFO: the warmest first)
  chunk_list pending;  // released on streams, in release order (FIFO)
  std::size_t in_use = 0;
  std::uint64_t acquisitions = 0;
  std::uint64_t hits = 0;
  bool used = false;  // listed in class_lists::used()
};

class class_lists {
 public:
  class_lists(std::uint32_t count, event_pool& events, stream_fences& fences)
      : classes_(count), events_(events), fences_(fences) {
    used_.reserve(count);  // inserting into used_ never allocates, so never throws
  }

  class_state& operator[](std::uint32_t cls) noexcept { return classes_[cls]; }
  const class_state& operator[](std::uint32_t cls) const noexcept { return classes_[cls]; }
  std::uint32_t count() const noexcept { return static_cast<std::uint32_t>(classes_.size()); }
  /// @brief Bytes of the chunks on pending lists.
  std::size_t bytes_pending() const noexcept { return bytes_pending_; }
  /// @brief Bytes of the chunks on ready lists (idle).
  std::size_t bytes_ready() const noexcept { return bytes_ready_; }
  /// @brief Counts an acquisition of `cls` (on the pool's lists, not a thread cache's).
  void count_acquisition(std::uint32_t cls) noexcept;
  /// @brief The classes ever acquired from or released to the lists, ascending: only they can
  /// hold chunks, so settling and stats walk them instead of every class (hundreds, mostly
  /// empty).
  const std::vector<std::uint32_t>& used() const noexcept { return used_; }

  /// @brief An idle chunk of `cls` (counted live in its slab again), or null.
  chunk* take_ready(std::uint32_t cls) noexcept;
  /// @brief The oldest chunk of `cls` released on the stream with identity `stream_id` (not 0)
  /// alone, or null.
  chunk* take_same_stream(std::uint32_t cls, std::uint64_t stream_id);
  /// @brief Up to `max` pending chunks of `cls` worth asking about, oldest first: the first
  /// chunk of each release stream (a later release on a stream cannot complete before an
  /// earlier one), and every chunk released on several or unidentified streams. Looks at no more
  /// than `max_scan` list entries. `out` is cleared first.
  void candidates(std::uint32_t cls, std::vector<chunk*>& out, std::size_t max,
                  std::size_t max_scan = 64) const;
  /// @brief Takes pending chunk `c` off its list (its events back to the event pool).
  /// A chunk leaves a pending list with `release_seq` 0.
  chunk* take_pending(chunk* c) { return unpend(classes_[c->cls], c); }
  /// @brief The oldest pending chunk of `cls`, its events kept for the caller's device-side
  /// wait (`restore_pending` puts it back if that fails); null when none is pending. A lazy
  /// chunk still counts as pending on its stream's fence until the caller says otherwise.
  chunk* take_oldest_pending(std::uint32_t cls, std::uint64_t& release_seq) noexcept;
  void restore_pending(chunk* c) noexcept;

  /// @brief A chunk released on streams (its events recorded, or `lazy`: none, see
  /// stream_fences): pending from now on. `release_stream`: the identity of its only release
  /// stream, or 0. Returns its release_seq.
  std::uint64_t add_pending(chunk* c, std::uint64_t release_stream, bool lazy) noexcept;
  /// @brief The release_seq of the latest release (a fence recorded now covers it).
  std::uint64_t last_release_seq() const noexcept { return releases_; }
  /// @brief A chunk no work touches: idle, first in line for its class.
  void make_idle(chunk* c) noexcept;
  /// @brief Moves every pending chunk whose release completed to its ready list. Once a chunk
  /// of a release stream is not done, later chunks of that stream are not asked about.
  template <class Done>
  void settle(Done&& done);
  /// @brief Unlinks an idle chunk given back to free space or whose slab is freed.
  void forget(chunk* c) noexcept {
    classes_[c->cls].ready.erase(c);
    bytes_ready_ -= c->bytes;
  }

 private:
  chunk* unpend(class_state& k, chunk* c);
  void mark_used(std::uint32_t cls) noexcept;

  std::vector<class_state> classes_;
  std::vector<std::uint32_t> used_;  // ascending
  event_pool& events_;
  stream_fences& fences_;  // counts lazily released chunks leaving the pending lists
  std::size_t bytes_pending_ = 0;
  std::size_t bytes_ready_ = 0;
  std::uint64_t releases_ = 0;  // numbers the releases (chunk::release_seq)
};

/// Release streams seen not done during one walk of a pending list (a few; more are not
/// remembered, which only costs extra questions).
class not_done_streams {
 public:
  bool contains(std::uint64_t id) const noexcept {
    for (std::size_t i = 0; i < n_; ++i) {
      if (ids_[i] == id) return true;
    }
    return false;
  }
  void add(std::uint64_t id) noexcept {
    if (id != 0 && n_ < capacity) ids_[n_++] = id;
  }

 private:
  static constexpr std::size_t capacity = 16;
  std::array<std::uint64_t, capacity> ids_{};
  std::size_t n_ = 0;
};

template <class Done>
void class_lists::settle(Done&& done) {
  if (bytes_pending_ == 0) return;
  for (const std::uint32_t cls : used_) {
    class_state& k = classes_[cls];
    not_done_streams waiting;
    for (chunk* c = k.pending.front(); c != nullptr;) {
      chunk* next = c->next;
      if (c->release_stream == 0 || !waiting.contains(c->release_stream)) {
        if (done(*c)) {
          make_idle(unpend(k, c));
        } else {
          waiting.add(c->release_stream);
        }
      }
      c = next;
    }
  }
}

}  // namespace pinpool::detail
