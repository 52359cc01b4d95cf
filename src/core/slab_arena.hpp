#pragma once
// The pool's memory (internal): slabs from the backend, carved into chunks of any size class, and
// the chunk records. A slab's space not in a chunk is free space (extents, adjacent ones merged);
// a chunk is carved best-fit from the smallest free extent that holds it, across all slabs. Idle
// chunks can be given back to free space (`dissolve_idle`), so memory parked in one class can
// serve another, however the classes' sizes fall. Decides how much to grow under the cap; hands
// idle slabs back for trimming. Not thread-safe: the pool calls it under its lock, and calls the
// backend itself (without the lock) between `reserve` and `adopt`. Returning slabs to the
// backend is the owner's job (`slabs()` at teardown).

#include "chunk.hpp"
#include "size_classes.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/pool_stats.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <vector>

namespace pinpool::detail {

class slab_arena {
 public:
  /// @param max_bytes the cap on reserved bytes (0 = none). @pre validated options.
  /// @param first_slab the first slab's size (pool_options::first_slab_bytes); 0: slab_bytes.
  slab_arena(const size_classes& sizes, std::size_t alignment, std::size_t slab_bytes,
             std::size_t max_bytes, std::size_t first_slab = 0);

  /// @brief A new chunk of class `cls` from the smallest free extent that holds it (the oldest
  /// slab's, lowest address, among equals); null when none does.
  chunk* carve(std::uint32_t cls);
  /// @brief The same from slab `s` alone (a new slab: @pre it has room).
  chunk* carve_from(slab_record& s, std::uint32_t cls);

  /// @brief The size of the next slab for a chunk of `cls`: the first slab's size doubled once
  /// per slab the arena holds, at most slab_bytes (or the chunk itself when larger), shrunk to
  /// fit under the cap; 0 when the cap leaves no room for the chunk.
  std::size_t growth_bytes(std::uint32_t cls) const noexcept;
  /// @brief Counts `bytes` as reserved before the backend is asked (so concurrent growth
  /// respects the cap); `unreserve` takes them back when the backend failed.
  void reserve(std::size_t bytes) noexcept { reserved_ += bytes; }
  void unreserve(std::size_t bytes) noexcept { reserved_ -= bytes; }
  /// @brief Takes ownership of a slab the backend provided (its bytes were reserved).
  slab_record& adopt(const slab& mem, void* nvtx_heap);

  /// @brief Gives every idle chunk (state `ready`) back to its slab's free space, merged with
  /// the free space around it (no backend call). `forget` is called for each such chunk record
  /// first (to unlink it from its list). @return whether any chunk was given back.
  bool dissolve_idle(const std::function<void(chunk*)>& forget);
  /// @brief Removes the idle slabs (after `forget` for each of their chunks) and gives them to
  /// the caller, which returns them to the backend. Their bytes are no longer reserved.
  /// @throws std::bad_alloc, keeping every slab (reordered at most).
  std::vector<std::unique_ptr<slab_record>> remove_idle(const std::function<void(chunk*)>& forget);

  const std::vector<std::unique_ptr<slab_record>>& slabs() const noexcept { return slabs_; }
  std::size_t bytes_reserved() const noexcept { return reserved_; }
  /// @brief Bytes of free space, in all slabs (not in any chunk).
  std::size_t bytes_free() const noexcept { return free_bytes_; }
  /// @brief Chunks of class `cls` carved and not dropped.
  std::size_t chunks_of(std::uint32_t cls) const noexcept { return per_class_[cls]; }
  /// @brief Bytes and slabs held per read-back NUMA node (host and pinned_host slabs),
  /// ascending by node.
  std::vector<numa_node_stats> numa_nodes() const;
  /// @brief Whether every pinned slab so far was really page-locked.
  bool all_page_locked() const noexcept { return all_locked_; }

 private:
  // A free extent in the best-fit index: ordered by size, then slab age, then address.
  struct extent {
    std::size_t bytes;
    std::uint64_t serial;
    std::size_t offset;
    slab_record* slab;
    bool operator<(const extent& o) const noexcept {
      if (bytes != o.bytes) return bytes < o.bytes;
      if (serial != o.serial) return serial < o.serial;
      return offset < o.offset;
    }
  };
  /// Adds [offset, offset + bytes) of `s` to its free space, merged with free neighbours.
  void add_free(slab_record& s, std::size_t offset, std::size_t bytes);
  void erase_free(slab_record& s, std::map<std::size_t, std::size_t>::iterator it);
  chunk* carve_at(slab_record& s, std::size_t offset, std::uint32_t cls);
  /// Gives chunk `c` (idle, record of `s`) back to free space; the caller drops it from s.chunks.
  void dissolve(slab_record& s, chunk* c, const std::function<void(chunk*)>& forget);
  void drop_chunks(slab_record& s, const std::function<void(chunk*)>& forget);
  chunk* new_record();

  const size_classes& sizes_;
  const std::size_t alignment_;
  const std::size_t slab_bytes_;
  const std::size_t first_slab_;
  const std::size_t max_bytes_;
  std::size_t reserved_ = 0;
  std::size_t free_bytes_ = 0;
  std::uint64_t next_serial_ = 0;
  std::set<extent> by_size_;  // every slab's free extents
  bool all_locked_ = true;
  std::vector<std::unique_ptr<slab_record>> slabs_;
  std::vector<std::size_t> per_class_;
  std::deque<chunk> records_;  // stable addresses
  std::vector<chunk*> spare_records_;
};

}  // namespace pinpool::detail
