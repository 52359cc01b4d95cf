#pragma once
/// @file cpu.hpp
/// @brief The CPU launchers of the image kernels (OpenCV conventions: BT.601 grey, Gaussian
/// radius ceil(3 sigma), BORDER_REFLECT_101 edges, 8-bit results rounded and saturated).
///
/// Every launcher runs on the calling thread with help from the worker pool
/// (`cpu_parallel_for`) and returns when the result is written: nothing is left running.
/// Launchers may be called concurrently from any threads on distinct outputs.
/// Arguments are checked first: images at least 1 x 1, channels in {1, 3, 4}, pitch >=
/// width * channels, non-null data, destination 1 channel of the source's size; a violation
/// throws std::invalid_argument naming the launcher and the argument, and writes nothing.

#include <pinpool/kernels/gaussian.hpp>
#include <pinpool/kernels/image_view.hpp>

namespace pinpool::kernels {

/// @brief Grey from RGB (3 channels) or RGBA (4, alpha ignored): 0.299 R + 0.587 G + 0.114 B
/// rounded, computed as (9798 R + 19235 G + 3735 B + 2^14) >> 15, bit-exact with OpenCV 4's
/// cv::cvtColor(RGB2GRAY / RGBA2GRAY) on 8-bit images. A 1-channel source is copied.
/// @param dst 1 channel, same size; must not overlap `src` unless src is 1 channel.
void gray_cpu(const_image_view src, image_view dst);

/// @brief Separable Gaussian blur of a 1-channel image, radius `blur_radius(sigma)`,
/// reflect-101 borders, bit-exact with cv::GaussianBlur(src, dst, {2r+1, 2r+1}, sigma, sigma,
/// BORDER_REFLECT_101) on 8-bit images (OpenCV 4's fixed-point arithmetic): the weights
/// exp(-x^2 / (2 sigma^2)), normalised, are quantised to 8 fractional bits summing to exactly 256
/// (outermost first, each rounded with the error carried from the one outside it, the centre
/// taking the rest); the horizontal pass keeps the exact 16-bit sums, the vertical pass sums
/// those times the weights (16 fractional bits) and rounds half up.
/// @param dst 1 channel, same size; may be `src` itself (in place).
/// @param scratch at least `blur_scratch_bytes(width, height)` bytes of host memory, owned by the
/// caller, overlapping neither image; its content is overwritten.
/// @throws std::invalid_argument also for a bad sigma (see `blur_radius`) or a null scratch.
void blur_cpu(const_image_view src, image_view dst, float sigma, void* scratch);

/// @brief 3x3 Sobel of a 1-channel image, |gx| + |gy| saturated to 255, reflect-101 borders;
/// equal to cv::Sobel dx and dy (ksize 3) combined as saturate(|gx| + |gy|).
/// @param dst 1 channel, same size; must not overlap `src`.
void sobel_cpu(const_image_view src, image_view dst);

/// @brief Histogram equalisation of a 1-channel image with cv::equalizeHist semantics: with i0
/// the first non-empty bin, lut[i] = round((cdf[i] - cdf[i0]) * 255 / (total - cdf[i0])); an
/// image of a single value is copied.
/// @param dst 1 channel, same size; may be `src` itself (in place).
/// @throws std::invalid_argument also for more than `equalize_max_pixels` pixels.
void equalize_cpu(const_image_view src, image_view dst);

/// @brief The most pixels `equalize_cpu` and `equalize_cuda` accept: 2^31 - 1, as CUB's
/// histogram on the device counts pixels with `int` offsets (both launchers share the limit).
inline constexpr long long equalize_max_pixels = 2147483647;

}  // namespace pinpool::kernels
