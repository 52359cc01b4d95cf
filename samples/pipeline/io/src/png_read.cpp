// PNG reading with libpng.
//
// libpng reports errors by longjmp. Every libpng call runs inside run_guarded(), the only
// setjmp of this file: it has no locals, and the steps it runs and the callbacks libpng calls
// hold only trivially destructible locals, so no C++ destructor is ever skipped. The state they
// share is a plain struct owned by a C++ object that destroys the libpng structs.
#include "io_detail.hpp"

#include <cerrno>
#include <csetjmp>
#include <cstring>
#include <png.h>

namespace pinpool::io::detail {
namespace {

// State shared by the guarded steps and the libpng callbacks. Trivially destructible.
struct png_read_state {
  png_structp png;
  png_infop info;
  std::FILE* file;
  std::uint8_t* dst;      // decode: the first row
  std::size_t row_bytes;  // decode: bytes per decoded row
  int height;
  int channels;  // decode: channels expected after the transforms
  std::jmp_buf jmp;
  bool truncated;  // the file ended early
  int read_errno;  // a read failed (not EOF)
  char message[256];
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp msg) {
  auto* st = static_cast<png_read_state*>(png_get_error_ptr(png));
  if (st->message[0] == '\0') std::snprintf(st->message, sizeof st->message, "%s", msg);
  std::longjmp(st->jmp, 1);
}

// Warnings (benign errors, bad ancillary chunks) are ignored, as image viewers do, except one:
// a chunk longer than png_set_chunk_malloc_max is only a benign error to libpng, which then
// allocates and zeroes the length the chunk declares before reading it. A 208-byte file
// declaring a 1.3 GB iTXt chunk took 1.3 GB and seconds (found by pinpool_fuzz_decode_png).
void on_png_warning(png_structp png, png_const_charp msg) {
  if (std::strstr(msg, "chunk data is too large") != nullptr) on_png_error(png, msg);
}

void read_png_bytes(png_structp png, png_bytep out, std::size_t n) {
  auto* st = static_cast<png_read_state*>(png_get_io_ptr(png));
  if (std::fread(out, 1, n, st->file) == n) return;
  if (std::ferror(st->file)) {
    st->read_errno = errno != 0 ? errno : EIO;
  } else {
    st->truncated = true;
  }
  png_error(png, "read failed");
}

// Runs `step` with libpng errors caught: false when libpng raised one (details in `st`).
bool run_guarded(png_read_state& st, void (*step)(png_read_state&)) {
  if (setjmp(st.jmp) != 0) return false;
  step(st);
  return true;
}

void create_step(png_read_state& st) {
  st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, on_png_error, on_png_warning);
  if (st.png != nullptr) st.info = png_create_info_struct(st.png);
}

void read_info_step(png_read_state& st) {
  png_set_read_fn(st.png, &st, read_png_bytes);
  png_set_user_limits(st.png, max_side, max_side);
  png_set_chunk_malloc_max(st.png, 8u << 20);  // bounds text/ICC chunks
  png_set_chunk_cache_max(st.png, 1000);
  png_read_info(st.png, st.info);
}

// Sets the transforms to 8-bit grey or RGB, then reads every row (every pass when interlaced)
// straight into `st.dst`, then the chunks after the image data.
void read_image_step(png_read_state& st) {
  png_structp png = st.png;
  const int color_type = png_get_color_type(png, st.info);
  if (png_get_bit_depth(png, st.info) == 16) png_set_scale_16(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, st.info);
  if (png_get_channels(png, st.info) != st.channels ||
      png_get_rowbytes(png, st.info) != st.row_bytes) {
    png_error(png, "unexpected row layout after conversion");
  }
  for (int pass = 0; pass < passes; ++pass) {
    for (int y = 0; y < st.height; ++y) {
      png_read_row(png, st.dst + static_cast<std::size_t>(y) * st.row_bytes, nullptr);
    }
  }
  png_read_end(png, nullptr);
}

// Owns the libpng structs of one read.
class png_decoder {
 public:
  explicit png_decoder(std::FILE* f) {
    st_.file = f;
    if (!run_guarded(st_, create_step) || st_.info == nullptr) {
      png_destroy_read_struct(&st_.png, &st_.info, nullptr);
      throw image_error("out of memory");
    }
  }
  ~png_decoder() { png_destroy_read_struct(&st_.png, &st_.info, nullptr); }
  png_decoder(const png_decoder&) = delete;
  png_decoder& operator=(const png_decoder&) = delete;

  // Reads the chunks before the image data and returns the image's info, limits checked.
  image_info read_header(std::uint64_t max_pixels) {
    run(read_info_step);
    png_uint_32 width = 0;
    png_uint_32 height = 0;
    int bit_depth = 0;
    int color_type = 0;
    png_get_IHDR(st_.png, st_.info, &width, &height, &bit_depth, &color_type, nullptr, nullptr,
                 nullptr);
    check_limits(width, height, max_pixels);
    const int channels = (color_type & PNG_COLOR_MASK_COLOR) != 0 ? 3 : 1;
    return {static_cast<int>(width), static_cast<int>(height), channels, format::png};
  }

  void read_image(const image_info& info, std::uint8_t* dst) {
    st_.dst = dst;
    st_.row_bytes = row_bytes(info);
    st_.height = info.height;
    st_.channels = info.channels;
    run(read_image_step);
  }

 private:
  void run(void (*step)(png_read_state&)) {
    if (run_guarded(st_, step)) return;
    if (st_.truncated) throw image_error("truncated PNG data");
    if (st_.read_errno != 0) throw image_error(errno_message("cannot read", st_.read_errno));
    throw image_error(std::string("corrupt PNG data: ") + st_.message);
  }

  png_read_state st_{};
};

std::uint32_t load_be32(const unsigned char* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// Checks the size IHDR declares before libpng reads anything else; leaves `f` at its start.
void check_ihdr_size(std::FILE* f, std::uint64_t max_pixels) {
  unsigned char head[24];
  const std::size_t n = std::fread(head, 1, sizeof head, f);
  std::rewind(f);
  if (n == sizeof head && std::memcmp(head + 12, "IHDR", 4) == 0) {
    check_limits(load_be32(head + 16), load_be32(head + 20), max_pixels);
  }  // else libpng reports what is wrong
}

}  // namespace

image_info probe_png(std::FILE* f, std::uint64_t max_pixels) {
  check_ihdr_size(f, max_pixels);
  png_decoder dec(f);
  return dec.read_header(max_pixels);
}

image_info decode_png(std::FILE* f, std::uint8_t* dst, std::size_t capacity,
                      std::uint64_t max_pixels) {
  check_ihdr_size(f, max_pixels);
  return decode_with<png_decoder>(f, dst, capacity, max_pixels);
}

}  // namespace pinpool::io::detail
