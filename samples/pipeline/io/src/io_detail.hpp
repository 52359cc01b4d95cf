#pragma once
// Internals of pinpool_image_io shared by the format readers and the writer.

#include <pinpool/io/image_io.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace pinpool::io::detail {

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
/// @brief An open stdio file, closed on destruction (read side: the close result is moot).
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

/// @brief "<prefix>: <strerror(err)>".
std::string errno_message(const char* prefix, int err);

/// @brief Throws image_error unless 1 <= width, height <= max_side and width * height <=
/// max_pixels. Called on every header before anything is sized from it.
void check_limits(std::uint64_t width, std::uint64_t height, std::uint64_t max_pixels);

/// @brief Throws image_error unless `capacity` holds the decoded image of `info`.
void check_capacity(const image_info& info, std::size_t capacity);

/// @brief Header, capacity check, pixels: the decode sequence every library-backed reader
/// shares. `Decoder` has `Decoder(FILE*)`, `read_header(max_pixels)` and `read_image(info, dst)`.
template <class Decoder>
image_info decode_with(std::FILE* f, std::uint8_t* dst, std::size_t capacity,
                       std::uint64_t max_pixels) {
  Decoder dec(f);
  const image_info info = dec.read_header(max_pixels);
  check_capacity(info, capacity);
  dec.read_image(info, dst);
  return info;
}

/// @brief Bytes of one decoded row of `info`.
inline std::size_t row_bytes(const image_info& info) {
  return static_cast<std::size_t>(info.width) * static_cast<std::size_t>(info.channels);
}

// One reader per format. `f` is positioned at the start of the file, whose signature has been
// recognised. probe_* read the header only; decode_* check limits and capacity, then decode.
image_info probe_png(std::FILE* f, std::uint64_t max_pixels);
image_info decode_png(std::FILE* f, std::uint8_t* dst, std::size_t capacity,
                      std::uint64_t max_pixels);
image_info probe_jpeg(std::FILE* f, std::uint64_t max_pixels);
image_info decode_jpeg(std::FILE* f, std::uint8_t* dst, std::size_t capacity,
                       std::uint64_t max_pixels);
image_info probe_pnm(std::FILE* f, std::uint64_t max_pixels);
image_info decode_pnm(std::FILE* f, std::uint8_t* dst, std::size_t capacity,
                      std::uint64_t max_pixels);

// Writing. Each encoder appends a whole file's bytes to `out` (cleared first; the caller reuses
// it, so steady-state encoding allocates nothing) and throws image_error with the reason alone.
// Arguments are checked by write_image() before.
using byte_buffer = std::vector<std::uint8_t>;
void encode_png(byte_buffer& out, const std::uint8_t* pixels, int width, int height, int channels,
                std::size_t pitch, int level);
void encode_jpeg(byte_buffer& out, const std::uint8_t* pixels, int width, int height, int channels,
                 std::size_t pitch, int quality);
void encode_pnm(byte_buffer& out, const std::uint8_t* pixels, int width, int height, int channels,
                std::size_t pitch);

/// @brief Writes `n` bytes as the file `path`, atomically (a temporary file renamed over it).
/// @throws image_error "cannot write <path>: <reason>"; no partial file is left then.
void write_file_atomically(const std::string& path, const std::uint8_t* data, std::size_t n);

}  // namespace pinpool::io::detail
