#pragma once
// The pool's raw-pointer index (internal): from a pointer handed out by `pool::allocate` to its
// chunk record in O(1), without the pool's lock.
//
// A radix table (as tcmalloc's page map) keyed by `address >> log2(alignment)`: four levels of
// 2,048 entries cover a 48-bit address space. Every pointer the pool hands out is a multiple of
// its alignment and lies inside its chunk, and chunks do not overlap, so each such pointer has a
// key of its own: the table maps it straight to the chunk record, with no slab step (slabs are
// neither aligned nor of one size: cudaMalloc, mmap and the growth ramp decide) and no per-slab
// offset table.
//
// Rules that make the lock-free paths safe:
// - An entry is non-null exactly while its chunk is out as a raw pointer: `insert` at
//   allocation, `take` (one atomic exchange) at deallocation. Only the winner of that exchange
//   gets the record, so a double free, even two racing on two threads, gives one caller the
//   chunk and the other null.
// - A chunk out as a raw pointer is in use, so its slab can be neither re-carved nor trimmed, and
//   its record is not reused, while the entry is set. The index knows nothing of slabs: slab
//   creation and trimming never touch it.
// - Nodes are installed with a compare-exchange and never freed before the index is destroyed
//   (with the pool's core, when no chunk is out), so a reader never follows a pointer to freed
//   memory. Memory: a 16 KiB leaf per 2,048 * alignment bytes of address space (512 KiB at the
//   default 256) in which a raw pointer was ever handed out, plus the nodes above it (16 KiB
//   each); pools that never hand out raw pointers allocate nothing.
// - `insert` publishes with release and `take`/`find` read with acquire: a thread that takes a
//   record sees every write the allocating thread made to it before the insert.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pinpool::detail {

struct chunk;

class raw_index {
 public:
  /// @param alignment the pool's chunk alignment (a power of two, at least 16).
  explicit raw_index(std::size_t alignment) noexcept;
  ~raw_index();
  raw_index(const raw_index&) = delete;
  raw_index& operator=(const raw_index&) = delete;

  /// @brief Maps `p` (a multiple of the alignment, inside `c`, not mapped now) to `c`.
  /// @return false when `p` is beyond the 48-bit range the index covers.
  /// @throws std::bad_alloc when a node cannot be allocated.
  bool insert(const void* p, chunk* c) {
    std::atomic<void*>* e = existing_entry(p);
    if (e == nullptr) e = new_entry(p);
    if (e == nullptr) return false;
    e->store(c, std::memory_order_release);
    return true;
  }
  /// @brief The chunk `p` is mapped to, or null (never mapped, taken, misaligned, out of range).
  chunk* find(const void* p) const noexcept {
    std::atomic<void*>* e = existing_entry(p);
    return e != nullptr ? static_cast<chunk*>(e->load(std::memory_order_acquire)) : nullptr;
  }
  /// @brief Unmaps `p` and returns its chunk; null when `p` is not mapped (one winner per insert).
  chunk* take(const void* p) noexcept {
    std::atomic<void*>* e = existing_entry(p);
    if (e == nullptr || e->load(std::memory_order_relaxed) == nullptr) return nullptr;
    return static_cast<chunk*>(e->exchange(nullptr, std::memory_order_acq_rel));
  }
  /// @brief Maps `p` to `c` again after a `take` whose caller could not go on. @pre as insert's.
  void restore(const void* p, chunk* c) noexcept {
    if (std::atomic<void*>* e = existing_entry(p)) e->store(c, std::memory_order_release);
  }

  static constexpr unsigned level_bits = 11;
  static constexpr unsigned levels = 4;
  static constexpr unsigned address_bits = 48;

 private:
  static constexpr std::size_t fanout = std::size_t{1} << level_bits;
  static constexpr std::uintptr_t mask = fanout - 1;
  struct node {
    std::array<std::atomic<void*>, fanout> slot{};
  };
  static node* child(std::atomic<void*>& s) noexcept {
    return static_cast<node*>(s.load(std::memory_order_acquire));
  }
  /// @brief The leaf entry of `p`, or null when out of range, misaligned or not built. The hot
  /// path: four dependent loads, unrolled.
  std::atomic<void*>* existing_entry(const void* p) const noexcept {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    if ((address & misaligned_) != 0 || (address >> address_bits) != 0) return nullptr;
    const std::uintptr_t key = address >> shift_;
    node* n = child(root_);
    if (n == nullptr) return nullptr;
    n = child(n->slot[(key >> (3 * level_bits)) & mask]);
    if (n == nullptr) return nullptr;
    n = child(n->slot[(key >> (2 * level_bits)) & mask]);
    if (n == nullptr) return nullptr;
    n = child(n->slot[(key >> level_bits) & mask]);
    if (n == nullptr) return nullptr;
    return &n->slot[key & mask];
  }
  /// @brief existing_entry, building the missing nodes (slow path, out of line).
  std::atomic<void*>* new_entry(const void* p);
  static void destroy(node* n, unsigned depth) noexcept;

  const unsigned shift_;
  const std::uintptr_t misaligned_;
  mutable std::atomic<void*> root_{nullptr};  // the top node, built at the first insert
};

}  // namespace pinpool::detail
