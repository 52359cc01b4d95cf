// JPEG writing with libjpeg(-turbo), into memory (jpeg_mem_dest).
//
// As in jpeg_read.cpp, libjpeg's error_exit longjmps back into run_guarded(), the only setjmp of
// this file, which has no locals; the guarded step and the callbacks hold only trivially
// destructible locals, so no C++ destructor is ever skipped.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>

// jpeglib.h needs <cstdio> first.
#include "io_detail.hpp"

#include <jpeglib.h>

namespace pinpool::io::detail {
namespace {

// State shared by the guarded step and the libjpeg callbacks. Trivially destructible.
struct jpeg_write_state {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  const std::uint8_t* pixels;
  std::size_t pitch;
  int width;
  int height;
  int channels;
  int quality;
  unsigned char* encoded;  // malloc'ed by libjpeg's memory destination
  unsigned long encoded_size;
  bool created;
  std::jmp_buf jmp;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_jpeg_error(j_common_ptr c) {
  auto* st = static_cast<jpeg_write_state*>(c->client_data);
  (*c->err->format_message)(c, st->message);
  std::longjmp(st->jmp, 1);
}

void compress_step(jpeg_write_state& st) {
  st.cinfo.err = jpeg_std_error(&st.err);
  st.err.error_exit = on_jpeg_error;
  st.cinfo.client_data = &st;
  jpeg_create_compress(&st.cinfo);
  st.created = true;
  jpeg_mem_dest(&st.cinfo, &st.encoded, &st.encoded_size);
  st.cinfo.image_width = static_cast<JDIMENSION>(st.width);
  st.cinfo.image_height = static_cast<JDIMENSION>(st.height);
  st.cinfo.input_components = st.channels;
  st.cinfo.in_color_space = st.channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&st.cinfo);
  jpeg_set_quality(&st.cinfo, st.quality, TRUE);
  jpeg_start_compress(&st.cinfo, TRUE);
  while (st.cinfo.next_scanline < st.cinfo.image_height) {
    // libjpeg's API takes non-const rows; it only reads them.
    auto* row = const_cast<JSAMPLE*>(st.pixels + st.cinfo.next_scanline * st.pitch);
    jpeg_write_scanlines(&st.cinfo, &row, 1);
  }
  jpeg_finish_compress(&st.cinfo);
}

bool run_guarded(jpeg_write_state& st) {
  if (setjmp(st.jmp) != 0) return false;
  compress_step(st);
  return true;
}

}  // namespace

void encode_jpeg(byte_buffer& out, const std::uint8_t* pixels, int width, int height, int channels,
                 std::size_t pitch, int quality) {
  jpeg_write_state st{};
  st.pixels = pixels;
  st.pitch = pitch;
  st.width = width;
  st.height = height;
  st.channels = channels;
  st.quality = quality;
  const bool ok = run_guarded(st);
  if (st.created) jpeg_destroy_compress(&st.cinfo);
  if (ok) out.assign(st.encoded, st.encoded + st.encoded_size);
  std::free(st.encoded);
  if (!ok) throw image_error(std::string("JPEG: ") + st.message);
}

}  // namespace pinpool::io::detail
