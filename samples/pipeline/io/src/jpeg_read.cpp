// JPEG reading with libjpeg(-turbo).
//
// libjpeg's error_exit must not return: it longjmps back into run_guarded(), the only setjmp of
// this file, which has no locals; the steps it runs and the callbacks libjpeg calls hold only
// trivially destructible locals, so no C++ destructor is ever skipped. A premature end of file,
// which libjpeg only warns about (it pads with grey), is an error here.
#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>

// jpeglib.h needs <cstdio> first, and jerror.h needs jpeglib.h.
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "io_detail.hpp"

namespace pinpool::io::detail {
namespace {

constexpr int max_scans = 1000;  // a progressive file with more is a denial of service

// State shared by the guarded steps and the libjpeg callbacks. Trivially destructible.
struct jpeg_read_state {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_progress_mgr progress;
  std::FILE* file;
  std::uint8_t* dst;      // decode: the first row
  std::size_t row_bytes;  // decode: bytes per decoded row
  bool truncated;
  bool too_many_scans;
  int error_code;  // libjpeg's message code of the error
  std::jmp_buf jmp;
  char message[JMSG_LENGTH_MAX];
};

jpeg_read_state& state_of(j_common_ptr c) {
  return *static_cast<jpeg_read_state*>(c->client_data);
}

[[noreturn]] void on_jpeg_error(j_common_ptr c) {
  jpeg_read_state& st = state_of(c);
  st.error_code = c->err->msg_code;
  (*c->err->format_message)(c, st.message);
  std::longjmp(st.jmp, 1);
}

void on_jpeg_message(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  if (c->err->msg_code == JWRN_JPEG_EOF) {
    state_of(c).truncated = true;
    std::longjmp(state_of(c).jmp, 1);
  }
  ++c->err->num_warnings;  // other corrupt-data warnings: decoded as libjpeg does
}

[[noreturn]] void fail(jpeg_read_state& st, const char* message) {
  std::snprintf(st.message, sizeof st.message, "%s", message);
  std::longjmp(st.jmp, 1);
}

void on_jpeg_progress(j_common_ptr c) {
  if (c->is_decompressor && reinterpret_cast<j_decompress_ptr>(c)->input_scan_number > max_scans) {
    state_of(c).too_many_scans = true;
    std::longjmp(state_of(c).jmp, 1);
  }
}

// Runs `step` with libjpeg errors caught: false when libjpeg raised one (details in `st`).
bool run_guarded(jpeg_read_state& st, void (*step)(jpeg_read_state&)) {
  if (setjmp(st.jmp) != 0) return false;
  step(st);
  return true;
}

void read_header_step(jpeg_read_state& st) {
  st.cinfo.err = jpeg_std_error(&st.err);
  st.err.error_exit = on_jpeg_error;
  st.err.emit_message = on_jpeg_message;
  st.cinfo.client_data = &st;
  jpeg_create_decompress(&st.cinfo);
  st.progress.progress_monitor = on_jpeg_progress;
  st.cinfo.progress = &st.progress;
  jpeg_stdio_src(&st.cinfo, st.file);
  jpeg_read_header(&st.cinfo, TRUE);
}

// Adobe CMYK (stored inverted, as Photoshop writes it) to RGB.
void cmyk_to_rgb(const JSAMPLE* cmyk, std::uint8_t* rgb, JDIMENSION width) {
  for (JDIMENSION x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const unsigned k = cmyk[3];
    for (int i = 0; i < 3; ++i) rgb[i] = static_cast<std::uint8_t>((cmyk[i] * k + 127) / 255);
  }
}

void read_cmyk_rows(jpeg_read_state& st) {
  j_decompress_ptr c = &st.cinfo;
  JSAMPARRAY row = (*c->mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(c), JPOOL_IMAGE,
                                           c->output_width * 4, 1);
  while (c->output_scanline < c->output_height) {
    std::uint8_t* out = st.dst + static_cast<std::size_t>(c->output_scanline) * st.row_bytes;
    jpeg_read_scanlines(c, row, 1);
    cmyk_to_rgb(row[0], out, c->output_width);
  }
}

// Decodes every scanline straight into `st.dst` (via a row buffer for CMYK), then the trailer.
void read_image_step(jpeg_read_state& st) {
  j_decompress_ptr c = &st.cinfo;
  jpeg_start_decompress(c);
  if (c->output_width != c->image_width || c->output_height != c->image_height) {
    fail(st, "unexpected output size");  // cannot happen without scaling; never overrun dst
  }
  if (c->out_color_space == JCS_CMYK) {
    read_cmyk_rows(st);
  } else {
    JSAMPROW rows[16];
    while (c->output_scanline < c->output_height) {
      const JDIMENSION n = std::min<JDIMENSION>(16, c->output_height - c->output_scanline);
      for (JDIMENSION i = 0; i < n; ++i) {
        rows[i] = st.dst + static_cast<std::size_t>(c->output_scanline + i) * st.row_bytes;
      }
      jpeg_read_scanlines(c, rows, n);
    }
  }
  jpeg_finish_decompress(c);
}

// Owns the libjpeg decompressor of one read.
class jpeg_decoder {
 public:
  explicit jpeg_decoder(std::FILE* f) { st_.file = f; }
  ~jpeg_decoder() { jpeg_destroy_decompress(&st_.cinfo); }  // safe on a zeroed or failed one
  jpeg_decoder(const jpeg_decoder&) = delete;
  jpeg_decoder& operator=(const jpeg_decoder&) = delete;

  // Reads the markers up to the first scan and returns the image's info, limits checked.
  image_info read_header(std::uint64_t max_pixels) {
    run(read_header_step);
    const jpeg_decompress_struct& c = st_.cinfo;
    check_limits(c.image_width, c.image_height, max_pixels);
    int channels = 3;
    switch (c.jpeg_color_space) {
      case JCS_GRAYSCALE:
        channels = 1;
        break;
      case JCS_YCbCr:
      case JCS_RGB:
      case JCS_CMYK:
      case JCS_YCCK:
        break;
      default:
        throw image_error("unsupported JPEG colour space (" + std::to_string(c.num_components) +
                          " components)");
    }
    return {static_cast<int>(c.image_width), static_cast<int>(c.image_height), channels,
            format::jpeg};
  }

  void read_image(const image_info& info, std::uint8_t* dst) {
    const J_COLOR_SPACE in = st_.cinfo.jpeg_color_space;
    st_.cinfo.out_color_space = info.channels == 1                   ? JCS_GRAYSCALE
                                : (in == JCS_CMYK || in == JCS_YCCK) ? JCS_CMYK
                                                                     : JCS_RGB;
    st_.dst = dst;
    st_.row_bytes = row_bytes(info);
    run(read_image_step);
  }

 private:
  void run(void (*step)(jpeg_read_state&)) {
    if (run_guarded(st_, step)) return;
    if (std::ferror(st_.file)) throw image_error(errno_message("cannot read", errno));
    if (st_.truncated) throw image_error("truncated JPEG data");
    if (st_.too_many_scans) {
      throw image_error("corrupt JPEG data: more than " + std::to_string(max_scans) + " scans");
    }
    throw image_error(
        (is_unsupported(st_.error_code) ? "unsupported JPEG: " : "corrupt JPEG data: ") +
        std::string(st_.message));
  }

  // Valid JPEG that this libjpeg build does not decode (12-bit, lossless, ...).
  static bool is_unsupported(int code) {
    return code == JERR_BAD_PRECISION || code == JERR_SOF_UNSUPPORTED ||
           code == JERR_ARITH_NOTIMPL || code == JERR_NOT_COMPILED ||
           code == JERR_CONVERSION_NOTIMPL;
  }

  jpeg_read_state st_{};
};

}  // namespace

image_info probe_jpeg(std::FILE* f, std::uint64_t max_pixels) {
  jpeg_decoder dec(f);
  return dec.read_header(max_pixels);
}

image_info decode_jpeg(std::FILE* f, std::uint8_t* dst, std::size_t capacity,
                       std::uint64_t max_pixels) {
  return decode_with<jpeg_decoder>(f, dst, capacity, max_pixels);
}

}  // namespace pinpool::io::detail
