#pragma once
// Size classes: multiples of `alignment` up to classes_per_doubling * alignment, then
// classes_per_doubling geometric steps per power of two. Waste <= 1/classes_per_doubling of the
// request above the linear range; below it, less than one alignment unit.

#include <array>
#include <cstddef>
#include <cstdint>

namespace pinpool::detail {

inline unsigned log2_floor(std::size_t v) noexcept {
  return static_cast<unsigned>(63 - __builtin_clzll(static_cast<unsigned long long>(v)));
}

class size_classes {
 public:
  /// @pre alignment and per_doubling are powers of two, alignment >= 16, 1 <= per_doubling <= 64.
  size_classes(std::size_t alignment, unsigned per_doubling) noexcept;

  /// @brief The largest request any class can hold.
  static constexpr std::size_t max_request_bytes = std::size_t{1} << 62;
  std::size_t max_request() const noexcept { return max_request_; }
  /// @brief Class index of a request, for 0 < bytes <= max_request(); for any other `bytes`
  /// (0 or above max_request) an index no class has (>= count()), so that a lookup by class
  /// finds nothing without a separate range check.
  std::uint32_t index_of(std::size_t bytes) const noexcept;
  /// @brief The chunk size of class `index`.
  std::size_t chunk_bytes(std::uint32_t index) const noexcept;
  /// @brief How many classes exist (indexes are below this).
  std::uint32_t count() const noexcept { return count_; }

 private:
  unsigned align_log2_;
  unsigned per_log2_;
  unsigned linear_log2_;  // log2(alignment * per_doubling): end of the linear range
  std::size_t max_request_ = max_request_bytes;
  std::uint32_t count_;
  // index_of's table, one row per bit length e of bytes - 1 (e = log2_floor(bytes - 1)).
  // Linear range (e < linear_log2): (bytes - 1) >> align_log2. Above it, for
  // 2^e < bytes <= 2^(e+1), the smallest class size 2^e + m * 2^(e - per_log2) >= bytes has
  // m = ((bytes - 1) >> (e - per_log2)) - per + 1 (1..per), and the class index is
  // per + (e - linear_log2) * per + m - 1: that shift plus base = (e - linear_log2) * per.
  // Rows 62 and 63 (bytes 0 or above max_request = 2^62): 2^32 - 2 or 2^32 - 1, never a class.
  struct row {
    std::uint32_t base;
    std::uint32_t shift;
  };
  std::array<row, 64> rows_;
};

// Inline: on every acquisition's path. One table row per bit length, no branch: for
// x = bytes - 1 and e = log2_floor(x | 1), the class is (x >> shift) + base of row e.
inline std::uint32_t size_classes::index_of(std::size_t bytes) const noexcept {
  const std::size_t x = bytes - 1;  // wraps for 0
  const row& r = rows_[63U ^ static_cast<unsigned>(__builtin_clzll(x | 1))];
  return static_cast<std::uint32_t>(x >> r.shift) + r.base;
}

}  // namespace pinpool::detail
