// The synthetic frames of pinpool-pipeline: content on which blur, sobel and equalize all do
// visible work, cheap enough not to dominate a run.
#include "io_detail.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace pinpool::io {
namespace {

struct rgb8 {
  std::uint8_t r, g, b;
};

// 75% colour bars, SMPTE order.
constexpr rgb8 bars[8] = {{191, 191, 191}, {191, 191, 0}, {0, 191, 191}, {0, 191, 0},
                          {191, 0, 191},   {191, 0, 0},   {0, 0, 191},   {16, 16, 16}};

std::uint32_t mix(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}

void put(std::uint8_t* p, rgb8 c) {
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

// What the column-dependent bands hold at each x, computed once per frame (no division per pixel).
struct column_tables {
  std::vector<rgb8> bar;               // colour bars
  std::vector<std::uint8_t> ramp;      // 0..255 left to right
  std::vector<std::uint8_t> low;       // 100..140: low contrast
  std::vector<std::uint8_t> stripes;   // stripe widths 8, 4, 2, 1 pixels
  std::vector<std::uint32_t> checker;  // checkerboard column index, scrolled by the frame

  column_tables(int width, int height, std::uint32_t frame)
      : bar(width), ramp(width), low(width), stripes(width), checker(width) {
    const auto w = static_cast<std::int64_t>(width);
    const auto cell = static_cast<std::uint32_t>(std::max(8, height / 16));
    for (std::int64_t x = 0; x < w; ++x) {
      const auto i = static_cast<std::size_t>(x);
      bar[i] = bars[x * 8 / w];
      ramp[i] = static_cast<std::uint8_t>(x * 255 / std::max<std::int64_t>(w - 1, 1));
      low[i] = static_cast<std::uint8_t>(100 + x * 40 / w);
      const auto level = static_cast<int>(x * 4 / w);
      stripes[i] = ((x >> (3 - level)) & 1) != 0 ? 235 : 20;
      checker[i] = (static_cast<std::uint32_t>(x) + frame * 2u) / cell;
    }
  }
};

// Bands of eighths of the height: bars (2), an RGB gradient (2), a low-contrast grey ramp,
// stripes getting finer to the right, a checkerboard scrolling with the frame (2).
void fill_base_row(std::uint8_t* row, const column_tables& t, int width, int height, int y) {
  const auto band = static_cast<int>(static_cast<std::int64_t>(y) * 8 / height);
  const std::size_t n = static_cast<std::size_t>(width);
  if (band < 2) {
    for (std::size_t x = 0; x < n; ++x) put(row + 3 * x, t.bar[x]);
  } else if (band < 4) {
    const auto g = static_cast<std::uint8_t>(std::int64_t{y} * 4 % height * 255 / height);
    for (std::size_t x = 0; x < n; ++x) {
      put(row + 3 * x, {t.ramp[x], g, static_cast<std::uint8_t>(255 - t.ramp[x])});
    }
  } else if (band < 6) {
    const std::vector<std::uint8_t>& v = band == 4 ? t.low : t.stripes;
    for (std::size_t x = 0; x < n; ++x) put(row + 3 * x, {v[x], v[x], v[x]});
  } else {
    const std::uint32_t cy = static_cast<std::uint32_t>(y) / std::max(8u, height / 16u);
    for (std::size_t x = 0; x < n; ++x) {
      const std::uint8_t v = ((t.checker[x] ^ cy) & 1u) != 0 ? 215 : 40;
      put(row + 3 * x, {v, static_cast<std::uint8_t>(v / 2 + 60), v});
    }
  }
}

// A disc crossing the frame left to right, one sixtieth of the width per frame.
void draw_disc_row(std::uint8_t* row, int width, int height, int y, std::uint32_t frame) {
  const std::int64_t radius = std::max(2, height / 8);
  const std::int64_t travel = width + 2 * radius;
  const std::int64_t cx =
      static_cast<std::int64_t>(frame) * std::max(1, width / 60) % travel - radius;
  const std::int64_t dy = y - height / 2;
  if (dy * dy >= radius * radius) return;
  const auto half =
      static_cast<std::int64_t>(std::sqrt(static_cast<double>(radius * radius - dy * dy)));
  const std::int64_t x0 = std::max<std::int64_t>(cx - half, 0);
  const std::int64_t x1 = std::min<std::int64_t>(cx + half, width - 1);
  const rgb8 colour{250, static_cast<std::uint8_t>(96 + frame * 5 % 128), 24};
  for (std::int64_t x = x0; x <= x1; ++x) put(row + x * 3, colour);
}

// Light noise (-8..+7 per sample): each row adds a window of one per-frame xorshift sequence,
// starting at a hashed offset (a table, so that the per-sample loop is a plain vectorisable add).
class noise_source {
 public:
  noise_source(int width, std::uint32_t frame)
      : row_samples_(static_cast<std::size_t>(width) * 3), values_(row_samples_ + span_) {
    std::uint32_t s = mix(frame + 1u) | 1u;
    for (std::int8_t& v : values_) {
      s ^= s << 13;
      s ^= s >> 17;
      s ^= s << 5;
      v = static_cast<std::int8_t>(static_cast<int>(s >> 28) - 8);
    }
  }

  void add_to_row(std::uint8_t* row, int y, std::uint32_t frame) const {
    const std::int8_t* n =
        values_.data() + mix(static_cast<std::uint32_t>(y) ^ frame << 16) % span_;
    std::size_t i = 0;
    for (; i + block <= row_samples_; i += block) add_clamped<block>(row + i, n + i);
    for (; i < row_samples_; ++i) add_clamped<1>(row + i, n + i);
  }

 private:
  static constexpr std::size_t block = 64;

  // Fixed-size blocks of distinct arrays: vectorised at -O2 as well.
  template <std::size_t N>
  static void add_clamped(std::uint8_t* __restrict out, const std::int8_t* __restrict n) {
    for (std::size_t i = 0; i < N; ++i) {
      out[i] = static_cast<std::uint8_t>(std::clamp(out[i] + n[i], 0, 255));
    }
  }

  static constexpr std::size_t span_ = 4099;  // offsets; prime, so rows rarely repeat in step
  std::size_t row_samples_;
  std::vector<std::int8_t> values_;
};

}  // namespace

void generate_test_pattern(std::uint8_t* rgb, int width, int height, int frame) {
  if (rgb == nullptr || width <= 0 || height <= 0) return;
  const auto f = static_cast<std::uint32_t>(frame);
  const column_tables tables(width, height, f);
  const noise_source noise(width, f);
  for (int y = 0; y < height; ++y) {
    std::uint8_t* row = rgb + static_cast<std::size_t>(y) * static_cast<std::size_t>(width) * 3;
    fill_base_row(row, tables, width, height, y);
    draw_disc_row(row, width, height, y, f);
    noise.add_to_row(row, y, f);
  }
}

}  // namespace pinpool::io
