#pragma once
// Host-side helpers shared by the CPU and the CUDA launchers: argument checks and the Gaussian
// taps. Compiled by the host compiler only (no CUDA header).

#include "pixel_ops.hpp"

#include <pinpool/kernels/image_view.hpp>

#include <string>

namespace pinpool::kernels::detail {

/// Checks a gray conversion: src 1, 3 or 4 channels; dst 1 channel of the same size.
/// @throws std::invalid_argument naming `who` and the first bad argument.
void check_gray_args(const char* who, const const_image_view& src, const image_view& dst);

/// Checks a 1-channel to 1-channel kernel (blur, sobel, equalize): both 1 channel, same size.
/// @throws std::invalid_argument naming `who` and the first bad argument.
void check_mono_args(const char* who, const const_image_view& src, const image_view& dst);

/// Checks an equalisation's size: at most `equalize_max_pixels` pixels.
/// @throws std::invalid_argument naming `who`, the size and the limit.
void check_equalize_size(const char* who, const const_image_view& src);

/// Throws std::invalid_argument naming `who` and `what` when `p` is null.
void check_not_null(const char* who, const char* what, const void* p);

/// Why `sigma` is unusable (not finite, <= 0, radius above max_blur_radius); empty when usable.
std::string sigma_problem(float sigma);

/// ceil(3 sigma), computed in double. @pre sigma_problem(sigma) is empty.
int radius_of(float sigma);

/// The normalised weights for `sigma` (radius `blur_radius(sigma)`), computed in double.
/// @throws std::invalid_argument for a bad sigma, naming `who`.
gaussian_taps make_gaussian_taps(const char* who, float sigma);

}  // namespace pinpool::kernels::detail
