#pragma once
// A small JSON reader, enough for rank 0 to read the other ranks' reports (run_report::to_json):
// objects, arrays, strings (with \uXXXX escapes of the basic plane), numbers, true, false, null.

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pinpool::pipeline {

struct json_value {
  enum class type { null, boolean, number, string, array, object };
  type kind = type::null;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::vector<json_value> items;                            ///< array
  std::vector<std::pair<std::string, json_value>> members;  ///< object, in file order

  /// @brief The member `key` of an object, or nullptr (also when this is no object).
  const json_value* find(std::string_view key) const;
  /// @brief The number at `key`, or `fallback` when absent or not a number.
  double number_at(std::string_view key, double fallback = 0) const;
  /// @brief The string at `key`, or "" when absent or not a string.
  std::string text_at(std::string_view key) const;
};

/// @brief Parses `text`. @throws std::runtime_error naming the offset of the first error.
json_value parse_json(std::string_view text);

}  // namespace pinpool::pipeline
