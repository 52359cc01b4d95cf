// PNG writing: the file is assembled here (signature, IHDR, one IDAT, IEND; CRCs from zlib), the
// rows filtered here, and the zlib stream compressed in one call by libdeflate (zlib's deflate
// when the build has no libdeflate). No libpng: its row-by-row deflate and per-row filtering
// cost more than the whole compression does (bench/run --suites e2e, PNG settings table).
#include "io_detail.hpp"

#include <cstring>
#include <memory>
#include <zlib.h>

#if PINPOOL_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

namespace pinpool::io::detail {
namespace {

constexpr std::uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// The PNG row filter used at levels >= 1: Up (each byte minus the byte above). On edge images
// of photographs (the pipeline's default output) it gave the smallest files at the same time
// as None and Sub (bench/e2e_png.py). Level 0 stores rows unfiltered.
constexpr std::uint8_t filter_none = 0;
constexpr std::uint8_t filter_up = 2;

void put_u32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// Completes the chunk whose length field starts at `chunk` and whose `n` data bytes follow its
// 4-byte type: writes the length and appends the CRC of type and data. Returns the end.
std::uint8_t* finish_chunk(std::uint8_t* chunk, std::size_t n) {
  put_u32(chunk, static_cast<std::uint32_t>(n));
  const uLong crc = crc32(crc32(0, nullptr, 0), chunk + 4, static_cast<uInt>(n + 4));
  put_u32(chunk + 8 + n, static_cast<std::uint32_t>(crc));
  return chunk + 12 + n;
}

// Writes the filtered image data: per row, its filter byte, then the filtered bytes.
void filter_rows(std::uint8_t* dst, const std::uint8_t* pixels, std::size_t row, int height,
                 std::size_t pitch, std::uint8_t filter) {
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* cur = pixels + static_cast<std::size_t>(y) * pitch;
    *dst++ = filter;
    if (filter == filter_none || y == 0) {
      std::memcpy(dst, cur, row);
    } else {
      const std::uint8_t* above = cur - pitch;
      for (std::size_t i = 0; i < row; ++i) dst[i] = static_cast<std::uint8_t>(cur[i] - above[i]);
    }
    dst += row;
  }
}

#if PINPOOL_HAVE_LIBDEFLATE
struct compressor_free {
  void operator()(libdeflate_compressor* c) const noexcept { libdeflate_free_compressor(c); }
};

// This thread's compressor for `level` (kept: allocating one costs more than a small image).
libdeflate_compressor* compressor_for(int level) {
  thread_local std::unique_ptr<libdeflate_compressor, compressor_free> cache[max_png_level + 1];
  auto& c = cache[level];
  if (!c) c.reset(libdeflate_alloc_compressor(level));
  if (!c) throw image_error("out of memory for the PNG compressor");
  return c.get();
}

std::size_t compress_bound(int level, std::size_t n) {
  return libdeflate_zlib_compress_bound(compressor_for(level), n);
}

std::size_t compress(int level, const std::uint8_t* src, std::size_t n, std::uint8_t* dst,
                     std::size_t capacity) {
  const std::size_t written =
      libdeflate_zlib_compress(compressor_for(level), src, n, dst, capacity);
  if (written == 0) throw image_error("PNG compression failed");
  return written;
}
#else
std::size_t compress_bound(int /*level*/, std::size_t n) {
  return compressBound(static_cast<uLong>(n));
}

std::size_t compress(int level, const std::uint8_t* src, std::size_t n, std::uint8_t* dst,
                     std::size_t capacity) {
  uLongf written = static_cast<uLongf>(capacity);
  if (compress2(dst, &written, src, static_cast<uLong>(n), level) != Z_OK) {
    throw image_error("PNG compression failed");
  }
  return written;
}
#endif

}  // namespace

void encode_png(byte_buffer& out, const std::uint8_t* pixels, int width, int height, int channels,
                std::size_t pitch, int level) {
  const std::size_t row = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
  const std::size_t raw = (row + 1) * static_cast<std::size_t>(height);
  if (raw > 0x7fffffffu) throw image_error("image too large for one PNG data chunk");
  thread_local byte_buffer filtered;
  filtered.resize(raw);
  filter_rows(filtered.data(), pixels, row, height, pitch, level == 0 ? filter_none : filter_up);

  const std::size_t bound = compress_bound(level, raw);
  out.resize(sizeof png_signature + 25 + 12 + bound + 12);
  std::uint8_t* p = out.data();
  std::memcpy(p, png_signature, sizeof png_signature);
  p += sizeof png_signature;
  std::memcpy(p + 4, "IHDR", 4);
  put_u32(p + 8, static_cast<std::uint32_t>(width));
  put_u32(p + 12, static_cast<std::uint32_t>(height));
  const std::uint8_t ihdr_rest[5] = {8, static_cast<std::uint8_t>(channels == 3 ? 2 : 0), 0, 0, 0};
  std::memcpy(p + 16, ihdr_rest, sizeof ihdr_rest);  // depth, colour type, deflate, filters, no
  p = finish_chunk(p, 13);                           // interlace
  std::memcpy(p + 4, "IDAT", 4);
  p = finish_chunk(p, compress(level, filtered.data(), raw, p + 8, bound));
  std::memcpy(p + 4, "IEND", 4);
  p = finish_chunk(p, 0);
  out.resize(static_cast<std::size_t>(p - out.data()));
}

}  // namespace pinpool::io::detail
