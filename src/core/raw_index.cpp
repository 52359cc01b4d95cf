#include "raw_index.hpp"

#include <new>

namespace pinpool::detail {

namespace {
unsigned log2_of(std::size_t power_of_two) noexcept {
  unsigned n = 0;
  while ((std::size_t{1} << n) < power_of_two) ++n;
  return n;
}
}  // namespace

static_assert(raw_index::levels == 4, "existing_entry walks four levels, unrolled");
static_assert(raw_index::level_bits * raw_index::levels + 4 >= raw_index::address_bits,
              "the levels cover the address bits above the smallest alignment (16)");

raw_index::raw_index(std::size_t alignment) noexcept
    : shift_(log2_of(alignment)), misaligned_(alignment - 1) {}

raw_index::~raw_index() {
  destroy(static_cast<node*>(root_.load(std::memory_order_acquire)), 0);
}

// Frees `n` (at `depth`, 0 the top) and the nodes below it.
void raw_index::destroy(node* n, unsigned depth) noexcept {
  if (n == nullptr) return;
  if (depth + 1 < levels) {  // not a leaf (a leaf's slots are chunks)
    for (auto& s : n->slot)
      destroy(static_cast<node*>(s.load(std::memory_order_acquire)), depth + 1);
  }
  delete n;
}

// Walks the path of `p`'s key, top level first, building what is missing. A node is installed
// with a compare-exchange: a thread that loses the race frees its own and follows the winner's.
std::atomic<void*>* raw_index::new_entry(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  if ((address & misaligned_) != 0 || (address >> address_bits) != 0) return nullptr;
  const std::uintptr_t key = address >> shift_;
  std::atomic<void*>* s = &root_;
  for (unsigned depth = 0; depth < levels; ++depth) {
    void* next = s->load(std::memory_order_acquire);
    if (next == nullptr) {
      node* fresh = new node();
      if (s->compare_exchange_strong(next, fresh, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
        next = fresh;
      } else {
        delete fresh;  // another thread installed one: `next` holds it
      }
    }
    const unsigned below = level_bits * (levels - 1 - depth);
    s = &static_cast<node*>(next)->slot[(key >> below) & mask];
  }
  return s;
}

}  // namespace pinpool::detail
