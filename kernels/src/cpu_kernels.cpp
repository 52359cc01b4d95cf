// The CPU launchers: argument checks, then bands of rows spread over cpu_parallel_for, each row
// computed by the row functions of cpu_rows.hpp (vectorised loops for the inner pixels, the
// shared per-pixel bodies of pixel_ops.hpp at the borders).

#include "cpu_rows.hpp"
#include "launcher_support.hpp"
#include "pixel_ops.hpp"

#include <pinpool/kernels/cpu.hpp>
#include <pinpool/kernels/parallel_for.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
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

/// Splits [0, count) into `parts` contiguous ranges; the bounds of range `i`.
int split(int count, int parts, int i) {
  return static_cast<int>(static_cast<long long>(count) * i / parts);
}

/// Bands of rows for a row-wise kernel: a few per thread (load balance on a shared machine),
/// each at least `min_rows` rows.
int band_count(int height, int min_rows) {
  return std::max(1, std::min(4 * cpu_concurrency(), height / std::max(1, min_rows)));
}

/// The 256-bin histogram, counted in parallel over bands of rows.
histogram histogram_of(const const_image_view& src) {
  const int bands = band_count(src.height, 16);
  std::vector<histogram> partial(static_cast<std::size_t>(bands), histogram{});
  cpu_parallel_for(bands, [&](int band) {
    const int y0 = split(src.height, bands, band), y1 = split(src.height, bands, band + 1);
    detail::histogram_rows(row_of(src, y0), src.pitch, src.width, y1 - y0,
                           partial[static_cast<std::size_t>(band)].data());
  });
  histogram total{};
  for (const histogram& h : partial) {
    for (int i = 0; i < 256; ++i) total[i] += h[i];
  }
  return total;
}

/// True when the bytes of the two images' rows may overlap.
bool overlapping(const const_image_view& a, const image_view& b) {
  const auto begin_a = reinterpret_cast<std::uintptr_t>(a.data);
  const auto begin_b = reinterpret_cast<std::uintptr_t>(b.data);
  const std::uintptr_t end_a =
      begin_a + static_cast<std::size_t>(a.height - 1) * a.pitch +
      static_cast<std::size_t>(a.width) * static_cast<std::size_t>(a.channels);
  const std::uintptr_t end_b =
      begin_b + static_cast<std::size_t>(b.height - 1) * b.pitch +
      static_cast<std::size_t>(b.width) * static_cast<std::size_t>(b.channels);
  return begin_a < end_b && begin_b < end_a;
}

/// One output row of the blur: the vertical pass over the source rows around y into `line`
/// (width 16-bit values), then the horizontal pass over `line` into `out`.
void blur_one_row(const const_image_view& src, int y, const detail::gaussian_taps& taps,
                  const std::uint8_t** rows, std::uint16_t* line, std::uint8_t* out) {
  const int r = taps.radius;
  for (int k = -r; k <= r; ++k) rows[k + r] = row_of(src, detail::reflect_101(y + k, src.height));
  detail::blur_vertical_row(rows, src.width, taps, line);
  detail::blur_horizontal_row(line, src.width, taps, out);
}

}  // namespace

void gray_cpu(const_image_view src, image_view dst) {
  detail::check_gray_args("gray_cpu", src, dst);
  const int bands = band_count(src.height, 8);
  cpu_parallel_for(bands, [&](int band) {
    for (int y = split(src.height, bands, band); y < split(src.height, bands, band + 1); ++y) {
      detail::gray_row(row_of(src, y), src.channels, row_of(dst, y), src.width);
    }
  });
}

void blur_cpu(const_image_view src, image_view dst, float sigma, void* scratch) {
  detail::check_mono_args("blur_cpu", src, dst);
  detail::check_not_null("blur_cpu", "scratch", scratch);
  const detail::gaussian_taps taps = detail::make_gaussian_taps("blur_cpu", sigma);
  auto* tmp = static_cast<std::uint16_t*>(scratch);
  const int width = src.width, height = src.height;
  const auto row_values = static_cast<std::size_t>(width);
  const auto taps_count = static_cast<std::size_t>(2 * taps.radius + 1);

  if (overlapping(src, dst)) {
    // In place: the whole vertical pass first (every row into the scratch), then the horizontal
    // pass, so that no output row is written before every read of the source.
    const int bands = band_count(height, 8);
    cpu_parallel_for(bands, [&](int band) {
      std::vector<const std::uint8_t*> rows(taps_count);
      for (int y = split(height, bands, band); y < split(height, bands, band + 1); ++y) {
        const int r = taps.radius;
        for (int k = -r; k <= r; ++k) {
          rows[static_cast<std::size_t>(k + r)] = row_of(src, detail::reflect_101(y + k, height));
        }
        detail::blur_vertical_row(rows.data(), width, taps, tmp + y * row_values);
      }
    });
    cpu_parallel_for(bands, [&](int band) {
      for (int y = split(height, bands, band); y < split(height, bands, band + 1); ++y) {
        detail::blur_horizontal_row(tmp + y * row_values, width, taps, row_of(dst, y));
      }
    });
    return;
  }

  // Bands of output rows; each output row is its vertical pass over the source rows into a
  // one-row buffer (the band's row of the scratch), then the horizontal pass into dst. The
  // source rows a band reads stay in cache between its output rows.
  const int bands = band_count(height, 8);
  cpu_parallel_for(bands, [&](int band) {
    std::vector<const std::uint8_t*> rows(taps_count);
    std::uint16_t* line = tmp + static_cast<std::size_t>(band) * row_values;
    for (int y = split(height, bands, band); y < split(height, bands, band + 1); ++y) {
      blur_one_row(src, y, taps, rows.data(), line, row_of(dst, y));
    }
  });
}

void sobel_cpu(const_image_view src, image_view dst) {
  detail::check_mono_args("sobel_cpu", src, dst);
  const int bands = band_count(src.height, 8);
  cpu_parallel_for(bands, [&](int band) {
    for (int y = split(src.height, bands, band); y < split(src.height, bands, band + 1); ++y) {
      detail::sobel_row(row_of(src, detail::reflect_101(y - 1, src.height)), row_of(src, y),
                        row_of(src, detail::reflect_101(y + 1, src.height)), src.width,
                        row_of(dst, y));
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
  const int bands = band_count(src.height, 8);
  cpu_parallel_for(bands, [&](int band) {
    for (int y = split(src.height, bands, band); y < split(src.height, bands, band + 1); ++y) {
      detail::lut_row(row_of(src, y), lut.data(), src.width, row_of(dst, y));
    }
  });
}

}  // namespace pinpool::kernels
