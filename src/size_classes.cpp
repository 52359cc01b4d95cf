#include "size_classes.hpp"

namespace pinpool::detail {
namespace {
unsigned log2_floor(std::size_t v) noexcept {
  return static_cast<unsigned>(63 - __builtin_clzll(static_cast<unsigned long long>(v)));
}
}  // namespace

size_classes::size_classes(std::size_t alignment, unsigned per_doubling) noexcept
    : align_log2_(log2_floor(alignment)),
      per_log2_(log2_floor(per_doubling)),
      linear_log2_(align_log2_ + per_log2_),
      max_request_(std::size_t{1} << 62),
      count_(index_of(max_request_) + 1) {}

std::uint32_t size_classes::index_of(std::size_t bytes) const noexcept {
  const std::size_t per = std::size_t{1} << per_log2_;
  if (bytes <= (std::size_t{1} << linear_log2_)) {
    return static_cast<std::uint32_t>(((bytes - 1) >> align_log2_));  // 0 .. per-1
  }
  // Class k of doubling e (2^e < bytes <= 2^(e+1)) has size 2^e + k * 2^(e - per_log2).
  const unsigned e = log2_floor(bytes - 1);
  const unsigned step_log2 = e - per_log2_;
  const std::size_t steps = ((bytes - 1) >> step_log2) + 1;  // in (per, 2 * per]
  return static_cast<std::uint32_t>(per + (e - linear_log2_) * per + (steps - per) - 1);
}

std::size_t size_classes::chunk_bytes(std::uint32_t index) const noexcept {
  const std::size_t per = std::size_t{1} << per_log2_;
  if (index < per) return (std::size_t{index} + 1) << align_log2_;
  const std::size_t rel = index - per;
  const unsigned e = linear_log2_ + static_cast<unsigned>(rel / per);
  const std::size_t steps = per + rel % per + 1;
  return steps << (e - per_log2_);
}

}  // namespace pinpool::detail
