// pinpool_io_fuzz_seeds <dir>: writes the seed corpora of the decoder fuzz targets
// (tests/fuzz/corpus-png, -jpeg, -pnm under <dir>) from the same fixtures tests/io decodes: PNGs
// and JPEGs written by libpng and libjpeg (every colour type, bit depth, interlacing, palette
// with tRNS, progressive and CMYK JPEG), binary and ASCII PNM of every maxval range, and the
// signatures of formats the reader refuses. Small images only: the seeds are committed.
#include "image_fixtures.hpp"

#include <cstdio>
#include <filesystem>
#include <png.h>
#include <string>

namespace {

using namespace pinpool::io::test;
namespace fs = std::filesystem;

bytes text(const std::string& s) {
  return bytes(s.begin(), s.end());
}

bytes concat(bytes a, const bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

png_spec png_of(int w, int h, int color_type, int depth, std::size_t row_bytes,
                std::uint32_t seed) {
  png_spec s;
  s.width = w;
  s.height = h;
  s.color_type = color_type;
  s.bit_depth = depth;
  s.row_bytes = row_bytes;
  s.rows = random_bytes(row_bytes * static_cast<std::size_t>(h), seed);
  return s;
}

jpeg_spec jpeg_of(int w, int h, int components, bool progressive, int quality) {
  jpeg_spec s;
  s.width = w;
  s.height = h;
  s.components = components;
  s.progressive = progressive;
  s.quality = quality;
  s.pixels = smooth_image(w, h, components);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
    return 2;
  }
  const fs::path root(argv[1]);
  const fs::path png = root / "corpus-png";
  const fs::path jpeg = root / "corpus-jpeg";
  const fs::path pnm = root / "corpus-pnm";
  for (const fs::path& d : {png, jpeg, pnm}) fs::create_directories(d);

  write_reference_png((png / "grey8.png").string(), png_of(7, 5, PNG_COLOR_TYPE_GRAY, 8, 7, 1));
  write_reference_png((png / "grey1.png").string(), png_of(10, 3, PNG_COLOR_TYPE_GRAY, 1, 2, 2));
  write_reference_png((png / "grey16.png").string(), png_of(3, 3, PNG_COLOR_TYPE_GRAY, 16, 6, 3));
  write_reference_png((png / "rgb8.png").string(), png_of(6, 4, PNG_COLOR_TYPE_RGB, 8, 18, 4));
  write_reference_png((png / "rgb16.png").string(), png_of(2, 2, PNG_COLOR_TYPE_RGB, 16, 12, 5));
  write_reference_png((png / "rgba8.png").string(),
                      png_of(4, 3, PNG_COLOR_TYPE_RGB_ALPHA, 8, 16, 6));
  write_reference_png((png / "greyalpha16.png").string(),
                      png_of(3, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 12, 7));
  png_spec palette = png_of(5, 2, PNG_COLOR_TYPE_PALETTE, 4, 3, 8);
  for (auto& b : palette.rows) b &= 0x77;  // indices 0..7
  palette.palette_rgb = random_bytes(8 * 3, 9);
  palette.trns = {0, 128, 255};
  write_reference_png((png / "palette4_trns.png").string(), palette);
  png_spec key = png_of(4, 4, PNG_COLOR_TYPE_RGB, 8, 12, 10);
  key.trns_key = 7;
  write_reference_png((png / "rgb_key.png").string(), key);
  png_spec interlaced = png_of(9, 9, PNG_COLOR_TYPE_RGB, 8, 27, 11);
  interlaced.interlaced = true;
  write_reference_png((png / "interlaced.png").string(), interlaced);

  write_reference_jpeg((jpeg / "grey.jpg").string(), jpeg_of(16, 8, 1, false, 75));
  write_reference_jpeg((jpeg / "rgb.jpg").string(), jpeg_of(17, 9, 3, false, 50));
  write_reference_jpeg((jpeg / "progressive.jpg").string(), jpeg_of(16, 16, 3, true, 60));
  write_reference_jpeg((jpeg / "cmyk.jpg").string(), jpeg_of(8, 8, 4, false, 50));

  write_file_bytes((pnm / "p6.ppm").string(),
                   concat(text("P6\n# comment\n3 2\n255\n"), random_bytes(18, 12)));
  write_file_bytes((pnm / "p5.pgm").string(), concat(text("P5 4 2 255 "), random_bytes(8, 13)));
  write_file_bytes((pnm / "p5_maxval15.pgm").string(),
                   concat(text("P5\n4 1\n15\n"), {0, 1, 8, 15}));
  write_file_bytes((pnm / "p6_16bit.ppm").string(),
                   concat(text("P6 1 1 65535\n"), {0x00, 0x00, 0x80, 0x80, 0xff, 0xff}));
  write_file_bytes((pnm / "p2.pgm").string(),
                   text("P2\n# c\n3 2\n255\n0 10 20\n# c2\n30 40 255\n"));
  write_file_bytes((pnm / "p3.ppm").string(), text("P3 2 1 1000 1 2 3   4 5 1000"));
  write_file_bytes((pnm / "gif.bin").string(), text("GIF89a\x01\x00\x01\x00"));
  write_file_bytes((pnm / "pbm.bin").string(), text("P4 8 1 \xff"));
  write_file_bytes((pnm / "png_cut.bin").string(), {0x89, 'P', 'N', 'G'});
  std::printf("seeds written under %s\n", root.string().c_str());
  return 0;
}
