#pragma once
// Text helpers of the trace collector (internal): wide strings to UTF-8, JSON string escaping.

#include <string>
#include <string_view>

namespace pinpool::trace::detail {

/// @brief A wide (UTF-32 on Linux) string as UTF-8; invalid code points become U+FFFD.
std::string to_utf8(const wchar_t* text);

/// @brief Appends `text` to `out` as a JSON string literal (with the quotes). Invalid UTF-8
/// sequences become U+FFFD so that the output is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace pinpool::trace::detail
