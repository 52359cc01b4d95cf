#pragma once
// The pool's memory (internal): slabs from the backend, carved by bump allocation into chunks of
// any size class, and the chunk records. Decides how much to grow under the cap; re-carves slabs
// whose chunks are all idle; hands idle slabs back for trimming. Not thread-safe: the pool calls
// it under its lock, and calls the backend itself (without the lock) between `reserve` and
// `adopt`. Returning slabs to the backend is the owner's job (`slabs()` at teardown).

#include "chunk.hpp"
#include "size_classes.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/pool_stats.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace pinpool::detail {

class slab_arena {
 public:
  /// @param max_bytes the cap on reserved bytes (0 = none). @pre validated options.
  /// @param first_slab the first slab's size (pool_options::first_slab_bytes); 0: slab_bytes.
  slab_arena(const size_classes& sizes, std::size_t alignment, std::size_t slab_bytes,
             std::size_t max_bytes, std::size_t first_slab = 0);

  /// @brief A new chunk of class `cls` from the first slab with room; null when none has.
  chunk* carve(std::uint32_t cls);
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

  /// @brief Slabs whose chunks are all idle start again from an empty carve (no backend call),
  /// so memory parked in one class can serve another. `forget` is called for each dropped chunk
  /// record first (to unlink it from its list). @return whether any slab was re-carved.
  bool recarve_idle(const std::function<void(chunk*)>& forget);
  /// @brief Removes the idle slabs (after `forget` for each of their chunks) and gives them to
  /// the caller, which returns them to the backend. Their bytes are no longer reserved.
  /// @throws std::bad_alloc, keeping every slab (reordered at most).
  std::vector<std::unique_ptr<slab_record>> remove_idle(const std::function<void(chunk*)>& forget);

  const std::vector<std::unique_ptr<slab_record>>& slabs() const noexcept { return slabs_; }
  std::size_t bytes_reserved() const noexcept { return reserved_; }
  /// @brief Chunks of class `cls` carved and not dropped.
  std::size_t chunks_of(std::uint32_t cls) const noexcept { return per_class_[cls]; }
  /// @brief Bytes and slabs held per read-back NUMA node (host and pinned_host slabs),
  /// ascending by node.
  std::vector<numa_node_stats> numa_nodes() const;
  /// @brief Whether every pinned slab so far was really page-locked.
  bool all_page_locked() const noexcept { return all_locked_; }

 private:
  void drop_chunks(slab_record& s, const std::function<void(chunk*)>& forget);
  chunk* new_record();

  const size_classes& sizes_;
  const std::size_t alignment_;
  const std::size_t slab_bytes_;
  const std::size_t first_slab_;
  const std::size_t max_bytes_;
  std::size_t reserved_ = 0;
  bool all_locked_ = true;
  std::vector<std::unique_ptr<slab_record>> slabs_;
  std::vector<std::size_t> per_class_;
  std::deque<chunk> records_;  // stable addresses
  std::vector<chunk*> spare_records_;
};

}  // namespace pinpool::detail
