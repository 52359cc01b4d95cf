#pragma once
/// @file image_io.hpp
/// @brief Image file I/O of pinpool-pipeline: PNG, JPEG and PNM (PGM/PPM) reading and writing,
/// and the synthetic test pattern.
///
/// Reading is two-phase so that the caller owns the pixel memory (a pinned pool chunk) and so
/// that a header's declared size is checked before any pixel memory exists: `probe()` reads the
/// header only; the caller allocates `width * height * channels` bytes; `decode()` fills them.
/// Formats are recognised by their signature (magic bytes), never by the file name.
///
/// Pixels are 8-bit, tightly packed rows, 1 channel (grey) or 3 channels (RGB): 16-bit samples
/// are reduced to 8 bits, palettes and low bit depths expanded, alpha dropped, CMYK JPEGs
/// converted to RGB. Colour profiles, gamma and EXIF orientation are ignored.
///
/// Every function is thread-safe (no shared state) and synchronous; none touches a stream.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace pinpool::io {

/// @brief The container format of an image file, detected from its first bytes.
enum class format { png, jpeg, pnm };

/// @brief What `probe()` and `decode()` report about an image.
struct image_info {
  int width;     ///< pixels, in [1, max_side]
  int height;    ///< pixels, in [1, max_side]
  int channels;  ///< 1 (grey) or 3 (RGB) after conversion
  format fmt;    ///< the detected format
};

/// @brief Largest width or height accepted by `probe()`/`decode()` (and by `write_image()`).
inline constexpr int max_side = 1 << 20;

/// @brief An image could not be read or written. `what()` is the reason alone, e.g.
/// "truncated PNG data", "not an image (unknown signature)", "unsupported format: GIF",
/// "100000x100000 pixels exceeds --max-pixels 100000000", "empty file",
/// "cannot open: No such file or directory". Callers prefix the file name.
class image_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Reads the header of the image at `path`: its size, channels after conversion, format.
/// @param max_pixels largest accepted width * height.
/// @throws image_error when the file cannot be opened, is empty, is not a supported image, its
/// header is truncated or corrupt, a side is <= 0 or > max_side, or width * height > max_pixels.
/// @note Reads only the header; allocates no pixel memory. Synchronous, no stream.
image_info probe(const std::string& path, std::uint64_t max_pixels);

/// @brief Decodes the image at `path` into `dst`: `height` rows of `width * channels` bytes,
/// tightly packed, top row first.
/// @param dst caller-owned memory (e.g. a pinned chunk the host may touch).
/// @param capacity bytes available at `dst`; must be >= width * height * channels.
/// @param max_pixels as for `probe()`; checked again here, before any pixel is read.
/// @return the image's info (the file is re-read: it need not match an earlier `probe()`).
/// @throws image_error for every reason `probe()` has, when `capacity` is too small (nothing is
/// written then), and when the pixel data are truncated or corrupt (`dst` then holds a partial
/// image).
/// @note Never writes beyond `dst + capacity`. Synchronous, no stream: the caller hands `dst` to
/// a stream afterwards (`buffer::set_stream`).
image_info decode(const std::string& path, std::uint8_t* dst, std::size_t capacity,
                  std::uint64_t max_pixels);

/// @brief How `write_image()` encodes.
struct write_options {
  /// PNG: the deflate level, 0 (stored, fastest, largest) to 9 (smallest, slowest). The
  /// default, 1, was chosen by measurement against OpenCV's imwrite defaults (bench/run --suites
  /// e2e: smaller files, less time).
  int png_level = 1;
  /// JPEG: quality 1..100 (libjpeg's scale; 4:2:0 chroma for RGB).
  int jpeg_quality = 90;
};

/// @brief Smallest and largest `write_options::png_level`.
inline constexpr int min_png_level = 0;
inline constexpr int max_png_level = 9;

/// @brief The format `write_image()` writes for `path`, from its extension (case-insensitive):
/// .png -> png, .jpg/.jpeg -> jpeg, .pgm/.ppm/.pnm -> pnm; none for any other.
std::optional<format> format_for_path(const std::string& path);

/// @brief The file extension (with the dot) of `fmt` for an image of `channels`: ".png",
/// ".jpg", ".pgm" (grey) or ".ppm" (RGB).
const char* extension_of(format fmt, int channels);

/// @brief Writes an 8-bit image (grey or RGB) atomically, in the format of `path`'s extension
/// (`format_for_path`): to a temporary file in the directory of `path`, renamed over `path` once
/// complete. PNG and PNM are lossless; JPEG is lossy (`opt.jpeg_quality`).
/// @param pixels `height` rows, `pitch` bytes apart, each `width * channels` bytes used.
/// @param channels 1 or 3.
/// @throws std::invalid_argument for a null `pixels`, a size outside [1, max_side], channels
/// other than 1 or 3, `pitch < width * channels`, an extension `format_for_path` does not know,
/// `opt.png_level` outside [min_png_level, max_png_level] or `opt.jpeg_quality` outside [1, 100].
/// @throws image_error "cannot write <path>: <reason>" when the temporary file cannot be created,
/// written (full disk, RLIMIT_FSIZE, ...), closed or renamed. The temporary is removed then and
/// an existing file at `path` is left unchanged: no partial file is ever left.
/// @note No fsync: atomic against failures and concurrent readers, not against power loss. A
/// process writing under RLIMIT_FSIZE must ignore SIGXFSZ to get the error instead of dying.
/// Thread-safe; each thread keeps its encoder state and buffers for its next call.
void write_image(const std::string& path, const std::uint8_t* pixels, int width, int height,
                 int channels, std::size_t pitch, const write_options& opt = {});

/// @brief `write_image()` as PNG whatever the extension of `path`, with `opt`'s PNG level.
/// @throws as `write_image()`.
void write_png(const std::string& path, const std::uint8_t* pixels, int width, int height,
               int channels, std::size_t pitch, const write_options& opt = {});

/// @brief Fills `rgb` (width * height * 3 bytes, tightly packed) with frame `frame` of a
/// deterministic synthetic sequence: colour bars, grey and colour gradients, a low-contrast band,
/// fine stripes and a checkerboard (edges), light noise, and a disc that moves with `frame`.
/// @note Same arguments, same bytes. Fast (a 1920x1080 frame takes a few milliseconds).
/// Does nothing when a side is <= 0.
void generate_test_pattern(std::uint8_t* rgb, int width, int height, int frame);

/// @brief The extensions a directory scan picks up (lower case; matched case-insensitively).
inline constexpr const char* supported_extensions[] = {".png", ".jpg", ".jpeg",
                                                       ".pgm", ".ppm", ".pnm"};

/// @brief Whether `path` ends in one of `supported_extensions` (case-insensitive): the files a
/// directory scan picks up. Reading still goes by signature.
bool is_supported_extension(const std::string& path);

}  // namespace pinpool::io
