#pragma once
/// @file detail/json.hpp
/// @brief A JSON string literal of `s` (quotes, backslashes and control characters escaped).
/// Internal: shared by pool_stats::to_json and the sample's report.

#include <array>
#include <cstdio>
#include <string>

namespace pinpool::detail {

inline std::string json_quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      std::array<char, 8> esc{};
      std::snprintf(esc.data(), esc.size(), "\\u%04x", static_cast<unsigned>(ch));
      out += esc.data();
    } else {
      out += ch;
    }
  }
  return out + '"';
}

}  // namespace pinpool::detail
