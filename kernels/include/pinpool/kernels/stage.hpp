#pragma once
/// @file stage.hpp
/// @brief `stage`: the image kernels by name, for command lines and reports.

#include <optional>
#include <string_view>

namespace pinpool::kernels {

/// @brief One image kernel (see cpu.hpp for what each computes).
enum class stage { gray, blur, sobel, equalize };

/// @brief "gray", "blur", "sobel" or "equalize".
const char* to_string(stage s) noexcept;

/// @brief The stage named `name` (exact, lower case, as `to_string` spells it); empty otherwise.
std::optional<stage> parse_stage(std::string_view name) noexcept;

}  // namespace pinpool::kernels
