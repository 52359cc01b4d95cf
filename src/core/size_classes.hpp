#pragma once
// Size classes: multiples of `alignment` up to classes_per_doubling * alignment, then
// classes_per_doubling geometric steps per power of two. Waste <= 1/classes_per_doubling of the
// request above the linear range; below it, less than one alignment unit.

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
  std::size_t max_request() const noexcept { return max_request_; }
  /// @brief Class index of a request. @pre 0 < bytes <= max_request().
  std::uint32_t index_of(std::size_t bytes) const noexcept;
  /// @brief The chunk size of class `index`.
  std::size_t chunk_bytes(std::uint32_t index) const noexcept;
  /// @brief How many classes exist (indexes are below this).
  std::uint32_t count() const noexcept { return count_; }

 private:
  unsigned align_log2_;
  unsigned per_log2_;
  unsigned linear_log2_;  // log2(alignment * per_doubling): end of the linear range
  std::size_t max_request_;
  std::uint32_t count_;
};

// Inline: on every acquisition's path.
inline std::uint32_t size_classes::index_of(std::size_t bytes) const noexcept {
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

}  // namespace pinpool::detail
