#pragma once
/// @file gaussian.hpp
/// @brief Gaussian blur parameters shared by the CPU and CUDA launchers: radius and scratch size.

#include <cstddef>

namespace pinpool::kernels {

/// @brief The largest blur radius (sigma up to 512 / 3, about 170.7). Both launchers have it,
/// so a sigma accepted by one is accepted by the other.
inline constexpr int max_blur_radius = 512;

/// @brief The kernel radius for `sigma`: ceil(3 sigma) (kernel size 2 radius + 1, as one would
/// pass to cv::GaussianBlur).
/// @throws std::invalid_argument unless sigma is finite, > 0 and the radius <= max_blur_radius.
int blur_radius(float sigma);

/// @brief Bytes of the scratch buffer a blur of a width x height image needs: width * height
/// 16-bit values (the horizontal pass in fixed point), rounded up to a multiple of 4.
/// @throws std::invalid_argument unless width >= 1 and height >= 1.
std::size_t blur_scratch_bytes(int width, int height);

}  // namespace pinpool::kernels
