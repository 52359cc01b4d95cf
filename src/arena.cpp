#include <pinpool/arena.hpp>
#include <pinpool/error.hpp>
#include <pinpool/pool.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace pinpool {

arena::arena(pool& p, std::size_t capacity) : chunk_(p.acquire(capacity)) {}

arena::arena(pool& p, std::size_t capacity, stream_ref s) : chunk_(p.acquire(capacity, s)) {}

void* arena::allocate(std::size_t bytes, std::size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw std::invalid_argument("pinpool: arena: alignment " + std::to_string(alignment) +
                                " is not a power of two");
  }
  const auto base = reinterpret_cast<std::uintptr_t>(chunk_.data());
  const std::uintptr_t start = (base + used_ + alignment - 1) & ~(alignment - 1);
  const std::size_t offset = start - base;
  if (chunk_.empty() || offset > capacity() || bytes > capacity() - offset) {
    throw out_of_memory("pinpool: arena of " + std::to_string(capacity()) + " bytes (" +
                        std::to_string(used_) + " used) cannot fit " + std::to_string(bytes) +
                        " more bytes aligned to " + std::to_string(alignment));
  }
  used_ = offset + bytes;
  return static_cast<std::byte*>(chunk_.data()) + offset;
}

}  // namespace pinpool
