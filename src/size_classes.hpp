#pragma once
// Size classes: multiples of `alignment` up to classes_per_doubling * alignment, then
// classes_per_doubling geometric steps per power of two. Waste <= 1/classes_per_doubling of the
// request above the linear range; below it, less than one alignment unit.

#include <cstddef>
#include <cstdint>

namespace pinpool::detail {

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

}  // namespace pinpool::detail
