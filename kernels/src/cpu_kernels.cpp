// The CPU launchers: argument checks, then rows spread over cpu_parallel_for, each pixel
// computed by the shared bodies of pixel_ops.hpp.

#include "launcher_support.hpp"
#include "pixel_ops.hpp"

#include <pinpool/kernels/cpu.hpp>
#include <pinpool/kernels/parallel_for.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace pinpool::kernels {
namespace {

std::uint8_t* row_of(const image_view& v, int y) {
  return v.data + static_cast<std::size_t>(y) * v.pitch;
}
const std::uint8_t* row_of(const const_image_view& v, int y) {
  return v.data + static_cast<std::size_t>(y) * v.pitch;
}

using histogram = std::array<std::uint64_t, 256>;

/// The 256-bin histogram, counted in parallel over bands of rows.
histogram histogram_of(const const_image_view& src) {
  const int bands = std::min(src.height, 4 * cpu_concurrency());
  std::vector<histogram> partial(static_cast<std::size_t>(bands), histogram{});
  cpu_parallel_for(bands, [&](int band) {
    histogram& h = partial[static_cast<std::size_t>(band)];
    const int y_end = static_cast<int>(static_cast<long long>(src.height) * (band + 1) / bands);
    for (int y = static_cast<int>(static_cast<long long>(src.height) * band / bands); y < y_end;
         ++y) {
      const std::uint8_t* in = row_of(src, y);
      for (int x = 0; x < src.width; ++x) ++h[in[x]];
    }
  });
  histogram total{};
  for (const histogram& h : partial) {
    for (int i = 0; i < 256; ++i) total[i] += h[i];
  }
  return total;
}

}  // namespace

void gray_cpu(const_image_view src, image_view dst) {
  detail::check_gray_args("gray_cpu", src, dst);
  cpu_parallel_for(src.height, [&](int y) {
    const std::uint8_t* in = row_of(src, y);
    std::uint8_t* out = row_of(dst, y);
    for (int x = 0; x < src.width; ++x) {
      out[x] = detail::gray_pixel(in + static_cast<std::size_t>(x) * src.channels, src.channels);
    }
  });
}

void blur_cpu(const_image_view src, image_view dst, float sigma, float* scratch) {
  detail::check_mono_args("blur_cpu", src, dst);
  detail::check_not_null("blur_cpu", "scratch", scratch);
  const detail::gaussian_taps taps = detail::make_gaussian_taps("blur_cpu", sigma);
  const auto width = static_cast<std::size_t>(src.width);
  cpu_parallel_for(src.height, [&](int y) {
    float* out = scratch + static_cast<std::size_t>(y) * width;
    for (int x = 0; x < src.width; ++x) {
      out[x] = detail::blur_horizontal_at(src.data, src.pitch, src.width, x, y, taps);
    }
  });
  cpu_parallel_for(src.height, [&](int y) {
    std::uint8_t* out = row_of(dst, y);
    for (int x = 0; x < src.width; ++x) {
      out[x] = detail::blur_vertical_at(scratch, src.width, src.height, x, y, taps);
    }
  });
}

void sobel_cpu(const_image_view src, image_view dst) {
  detail::check_mono_args("sobel_cpu", src, dst);
  cpu_parallel_for(src.height, [&](int y) {
    std::uint8_t* out = row_of(dst, y);
    for (int x = 0; x < src.width; ++x) {
      out[x] = detail::sobel_at(src.data, src.pitch, src.width, src.height, x, y);
    }
  });
}

void equalize_cpu(const_image_view src, image_view dst) {
  detail::check_mono_args("equalize_cpu", src, dst);
  detail::check_equalize_size("equalize_cpu", src);
  const histogram hist = histogram_of(src);
  histogram cdf{};
  std::uint64_t running = 0;
  for (int i = 0; i < 256; ++i) cdf[i] = running += hist[i];
  const std::uint64_t first = detail::first_nonzero(cdf.data());
  std::array<std::uint8_t, 256> lut{};
  for (int i = 0; i < 256; ++i) lut[i] = detail::equalize_lut_at(i, cdf[i], first, running);
  cpu_parallel_for(src.height, [&](int y) {
    const std::uint8_t* in = row_of(src, y);
    std::uint8_t* out = row_of(dst, y);
    for (int x = 0; x < src.width; ++x) out[x] = detail::apply_lut(lut.data(), in[x]);
  });
}

}  // namespace pinpool::kernels
