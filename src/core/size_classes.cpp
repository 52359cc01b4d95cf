#include "size_classes.hpp"

#include <cstdint>

namespace pinpool::detail {
size_classes::size_classes(std::size_t alignment, unsigned per_doubling) noexcept
    : align_log2_(log2_floor(alignment)),
      per_log2_(log2_floor(per_doubling)),
      linear_log2_(align_log2_ + per_log2_) {
  static_assert(max_request_bytes == std::size_t{1} << 62, "rows 62 and 63 are the invalid sizes");
  for (unsigned e = 0; e < 62; ++e) {
    rows_[e] = e < linear_log2_ ? row{0, align_log2_}
                                : row{(e - linear_log2_) << per_log2_, e - per_log2_};
  }
  rows_[62] = rows_[63] = row{UINT32_MAX - 1, 63};  // (bytes - 1) >> 63 is 0 or 1
  count_ = index_of(max_request_bytes) + 1;
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
