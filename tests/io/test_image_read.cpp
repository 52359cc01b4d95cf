// Reading: PNG round trips through write_png, PNG variants written by libpng, PNM, JPEG written by
// libjpeg, signature-based detection, concurrent decodes.
#include "test_util.hpp"

#include <cstdlib>
#include <png.h>
#include <thread>

namespace pinpool::io::test {
namespace {

// ---- write_png -> decode round trips ----

struct shape {
  int width;
  int height;
  int channels;
};

class PngRoundTrip : public ::testing::TestWithParam<shape> {};

TEST_P(PngRoundTrip, DecodesExactlyWhatWasWritten) {
  const shape s = GetParam();
  temp_dir dir;
  const bytes pixels = random_bytes(static_cast<std::size_t>(s.width) * s.height * s.channels, 7);
  write_png(dir.path("x.png"), pixels.data(), s.width, s.height, s.channels,
            static_cast<std::size_t>(s.width) * s.channels);
  const auto [info, decoded] = decode_file(dir.path("x.png"));
  EXPECT_EQ(info.width, s.width);
  EXPECT_EQ(info.height, s.height);
  EXPECT_EQ(info.channels, s.channels);
  EXPECT_EQ(info.fmt, format::png);
  EXPECT_EQ(decoded, pixels);
}

INSTANTIATE_TEST_SUITE_P(Shapes, PngRoundTrip,
                         ::testing::Values(shape{1, 1, 1}, shape{1, 1, 3}, shape{2, 3, 1},
                                           shape{37, 23, 1}, shape{37, 23, 3}, shape{641, 1, 3},
                                           shape{1, 479, 1}, shape{257, 129, 3}),
                         [](const auto& p) {
                           return std::to_string(p.param.width) + "x" +
                                  std::to_string(p.param.height) + "x" +
                                  std::to_string(p.param.channels);
                         });

TEST(WritePng, SkipsThePaddingOfAPitchLargerThanARow) {
  temp_dir dir;
  const int w = 5, h = 4, pitch = 5 * 3 + 9;
  const bytes padded = random_bytes(static_cast<std::size_t>(pitch) * h, 3);
  write_png(dir.path("p.png"), padded.data(), w, h, 3, pitch);
  const auto [info, decoded] = decode_file(dir.path("p.png"));
  for (int y = 0; y < h; ++y) {
    for (int i = 0; i < w * 3; ++i) EXPECT_EQ(decoded[y * w * 3 + i], padded[y * pitch + i]);
  }
}

TEST(WritePng, ReplacesAnExistingFileAndLeavesNoTemporary) {
  temp_dir dir;
  write_file_bytes(dir.path("out.png"), bytes(1000, 'x'));
  const bytes grey = random_bytes(16 * 9, 11);
  write_png(dir.path("out.png"), grey.data(), 16, 9, 1, 16);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.png"});
  EXPECT_EQ(decode_file(dir.path("out.png")).second, grey);
}

// ---- PNG variants written by libpng itself ----

// A `width`x`height` PNG of colour type `ct`, bit depth `depth`, rows given in libpng layout.
png_spec spec_of(int width, int height, int ct, int depth, std::size_t row_bytes, bytes rows) {
  png_spec s;
  s.width = width;
  s.height = height;
  s.color_type = ct;
  s.bit_depth = depth;
  s.row_bytes = row_bytes;
  s.rows = std::move(rows);
  return s;
}

TEST(ReadPng, ProbeReportsSizeChannelsAndFormat) {
  temp_dir dir;
  write_reference_png(dir.path("a.png"),
                      spec_of(7, 5, PNG_COLOR_TYPE_RGB_ALPHA, 8, 28, random_bytes(7 * 5 * 4, 1)));
  const image_info info = probe(dir.path("a.png"), default_max_pixels);
  EXPECT_EQ(info.width, 7);
  EXPECT_EQ(info.height, 5);
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(info.fmt, format::png);
}

TEST(ReadPng, RgbaDropsAlphaToRgb) {
  temp_dir dir;
  const bytes rgba = random_bytes(9 * 4 * 4, 2);
  write_reference_png(dir.path("a.png"), spec_of(9, 4, PNG_COLOR_TYPE_RGB_ALPHA, 8, 36, rgba));
  const auto [info, rgb] = decode_file(dir.path("a.png"));
  ASSERT_EQ(info.channels, 3);
  for (std::size_t p = 0; p < 9 * 4; ++p) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(rgb[p * 3 + c], rgba[p * 4 + c]);
  }
}

TEST(ReadPng, GreyAlphaDropsAlphaToGrey) {
  temp_dir dir;
  const bytes ga = random_bytes(6 * 5 * 2, 3);
  write_reference_png(dir.path("a.png"), spec_of(6, 5, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 12, ga));
  const auto [info, grey] = decode_file(dir.path("a.png"));
  ASSERT_EQ(info.channels, 1);
  for (std::size_t p = 0; p < 6 * 5; ++p) EXPECT_EQ(grey[p], ga[p * 2]);
}

// 16-bit samples v * 257 (big-endian) must come back as v.
bytes sixteen_bit_of(const bytes& eight) {
  bytes out;
  for (std::uint8_t v : eight) out.insert(out.end(), {v, v});
  return out;
}

TEST(ReadPng, SixteenBitRgbIsReducedToEightBits) {
  temp_dir dir;
  const bytes rgb = random_bytes(5 * 3 * 3, 4);
  write_reference_png(dir.path("a.png"),
                      spec_of(5, 3, PNG_COLOR_TYPE_RGB, 16, 30, sixteen_bit_of(rgb)));
  const auto [info, decoded] = decode_file(dir.path("a.png"));
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(decoded, rgb);
}

TEST(ReadPng, SixteenBitGreyAlphaIsReducedToEightBitGrey) {
  temp_dir dir;
  const bytes ga = random_bytes(4 * 4 * 2, 5);
  write_reference_png(dir.path("a.png"),
                      spec_of(4, 4, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 16, sixteen_bit_of(ga)));
  const auto [info, grey] = decode_file(dir.path("a.png"));
  ASSERT_EQ(info.channels, 1);
  for (std::size_t p = 0; p < 16; ++p) EXPECT_EQ(grey[p], ga[p * 2]);
}

TEST(ReadPng, PaletteIsExpandedToRgb) {
  temp_dir dir;
  png_spec s = spec_of(8, 3, PNG_COLOR_TYPE_PALETTE, 8, 8, bytes(24));
  s.palette_rgb = random_bytes(16 * 3, 6);
  for (std::size_t i = 0; i < s.rows.size(); ++i) s.rows[i] = static_cast<std::uint8_t>(i % 16);
  write_reference_png(dir.path("a.png"), s);
  const auto [info, rgb] = decode_file(dir.path("a.png"));
  ASSERT_EQ(info.channels, 3);
  for (std::size_t p = 0; p < 24; ++p) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(rgb[p * 3 + c], s.palette_rgb[(p % 16) * 3 + c]);
  }
}

TEST(ReadPng, FourBitPaletteWithTransparencyGivesRgb) {
  temp_dir dir;
  png_spec s = spec_of(5, 2, PNG_COLOR_TYPE_PALETTE, 4, 3, {0x01, 0x23, 0x40, 0x56, 0x78, 0x90});
  s.palette_rgb = random_bytes(10 * 3, 8);
  s.trns = {0, 128, 255};
  write_reference_png(dir.path("a.png"), s);
  const auto [info, rgb] = decode_file(dir.path("a.png"));
  ASSERT_EQ(info.channels, 3);
  const int index[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  for (std::size_t p = 0; p < 10; ++p) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(rgb[p * 3 + c], s.palette_rgb[index[p] * 3 + c]);
  }
}

TEST(ReadPng, ColourKeyTransparencyIsIgnored) {
  temp_dir dir;
  png_spec grey = spec_of(6, 2, PNG_COLOR_TYPE_GRAY, 8, 6, random_bytes(12, 14));
  grey.trns_key = grey.rows[3];
  write_reference_png(dir.path("g.png"), grey);
  const auto [ginfo, g] = decode_file(dir.path("g.png"));
  EXPECT_EQ(ginfo.channels, 1);
  EXPECT_EQ(g, grey.rows);
  png_spec rgb = spec_of(2, 2, PNG_COLOR_TYPE_RGB, 8, 6, bytes(12, 7));
  rgb.trns_key = 7;  // every pixel is the transparent colour
  write_reference_png(dir.path("c.png"), rgb);
  const auto [cinfo, c] = decode_file(dir.path("c.png"));
  EXPECT_EQ(cinfo.channels, 3);
  EXPECT_EQ(c, rgb.rows);
}

TEST(ReadPng, OneBitGreyIsExpandedToBlackAndWhite) {
  temp_dir dir;
  write_reference_png(dir.path("a.png"), spec_of(10, 1, PNG_COLOR_TYPE_GRAY, 1, 2, {0xa5, 0x80}));
  const auto [info, grey] = decode_file(dir.path("a.png"));
  ASSERT_EQ(info.channels, 1);
  EXPECT_EQ(grey, (bytes{255, 0, 255, 0, 0, 255, 0, 255, 255, 0}));
}

TEST(ReadPng, InterlacedDecodesLikeNonInterlaced) {
  temp_dir dir;
  png_spec s = spec_of(13, 11, PNG_COLOR_TYPE_RGB, 8, 39, random_bytes(13 * 11 * 3, 9));
  s.interlaced = true;
  write_reference_png(dir.path("a.png"), s);
  EXPECT_EQ(decode_file(dir.path("a.png")).second, s.rows);
}

// ---- PNM ----

bytes text(const std::string& s) {
  return bytes(s.begin(), s.end());
}

bytes concat(bytes a, const bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(ReadPnm, BinaryPpm) {
  temp_dir dir;
  const bytes rgb = random_bytes(5 * 3 * 3, 10);
  write_file_bytes(dir.path("a.ppm"), concat(text("P6\n# made by a test\n5 3\n255\n"), rgb));
  const auto [info, decoded] = decode_file(dir.path("a.ppm"));
  EXPECT_EQ(info.fmt, format::pnm);
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(decoded, rgb);
}

TEST(ReadPnm, BinaryPgm) {
  temp_dir dir;
  const bytes grey = random_bytes(7 * 2, 11);
  write_file_bytes(dir.path("a.pgm"), concat(text("P5 7 2 255 "), grey));
  const auto [info, decoded] = decode_file(dir.path("a.pgm"));
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.width, 7);
  EXPECT_EQ(decoded, grey);
}

TEST(ReadPnm, AsciiPgmAndPpmWithComments) {
  temp_dir dir;
  write_file_bytes(dir.path("a.pgm"), text("P2\n# comment\n3 2\n255\n0 10 20\n# c2\n30 40 255\n"));
  EXPECT_EQ(decode_file(dir.path("a.pgm")).second, (bytes{0, 10, 20, 30, 40, 255}));
  write_file_bytes(dir.path("a.ppm"), text("P3 2 1 255\n1 2 3   4 5 6"));
  const auto [info, rgb] = decode_file(dir.path("a.ppm"));
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(rgb, (bytes{1, 2, 3, 4, 5, 6}));
}

TEST(ReadPnm, SmallMaxvalIsScaledTo255) {
  temp_dir dir;
  write_file_bytes(dir.path("a.pgm"), concat(text("P5\n4 1\n15\n"), {0, 1, 8, 15}));
  EXPECT_EQ(decode_file(dir.path("a.pgm")).second, (bytes{0, 17, 136, 255}));
  write_file_bytes(dir.path("b.pgm"), text("P2 3 1 1 0 1 1"));
  EXPECT_EQ(decode_file(dir.path("b.pgm")).second, (bytes{0, 255, 255}));
}

TEST(ReadPnm, SixteenBitIsReducedToEightBits) {
  temp_dir dir;
  write_file_bytes(dir.path("a.ppm"),
                   concat(text("P6 1 1 65535\n"), {0x00, 0x00, 0x80, 0x80, 0xff, 0xff}));
  EXPECT_EQ(decode_file(dir.path("a.ppm")).second, (bytes{0, 128, 255}));
  write_file_bytes(dir.path("b.pgm"), text("P2 2 1 1000 0 1000"));
  EXPECT_EQ(decode_file(dir.path("b.pgm")).second, (bytes{0, 255}));
}

// ---- JPEG written by libjpeg ----

// Mean and largest absolute difference of two equally sized images.
std::pair<double, int> difference(const bytes& a, const bytes& b) {
  double sum = 0;
  int worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const int d = std::abs(int{a[i]} - int{b[i]});
    sum += d;
    worst = std::max(worst, d);
  }
  return {sum / static_cast<double>(a.size()), worst};
}

jpeg_spec jpeg_of(int width, int height, int components, bool progressive = false) {
  jpeg_spec s;
  s.width = width;
  s.height = height;
  s.components = components;
  s.progressive = progressive;
  s.pixels = smooth_image(width, height, components);
  return s;
}

void expect_jpeg_decodes_close(const jpeg_spec& s, int channels) {
  temp_dir dir;
  write_reference_jpeg(dir.path("a.jpg"), s);
  const auto [info, decoded] = decode_file(dir.path("a.jpg"));
  EXPECT_EQ(info.fmt, format::jpeg);
  EXPECT_EQ(info.width, s.width);
  EXPECT_EQ(info.height, s.height);
  ASSERT_EQ(info.channels, channels);
  ASSERT_EQ(decoded.size(), static_cast<std::size_t>(s.width) * s.height * channels);
  if (channels == s.components) {
    const auto [mean, worst] = difference(decoded, s.pixels);
    EXPECT_LT(mean, 2.0);
    EXPECT_LT(worst, 24);
  }
}

TEST(ReadJpeg, RgbDecodesWithinTolerance) {
  expect_jpeg_decodes_close(jpeg_of(67, 45, 3), 3);
}

TEST(ReadJpeg, GreyGivesOneChannel) {
  expect_jpeg_decodes_close(jpeg_of(40, 33, 1), 1);
}

TEST(ReadJpeg, ProgressiveDecodesWithinTolerance) {
  expect_jpeg_decodes_close(jpeg_of(64, 48, 3, true), 3);
}

TEST(ReadJpeg, CmykIsConvertedToRgb) {
  jpeg_spec s = jpeg_of(16, 16, 4);
  for (std::size_t p = 0; p < 256; ++p) {  // inverted CMYK: no ink except a half key
    s.pixels[p * 4 + 0] = 255;
    s.pixels[p * 4 + 1] = p < 128 ? 255 : 0;  // lower half: full magenta
    s.pixels[p * 4 + 2] = 255;
    s.pixels[p * 4 + 3] = 128;
  }
  temp_dir dir;
  write_reference_jpeg(dir.path("a.jpg"), s);
  const auto [info, rgb] = decode_file(dir.path("a.jpg"));
  ASSERT_EQ(info.channels, 3);
  EXPECT_NEAR(rgb[0], 128, 6);  // top: grey 128
  EXPECT_NEAR(rgb[1], 128, 6);
  EXPECT_NEAR(rgb[200 * 3 + 0], 128, 6);  // bottom: R and B kept, G removed
  EXPECT_NEAR(rgb[200 * 3 + 1], 0, 6);
  EXPECT_NEAR(rgb[200 * 3 + 2], 128, 6);
}

// ---- detection and concurrency ----

TEST(Detect, FormatComesFromTheSignatureNotTheName) {
  temp_dir dir;
  const bytes grey = random_bytes(4 * 4, 12);
  write_png(dir.path("png.jpg"), grey.data(), 4, 4, 1, 4);
  EXPECT_EQ(probe(dir.path("png.jpg"), default_max_pixels).fmt, format::png);
  write_reference_jpeg(dir.path("jpeg.png"), jpeg_of(8, 8, 3));
  EXPECT_EQ(probe(dir.path("jpeg.png"), default_max_pixels).fmt, format::jpeg);
  write_file_bytes(dir.path("pnm"), concat(text("P5 4 4 255\n"), grey));
  EXPECT_EQ(decode_file(dir.path("pnm")).second, grey);
}

TEST(Decode, ConcurrentDecodesAreIndependent) {
  temp_dir dir;
  const bytes rgb = random_bytes(61 * 47 * 3, 13);
  write_png(dir.path("good.png"), rgb.data(), 61, 47, 3, 61 * 3);
  write_reference_jpeg(dir.path("good.jpg"), jpeg_of(61, 47, 3));
  bytes cut = read_file_bytes(dir.path("good.png"));
  cut.resize(cut.size() / 2);
  write_file_bytes(dir.path("cut.png"), cut);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      bytes buf(61 * 47 * 3);
      for (int i = 0; i < 25; ++i) {
        if (decode(dir.path("good.png"), buf.data(), buf.size(), default_max_pixels).width != 61 ||
            buf != rgb) {
          ++failures[t];
        }
        decode(dir.path("good.jpg"), buf.data(), buf.size(), default_max_pixels);
        if (image_error_of([&] {
              decode(dir.path("cut.png"), buf.data(), buf.size(), default_max_pixels);
            }) != "truncated PNG data") {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace pinpool::io::test
