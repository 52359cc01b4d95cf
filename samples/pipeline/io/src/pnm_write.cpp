// PGM/PPM writing: binary Netpbm (P5 grey, P6 RGB), maxval 255, no compression.
#include "io_detail.hpp"

#include <cstdio>
#include <cstring>

namespace pinpool::io::detail {

void encode_pnm(byte_buffer& out, const std::uint8_t* pixels, int width, int height, int channels,
                std::size_t pitch) {
  char header[64];
  const int n = std::snprintf(header, sizeof header, "P%c\n%d %d\n255\n", channels == 1 ? '5' : '6',
                              width, height);
  const std::size_t row = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
  out.resize(static_cast<std::size_t>(n) + row * static_cast<std::size_t>(height));
  std::memcpy(out.data(), header, static_cast<std::size_t>(n));
  std::uint8_t* dst = out.data() + n;
  for (int y = 0; y < height; ++y, dst += row) {
    std::memcpy(dst, pixels + static_cast<std::size_t>(y) * pitch, row);
  }
}

}  // namespace pinpool::io::detail
