#include "launcher_support.hpp"

#include <pinpool/kernels/cpu.hpp>
#include <pinpool/kernels/gaussian.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace pinpool::kernels::detail {
namespace {

[[noreturn]] void fail(const char* who, const std::string& what) {
  throw std::invalid_argument(std::string("pinpool::kernels::") + who + ": " + what);
}

template <class View>
void check_view(const char* who, const char* name, const View& v) {
  const std::string n(name);
  if (v.data == nullptr) fail(who, n + ".data is null");
  if (v.width < 1 || v.height < 1) {
    fail(who, n + " is " + std::to_string(v.width) + " x " + std::to_string(v.height) +
                  " (width and height must be >= 1)");
  }
  if (v.channels != 1 && v.channels != 3 && v.channels != 4) {
    fail(who, n + ".channels is " + std::to_string(v.channels) + " (must be 1, 3 or 4)");
  }
  const std::size_t row_bytes = static_cast<std::size_t>(v.width) * v.channels;
  if (v.pitch < row_bytes) {
    fail(who, n + ".pitch is " + std::to_string(v.pitch) +
                  " bytes, less than width * channels = " + std::to_string(row_bytes));
  }
}

void check_dst(const char* who, const const_image_view& src, const image_view& dst) {
  check_view(who, "dst", dst);
  if (dst.channels != 1) {
    fail(who, "dst.channels is " + std::to_string(dst.channels) + " (must be 1)");
  }
  if (dst.width != src.width || dst.height != src.height) {
    fail(who, "dst is " + std::to_string(dst.width) + " x " + std::to_string(dst.height) +
                  ", src is " + std::to_string(src.width) + " x " + std::to_string(src.height) +
                  " (sizes must match)");
  }
}

}  // namespace

void check_gray_args(const char* who, const const_image_view& src, const image_view& dst) {
  check_view(who, "src", src);
  check_dst(who, src, dst);
}

void check_mono_args(const char* who, const const_image_view& src, const image_view& dst) {
  check_view(who, "src", src);
  if (src.channels != 1) {
    fail(who, "src.channels is " + std::to_string(src.channels) +
                  " (must be 1; convert with gray first)");
  }
  check_dst(who, src, dst);
}

void check_equalize_size(const char* who, const const_image_view& src) {
  const long long pixels = static_cast<long long>(src.width) * src.height;
  if (pixels > equalize_max_pixels) {
    fail(who, "src is " + std::to_string(src.width) + " x " + std::to_string(src.height) + " = " +
                  std::to_string(pixels) + " pixels, more than equalize_max_pixels = " +
                  std::to_string(equalize_max_pixels) + " (2^31 - 1)");
  }
}

std::string sigma_problem(float sigma) {
  std::ostringstream text;
  text << "sigma is " << sigma;
  if (!std::isfinite(sigma) || sigma <= 0.0f) {
    text << " (must be finite and > 0)";
    return text.str();
  }
  const double radius = std::ceil(3.0 * static_cast<double>(sigma));
  if (radius > max_blur_radius) {
    text << ": radius ceil(3 sigma) = " << radius
         << " exceeds max_blur_radius = " << max_blur_radius;
    return text.str();
  }
  return {};
}

int radius_of(float sigma) {
  return static_cast<int>(std::ceil(3.0 * static_cast<double>(sigma)));
}

void check_not_null(const char* who, const char* what, const void* p) {
  if (p == nullptr) fail(who, std::string(what) + " is null");
}

gaussian_taps make_gaussian_taps(const char* who, float sigma) {
  static_assert(taps_capacity == max_blur_radius, "the taps must hold the largest radius");
  const std::string problem = sigma_problem(sigma);
  if (!problem.empty()) fail(who, problem);
  gaussian_taps g;
  g.radius = radius_of(sigma);
  // exp(-k^2 / (2 sigma^2)) normalised, in double; then quantised to 8 fractional bits from the
  // outermost tap inwards, each tap rounded (half up) after adding the rounding error carried
  // from the tap outside it, and the centre taking what is left so that the weights sum to
  // exactly 256. This reproduces the fixed-point kernel of OpenCV's 8-bit GaussianBlur (checked
  // against cv2 in tests/kernels/opencv_check.py).
  const double s = static_cast<double>(sigma);
  double w[taps_capacity + 1];
  double sum = 0.0;
  for (int k = 0; k <= g.radius; ++k) w[k] = std::exp(-static_cast<double>(k * k) / (2.0 * s * s));
  for (int k = 1; k <= g.radius; ++k) sum += w[k];
  sum = w[0] + 2.0 * sum;
  constexpr double one = 1 << blur_weight_bits;
  double carried = 0.0;
  long outer = 0;
  for (int k = g.radius; k >= 1; --k) {
    const double exact = w[k] / sum * one + carried;
    const double rounded = std::floor(exact + 0.5);
    carried = exact - rounded;
    g.weight[k] = static_cast<std::uint16_t>(rounded);
    outer += static_cast<long>(rounded);
  }
  g.weight[0] = static_cast<std::uint16_t>(static_cast<long>(one) - 2 * outer);
  return g;
}

}  // namespace pinpool::kernels::detail
