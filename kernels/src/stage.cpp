#include <pinpool/kernels/stage.hpp>

namespace pinpool::kernels {

const char* to_string(stage s) noexcept {
  switch (s) {
    case stage::gray:
      return "gray";
    case stage::blur:
      return "blur";
    case stage::sobel:
      return "sobel";
    case stage::equalize:
      return "equalize";
  }
  return "unknown";
}

std::optional<stage> parse_stage(std::string_view name) noexcept {
  for (stage s : {stage::gray, stage::blur, stage::sobel, stage::equalize}) {
    if (name == to_string(s)) return s;
  }
  return std::nullopt;
}

}  // namespace pinpool::kernels
