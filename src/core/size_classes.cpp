#include "size_classes.hpp"

namespace pinpool::detail {
size_classes::size_classes(std::size_t alignment, unsigned per_doubling) noexcept
    : align_log2_(log2_floor(alignment)),
      per_log2_(log2_floor(per_doubling)),
      linear_log2_(align_log2_ + per_log2_),
      max_request_(std::size_t{1} << 62),
      count_(index_of(max_request_) + 1) {}

std::size_t size_classes::chunk_bytes(std::uint32_t index) const noexcept {
  const std::size_t per = std::size_t{1} << per_log2_;
  if (index < per) return (std::size_t{index} + 1) << align_log2_;
  const std::size_t rel = index - per;
  const unsigned e = linear_log2_ + static_cast<unsigned>(rel / per);
  const std::size_t steps = per + rel % per + 1;
  return steps << (e - per_log2_);
}

}  // namespace pinpool::detail
