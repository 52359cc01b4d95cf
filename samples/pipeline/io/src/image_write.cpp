// write_image(): argument checks, the format of a path, the atomic file write.
#include "io_detail.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

namespace pinpool::io {
namespace {

// The temporary file of one write: removed on destruction unless renamed into place.
class temp_file {
 public:
  explicit temp_file(const std::string& target) : target_(target) {
    static std::atomic<unsigned> counter{0};
    const std::filesystem::path t(target);
    path_ = (t.parent_path() / ("." + t.filename().string() + ".tmp." + std::to_string(getpid()) +
                                "." + std::to_string(counter++)))
                .string();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0) fail(errno);
  }
  ~temp_file() {
    if (fd_ >= 0) ::close(fd_);
    if (!renamed_) std::remove(path_.c_str());
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  void write(const std::uint8_t* data, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail(w < 0 ? errno : EIO);
      data += w;
      n -= static_cast<std::size_t>(w);
    }
  }

  // Closes the file (a write error reported only now throws), then renames it over the target.
  void commit() {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail(errno);
    if (std::rename(path_.c_str(), target_.c_str()) != 0) fail(errno);
    renamed_ = true;
  }

 private:
  [[noreturn]] void fail(int err) const {
    throw image_error("cannot write " + target_ + ": " + std::strerror(err != 0 ? err : EIO));
  }

  std::string target_;
  std::string path_;
  int fd_ = -1;
  bool renamed_ = false;
};

void check_arguments(const std::uint8_t* pixels, int width, int height, int channels,
                     std::size_t pitch, const write_options& opt) {
  if (pixels == nullptr) throw std::invalid_argument("write_image: pixels is null");
  if (width <= 0 || height <= 0 || width > max_side || height > max_side) {
    throw std::invalid_argument("write_image: bad size " + std::to_string(width) + "x" +
                                std::to_string(height));
  }
  if (channels != 1 && channels != 3) {
    throw std::invalid_argument("write_image: channels must be 1 or 3, not " +
                                std::to_string(channels));
  }
  if (pitch < static_cast<std::size_t>(width) * static_cast<std::size_t>(channels)) {
    throw std::invalid_argument("write_image: pitch " + std::to_string(pitch) +
                                " is smaller than a row");
  }
  if (opt.png_level < min_png_level || opt.png_level > max_png_level) {
    throw std::invalid_argument("write_image: PNG level " + std::to_string(opt.png_level) +
                                " is outside [0, 9]");
  }
  if (opt.jpeg_quality < 1 || opt.jpeg_quality > 100) {
    throw std::invalid_argument("write_image: JPEG quality " + std::to_string(opt.jpeg_quality) +
                                " is outside [1, 100]");
  }
}

void write_as(format fmt, const std::string& path, const std::uint8_t* pixels, int width,
              int height, int channels, std::size_t pitch, const write_options& opt) {
  check_arguments(pixels, width, height, channels, pitch, opt);
  thread_local detail::byte_buffer encoded;
  try {
    switch (fmt) {
      case format::png:
        detail::encode_png(encoded, pixels, width, height, channels, pitch, opt.png_level);
        break;
      case format::jpeg:
        detail::encode_jpeg(encoded, pixels, width, height, channels, pitch, opt.jpeg_quality);
        break;
      case format::pnm:
        detail::encode_pnm(encoded, pixels, width, height, channels, pitch);
        break;
    }
  } catch (const image_error& e) {
    throw image_error("cannot write " + path + ": " + e.what());
  }
  detail::write_file_atomically(path, encoded.data(), encoded.size());
}

}  // namespace

namespace detail {

void write_file_atomically(const std::string& path, const std::uint8_t* data, std::size_t n) {
  temp_file out(path);
  out.write(data, n);
  out.commit();
}

}  // namespace detail

std::optional<format> format_for_path(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".png") return format::png;
  if (ext == ".jpg" || ext == ".jpeg") return format::jpeg;
  if (ext == ".pgm" || ext == ".ppm" || ext == ".pnm") return format::pnm;
  return std::nullopt;
}

const char* extension_of(format fmt, int channels) {
  switch (fmt) {
    case format::png:
      return ".png";
    case format::jpeg:
      return ".jpg";
    case format::pnm:
      break;
  }
  return channels == 1 ? ".pgm" : ".ppm";
}

void write_image(const std::string& path, const std::uint8_t* pixels, int width, int height,
                 int channels, std::size_t pitch, const write_options& opt) {
  const std::optional<format> fmt = format_for_path(path);
  if (!fmt) {
    throw std::invalid_argument("write_image: " + path +
                                ": unknown extension (expected .png, .jpg, .jpeg, .pgm, .ppm or "
                                ".pnm)");
  }
  write_as(*fmt, path, pixels, width, height, channels, pitch, opt);
}

void write_png(const std::string& path, const std::uint8_t* pixels, int width, int height,
               int channels, std::size_t pitch, const write_options& opt) {
  write_as(format::png, path, pixels, width, height, channels, pitch, opt);
}

}  // namespace pinpool::io
