#pragma once
// Fixture files for the pinpool_image_io tests, all made at run time: a scratch directory, raw
// byte access, PNG and JPEG writers driven straight through libpng and libjpeg (so the reader is
// checked against the reference encoders, not against our own writer), PNG chunk surgery.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pinpool::io::test {

using bytes = std::vector<std::uint8_t>;

/// @brief A fresh directory under the system temp dir, removed with its contents on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// @brief `name` inside the directory.
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  /// @brief Names of the entries in the directory (hidden ones included), sorted.
  std::vector<std::string> entries() const;

 private:
  std::string dir_;
};

bytes read_file_bytes(const std::string& path);
void write_file_bytes(const std::string& path, const bytes& data);

/// @brief Deterministic pseudo-random bytes.
bytes random_bytes(std::size_t n, std::uint32_t seed);

/// @brief A smooth deterministic image (gradients, a soft blob): JPEG-friendly.
bytes smooth_image(int width, int height, int channels);

/// @brief What write_reference_png() writes. `rows` holds `height` rows of `row_bytes` bytes in
/// libpng's packed layout for the colour type and bit depth (16-bit samples big-endian).
struct png_spec {
  int width = 0;
  int height = 0;
  int color_type = 0;  ///< PNG_COLOR_TYPE_*
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<std::uint8_t> palette_rgb;  ///< 3 bytes per entry, for palette images
  std::vector<std::uint8_t> trns;         ///< tRNS alphas (palette) if not empty
  int trns_key = -1;                      ///< tRNS colour key (grey, RGB: all three) if >= 0
  std::size_t row_bytes = 0;
  bytes rows;
};

/// @brief Writes `spec` with libpng. @throws std::runtime_error with libpng's message.
void write_reference_png(const std::string& path, const png_spec& spec);

/// @brief What write_reference_jpeg() writes: `components` 1 (grey), 3 (RGB) or 4 (CMYK, stored
/// Adobe-inverted as the reader expects) interleaved 8-bit samples.
struct jpeg_spec {
  int width = 0;
  int height = 0;
  int components = 3;
  int quality = 95;
  bool progressive = false;
  bytes pixels;
};

/// @brief Writes `spec` with libjpeg. @throws std::runtime_error with libjpeg's message.
void write_reference_jpeg(const std::string& path, const jpeg_spec& spec);

/// @brief One chunk of a PNG file: `offset` is where its length field starts.
struct png_chunk {
  std::size_t offset;
  std::uint32_t length;
  std::string type;
};

std::vector<png_chunk> png_chunks(const bytes& file);
/// @brief Recomputes the CRC of `chunk` after its data were edited.
void fix_png_crc(bytes& file, const png_chunk& chunk);
/// @brief A PNG that is only a signature, an IHDR declaring `width`x`height` 8-bit grey, a
/// one-byte (invalid) IDAT and IEND: a decompression-bomb header with nothing behind it.
bytes png_header_only(std::uint32_t width, std::uint32_t height);

}  // namespace pinpool::io::test
