#include "launcher_support.hpp"

#include <pinpool/kernels/gaussian.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pinpool::kernels {

int blur_radius(float sigma) {
  const std::string problem = detail::sigma_problem(sigma);
  if (!problem.empty()) throw std::invalid_argument("pinpool::kernels::blur_radius: " + problem);
  return detail::radius_of(sigma);
}

std::size_t blur_scratch_bytes(int width, int height) {
  if (width < 1 || height < 1) {
    throw std::invalid_argument("pinpool::kernels::blur_scratch_bytes: " + std::to_string(width) +
                                " x " + std::to_string(height) +
                                " (width and height must be >= 1)");
  }
  // One 16-bit value per pixel (the horizontal pass), rounded up to a multiple of 4 bytes so that
  // a caller sizing a float array by bytes / sizeof(float) gets enough.
  const std::size_t bytes =
      static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * sizeof(std::uint16_t);
  return (bytes + 3) / 4 * 4;
}

}  // namespace pinpool::kernels
