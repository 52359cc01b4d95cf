// PGM/PPM reading: binary P5/P6 and ASCII P2/P3, any maxval up to 65535 (scaled to 8 bits).
#include "io_detail.hpp"

#include <cctype>
#include <cerrno>
#include <vector>

namespace pinpool::io::detail {
namespace {

struct pnm_header {
  image_info info;
  bool ascii;
  unsigned maxval;
};

// Character-level reading of one PNM file; errors are thrown as image_error.
class pnm_reader {
 public:
  explicit pnm_reader(std::FILE* f) : f_(f) {}

  pnm_header read_header(std::uint64_t max_pixels) {
    next();  // 'P'; the signature check saw it and the kind
    const int magic = next();
    const std::uint64_t width = read_number("width");
    const std::uint64_t height = read_number("height");
    const std::uint64_t maxval = read_number("maxval");
    if (maxval == 0 || maxval > 65535) corrupt_header("maxval " + std::to_string(maxval));
    if (!std::isspace(next())) corrupt_header("no whitespace after maxval");
    check_limits(width, height, max_pixels);
    const int channels = magic == '3' || magic == '6' ? 3 : 1;
    const image_info info{static_cast<int>(width), static_cast<int>(height), channels, format::pnm};
    return {info, magic == '2' || magic == '3', static_cast<unsigned>(maxval)};
  }

  void read_raster(const pnm_header& h, std::uint8_t* dst) {
    const std::size_t samples = row_bytes(h.info);
    std::vector<std::uint8_t> wide(h.maxval > 255 && !h.ascii ? samples * 2 : 0);
    const std::vector<std::uint8_t> lut = make_lut(h.maxval);
    for (int y = 0; y < h.info.height; ++y) {
      std::uint8_t* row = dst + static_cast<std::size_t>(y) * samples;
      if (h.ascii) {
        read_ascii_row(row, samples, h.maxval, lut);
      } else if (h.maxval > 255) {
        read_exact(wide.data(), wide.size());
        for (std::size_t i = 0; i < samples; ++i) {
          row[i] = scale(static_cast<unsigned>(wide[2 * i] << 8 | wide[2 * i + 1]), h.maxval);
        }
      } else {
        read_exact(row, samples);
        if (h.maxval != 255) {
          for (std::size_t i = 0; i < samples; ++i) row[i] = lut[row[i]];
        }
      }
    }
  }

 private:
  int next() { return getc_unlocked(f_); }

  // Sample `v` (clamped to maxval) scaled from [0, maxval] to [0, 255], rounded.
  static std::uint8_t scale(unsigned v, unsigned maxval) {
    if (v > maxval) v = maxval;
    return static_cast<std::uint8_t>((v * 255u + maxval / 2) / maxval);
  }

  static std::vector<std::uint8_t> make_lut(unsigned maxval) {
    std::vector<std::uint8_t> lut(256);
    if (maxval <= 255) {
      for (unsigned v = 0; v < 256; ++v) lut[v] = scale(v, maxval);
    }
    return lut;
  }

  [[noreturn]] void fail_read() {
    if (std::ferror(f_)) throw image_error(errno_message("cannot read", errno));
    throw image_error("truncated PNM data");
  }

  [[noreturn]] static void corrupt_header(const std::string& what) {
    throw image_error("corrupt PNM header: " + what);
  }

  void read_exact(std::uint8_t* out, std::size_t n) {
    if (std::fread(out, 1, n, f_) != n) fail_read();
  }

  // Skips whitespace and '#' comments; returns the next other character (or EOF).
  int skip_space() {
    int c = next();
    while (c != EOF && (std::isspace(c) || c == '#')) {
      if (c == '#') {
        while (c != EOF && c != '\n' && c != '\r') c = next();
      }
      if (c != EOF) c = next();
    }
    return c;
  }

  // A decimal number of the header (at most 2^32, plenty for any valid value).
  std::uint64_t read_number(const char* what) {
    int c = skip_space();
    if (c == EOF) fail_read();
    if (!std::isdigit(c)) corrupt_header(std::string("bad ") + what);
    std::uint64_t v = 0;
    for (; c != EOF && std::isdigit(c); c = next()) {
      v = v * 10 + static_cast<unsigned>(c - '0');
      if (v > (std::uint64_t{1} << 32)) corrupt_header(std::string(what) + " too large");
    }
    if (c != EOF) std::ungetc(c, f_);
    return v;
  }

  void read_ascii_row(std::uint8_t* row, std::size_t samples, unsigned maxval,
                      const std::vector<std::uint8_t>& lut) {
    for (std::size_t i = 0; i < samples; ++i) {
      int c = skip_space();
      if (c == EOF) fail_read();
      if (!std::isdigit(c)) throw image_error("corrupt PNM data: not a number");
      unsigned v = 0;
      for (; c != EOF && std::isdigit(c); c = next()) {
        v = v * 10 + static_cast<unsigned>(c - '0');
        if (v > maxval) throw image_error("corrupt PNM data: sample exceeds maxval");
      }
      if (c == '#') std::ungetc(c, f_);
      row[i] = maxval <= 255 ? lut[v] : scale(v, maxval);
    }
  }

  std::FILE* f_;
};

}  // namespace

image_info probe_pnm(std::FILE* f, std::uint64_t max_pixels) {
  return pnm_reader(f).read_header(max_pixels).info;
}

image_info decode_pnm(std::FILE* f, std::uint8_t* dst, std::size_t capacity,
                      std::uint64_t max_pixels) {
  pnm_reader reader(f);
  const pnm_header h = reader.read_header(max_pixels);
  check_capacity(h.info, capacity);
  reader.read_raster(h, dst);
  return h.info;
}

}  // namespace pinpool::io::detail
