// The synthetic frames of pinpool-pipeline: content on which blur, sobel and equalize all do
// visible work, cheap enough not to dominate a run.
#include <algorithm>
#include <cmath>

#include "io_detail.hpp"

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

// Bands of eighths of the height: bars (2), an RGB gradient (2), a low-contrast grey ramp,
// stripes getting finer to the right, a checkerboard scrolling with the frame (2).
void fill_base_row(std::uint8_t* row, int width, int height, int y, std::uint32_t frame) {
  const int band = static_cast<int>(static_cast<std::int64_t>(y) * 8 / height);
  const auto w = static_cast<std::int64_t>(width);
  for (int x = 0; x < width; ++x, row += 3) {
    if (band < 2) {
      put(row, bars[x * 8 / w]);
    } else if (band < 4) {
      const auto r = static_cast<std::uint8_t>(x * 255 / std::max<std::int64_t>(w - 1, 1));
      const auto g = static_cast<std::uint8_t>((y * 4 % height) * 255 / height);
      put(row, {r, g, static_cast<std::uint8_t>(255 - r)});
    } else if (band == 4) {
      const auto v = static_cast<std::uint8_t>(100 + x * 40 / w);
      put(row, {v, v, v});
    } else if (band == 5) {
      const int level = static_cast<int>(x * 4 / w);  // stripe widths 8, 4, 2, 1
      const std::uint8_t v = ((x >> (3 - level)) & 1) != 0 ? 235 : 20;
      put(row, {v, v, v});
    } else {
      const int cell = std::max(8, height / 16);
      const auto cx = (static_cast<std::uint32_t>(x) + frame * 2u) / static_cast<unsigned>(cell);
      const auto cy = static_cast<std::uint32_t>(y) / static_cast<unsigned>(cell);
      const std::uint8_t v = ((cx ^ cy) & 1u) != 0 ? 215 : 40;
      put(row, {v, static_cast<std::uint8_t>(v / 2 + 60), v});
    }
  }
}

// A disc crossing the frame left to right, one sixtieth of the width per frame.
void draw_disc_row(std::uint8_t* row, int width, int height, int y, std::uint32_t frame) {
  const std::int64_t radius = std::max(2, height / 8);
  const std::int64_t travel = width + 2 * radius;
  const std::int64_t cx = static_cast<std::int64_t>(frame) * std::max(1, width / 60) % travel -
                          radius;
  const std::int64_t dy = y - height / 2;
  if (dy * dy >= radius * radius) return;
  const auto half = static_cast<std::int64_t>(std::sqrt(static_cast<double>(radius * radius - dy * dy)));
  const std::int64_t x0 = std::max<std::int64_t>(cx - half, 0);
  const std::int64_t x1 = std::min<std::int64_t>(cx + half, width - 1);
  const rgb8 colour{250, static_cast<std::uint8_t>(96 + frame * 5 % 128), 24};
  for (std::int64_t x = x0; x <= x1; ++x) put(row + x * 3, colour);
}

// Light noise (-8..+7 per sample) from a xorshift sequence seeded per row and frame.
void add_noise_row(std::uint8_t* row, int width, int y, std::uint32_t frame) {
  std::uint32_t s = mix(static_cast<std::uint32_t>(y) * 0x9e3779b9u ^ mix(frame + 1u)) | 1u;
  const std::size_t n = static_cast<std::size_t>(width) * 3;
  for (std::size_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    const int v = row[i] + static_cast<int>(s >> 28) - 8;
    row[i] = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
  }
}

}  // namespace

void generate_test_pattern(std::uint8_t* rgb, int width, int height, int frame) {
  if (rgb == nullptr || width <= 0 || height <= 0) return;
  const auto f = static_cast<std::uint32_t>(frame);
  for (int y = 0; y < height; ++y) {
    std::uint8_t* row = rgb + static_cast<std::size_t>(y) * static_cast<std::size_t>(width) * 3;
    fill_base_row(row, width, height, y, f);
    draw_disc_row(row, width, height, y, f);
    add_noise_row(row, width, y, f);
  }
}

}  // namespace pinpool::io
