// Opening, signature detection, limits and dispatch to the format readers.
#include "io_detail.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <sys/stat.h>

namespace pinpool::io {
namespace {

using detail::file_ptr;

constexpr unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr unsigned char jpeg_signature[3] = {0xff, 0xd8, 0xff};

// A signature of a format we recognise but do not read, for a precise message.
struct foreign_signature {
  std::size_t offset;
  const char* bytes;
  std::size_t length;
  const char* name;
};

// clang-format off
constexpr foreign_signature foreign_signatures[] = {
    {0, "GIF87a", 6, "GIF"}, {0, "GIF89a", 6, "GIF"},
    {0, "II*\0", 4, "TIFF"}, {0, "MM\0*", 4, "TIFF"},
    {8, "WEBP", 4, "WebP"},
    {0, "\0\0\0\x0cjP  ", 8, "JPEG 2000"}, {0, "\xff\x4f\xff\x51", 4, "JPEG 2000"},
    {0, "\xff\x0a", 2, "JPEG XL"}, {0, "\0\0\0\x0cJXL ", 8, "JPEG XL"},
    {4, "ftypavif", 8, "AVIF"}, {4, "ftypheic", 8, "HEIF"}, {4, "ftypmif1", 8, "HEIF"},
    {0, "qoif", 4, "QOI"},
};
// clang-format on

bool starts_with(const unsigned char* buf, std::size_t n, const void* sig, std::size_t len) {
  return n >= len && std::memcmp(buf, sig, len) == 0;
}

// Whether the whole (short) file is a prefix of `sig`: a file cut inside its signature.
bool is_cut_signature(const unsigned char* buf, std::size_t n, const void* sig, std::size_t len) {
  return n >= 2 && n < len && std::memcmp(buf, sig, n) == 0;
}

file_ptr open_for_reading(const std::string& path) {
  file_ptr f{std::fopen(path.c_str(), "rb")};
  if (!f) throw image_error(detail::errno_message("cannot open", errno));
  struct stat st {};
  if (fstat(fileno(f.get()), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw image_error(detail::errno_message("cannot open", EISDIR));
  }
  std::setvbuf(f.get(), nullptr, _IOFBF, std::size_t{1} << 16);
  return f;
}

// The name of a format we do not read, or nullptr: the table, BMP, the other Netpbm kinds.
const char* foreign_format(const unsigned char* buf, std::size_t n) {
  for (const foreign_signature& s : foreign_signatures) {
    if (n >= s.offset + s.length && std::memcmp(buf + s.offset, s.bytes, s.length) == 0) {
      return s.name;
    }
  }
  if (n >= 10 && buf[0] == 'B' && buf[1] == 'M' && std::memcmp(buf + 6, "\0\0\0\0", 4) == 0) {
    return "BMP";  // "BM", the file size, 4 reserved zero bytes
  }
  if (n >= 3 && buf[0] == 'P' && std::isspace(buf[2])) {
    if (buf[1] == '1' || buf[1] == '4') return "PBM";
    if (buf[1] == '7') return "PAM";
    if (buf[1] == 'F' || buf[1] == 'f') return "PFM";
  }
  return nullptr;
}

// Names the format of a file that starts with the `n` bytes of `buf` (n >= 1).
format classify(const unsigned char* buf, std::size_t n) {
  if (starts_with(buf, n, png_signature, sizeof png_signature)) return format::png;
  if (starts_with(buf, n, jpeg_signature, sizeof jpeg_signature)) return format::jpeg;
  const bool pnm_kind =
      n >= 3 && (buf[1] == '2' || buf[1] == '3' || buf[1] == '5' || buf[1] == '6');
  if (pnm_kind && buf[0] == 'P' && std::isspace(buf[2])) return format::pnm;
  if (is_cut_signature(buf, n, png_signature, sizeof png_signature)) {
    throw image_error("truncated PNG data");
  }
  if (is_cut_signature(buf, n, jpeg_signature, sizeof jpeg_signature)) {
    throw image_error("truncated JPEG data");
  }
  if (const char* name = foreign_format(buf, n)) {
    throw image_error(std::string("unsupported format: ") + name);
  }
  throw image_error("not an image (unknown signature)");
}

// Reads the first bytes of `f`, names its format, and goes back to the start.
format detect_format(std::FILE* f) {
  unsigned char buf[16] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf, f);
  if (std::ferror(f)) throw image_error(detail::errno_message("cannot read", errno));
  if (n == 0) throw image_error("empty file");
  const format fmt = classify(buf, n);
  if (std::fseek(f, 0, SEEK_SET) != 0)
    throw image_error(detail::errno_message("cannot read", errno));
  return fmt;
}

}  // namespace

namespace detail {

std::string errno_message(const char* prefix, int err) {
  return std::string(prefix) + ": " + std::strerror(err);
}

void check_limits(std::uint64_t width, std::uint64_t height, std::uint64_t max_pixels) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width == 0 || height == 0) throw image_error("invalid image size " + size);
  if (width > max_side || height > max_side) {
    throw image_error(size + " exceeds the largest side of " + std::to_string(max_side) +
                      " pixels");
  }
  if (width * height > max_pixels) {
    throw image_error(size + " pixels exceeds --max-pixels " + std::to_string(max_pixels));
  }
}

void check_capacity(const image_info& info, std::size_t capacity) {
  const std::size_t needed = row_bytes(info) * static_cast<std::size_t>(info.height);
  if (capacity < needed) {
    throw image_error("destination too small: " + std::to_string(info.width) + "x" +
                      std::to_string(info.height) + "x" + std::to_string(info.channels) +
                      " needs " + std::to_string(needed) + " bytes, capacity is " +
                      std::to_string(capacity));
  }
}

}  // namespace detail

image_info probe(const std::string& path, std::uint64_t max_pixels) {
  const file_ptr f = open_for_reading(path);
  switch (detect_format(f.get())) {
    case format::png:
      return detail::probe_png(f.get(), max_pixels);
    case format::jpeg:
      return detail::probe_jpeg(f.get(), max_pixels);
    case format::pnm:
      break;
  }
  return detail::probe_pnm(f.get(), max_pixels);
}

image_info decode(const std::string& path, std::uint8_t* dst, std::size_t capacity,
                  std::uint64_t max_pixels) {
  const file_ptr f = open_for_reading(path);
  switch (detect_format(f.get())) {
    case format::png:
      return detail::decode_png(f.get(), dst, capacity, max_pixels);
    case format::jpeg:
      return detail::decode_jpeg(f.get(), dst, capacity, max_pixels);
    case format::pnm:
      break;
  }
  return detail::decode_pnm(f.get(), dst, capacity, max_pixels);
}

bool is_supported_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(std::begin(supported_extensions), std::end(supported_extensions),
                     [&](const char* e) { return ext == e; });
}

}  // namespace pinpool::io
