// write_image(): PNG (every level), JPEG and PGM/PPM written and read back, the format chosen by
// the extension, argument errors, and the failure rules for every format.
#include "test_util.hpp"

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <sys/stat.h>

namespace pinpool::io::test {
namespace {

// A deterministic image with edges, gradients and noise, `pitch` bytes per row (padding 0xee).
bytes make_image(int w, int h, int channels, std::size_t pitch) {
  bytes px(pitch * static_cast<std::size_t>(h), 0xee);
  unsigned seed = 12345;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w * channels; ++x) {
      seed = seed * 1103515245u + 12345u;
      const int edge = ((x / channels / 7 + y / 5) % 2) * 90;
      px[static_cast<std::size_t>(y) * pitch + x] =
          static_cast<std::uint8_t>((x + 3 * y + edge + ((seed >> 16) & 7)) & 0xff);
    }
  }
  return px;
}

// A smooth image (what JPEG is for): gradients only, no wrap-around.
bytes make_smooth(int w, int h, int channels) {
  bytes px(static_cast<std::size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < channels; ++c) {
        px[(static_cast<std::size_t>(y) * w + x) * channels + c] =
            static_cast<std::uint8_t>(20 + (x * 2 + y) * 160 / (2 * w + h) + 30 * c);
      }
    }
  }
  return px;
}

// The rows of `px` without their padding.
bytes packed(const bytes& px, int w, int h, int channels, std::size_t pitch) {
  bytes out;
  const std::size_t row = static_cast<std::size_t>(w) * channels;
  for (int y = 0; y < h; ++y) {
    out.insert(out.end(), px.begin() + static_cast<std::ptrdiff_t>(y * pitch),
               px.begin() + static_cast<std::ptrdiff_t>(y * pitch + row));
  }
  return out;
}

TEST(WriteImage, PngRoundTripsExactlyAtEveryLevel) {
  temp_dir dir;
  for (int channels : {1, 3}) {
    for (int level = min_png_level; level <= max_png_level; ++level) {
      const int w = 37;
      const int h = 23;
      const std::size_t pitch = static_cast<std::size_t>(w) * channels + 5;
      const bytes px = make_image(w, h, channels, pitch);
      const std::string path = dir.path("l" + std::to_string(level) + ".png");
      write_options opt;
      opt.png_level = level;
      write_image(path, px.data(), w, h, channels, pitch, opt);
      const auto [info, back] = decode_file(path);
      EXPECT_EQ(info.fmt, format::png);
      EXPECT_EQ(info.width, w);
      EXPECT_EQ(info.height, h);
      EXPECT_EQ(info.channels, channels);
      EXPECT_EQ(back, packed(px, w, h, channels, pitch)) << "level " << level;
    }
  }
}

TEST(WriteImage, PngLevelTradesSizeForTime) {
  temp_dir dir;
  const bytes px = make_image(256, 128, 1, 256);
  write_options stored;
  stored.png_level = 0;
  write_options smallest;
  smallest.png_level = 9;
  write_image(dir.path("0.png"), px.data(), 256, 128, 1, 256, stored);
  write_image(dir.path("9.png"), px.data(), 256, 128, 1, 256, smallest);
  const auto size0 = read_file_bytes(dir.path("0.png")).size();
  EXPECT_GT(size0, 256u * 128u);  // stored: every byte plus the filter bytes
  EXPECT_LT(read_file_bytes(dir.path("9.png")).size(), size0 * 3 / 4);
}

TEST(WriteImage, PnmRoundTripsExactly) {
  temp_dir dir;
  for (const auto& [name, channels] : {std::pair{"g.pgm", 1}, std::pair{"c.ppm", 3}}) {
    const int w = 31;
    const int h = 17;
    const std::size_t pitch = static_cast<std::size_t>(w) * channels + 3;
    const bytes px = make_image(w, h, channels, pitch);
    write_image(dir.path(name), px.data(), w, h, channels, pitch);
    const auto [info, back] = decode_file(dir.path(name));
    EXPECT_EQ(info.fmt, format::pnm);
    EXPECT_EQ(info.channels, channels);
    EXPECT_EQ(back, packed(px, w, h, channels, pitch)) << name;
    const bytes file = read_file_bytes(dir.path(name));
    const std::string magic = channels == 1 ? "P5\n31 17\n255\n" : "P6\n31 17\n255\n";
    EXPECT_EQ(std::string(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(magic.size())),
              magic);
  }
}

// JPEG is lossy: the decoded image is within a tolerance of what was written (smooth content,
// quality 90), closer at quality 100.
TEST(WriteImage, JpegRoundTripsWithinTolerance) {
  temp_dir dir;
  for (int channels : {1, 3}) {
    const int w = 64;
    const int h = 48;
    const bytes px = make_smooth(w, h, channels);
    double mean_at[2] = {0, 0};
    int i = 0;
    for (int quality : {90, 100}) {
      write_options opt;
      opt.jpeg_quality = quality;
      const std::string path = dir.path("q" + std::to_string(quality) + ".jpg");
      write_image(path, px.data(), w, h, channels, static_cast<std::size_t>(w) * channels, opt);
      const auto [info, back] = decode_file(path);
      EXPECT_EQ(info.fmt, format::jpeg);
      EXPECT_EQ(info.channels, channels);
      ASSERT_EQ(back.size(), px.size());
      int worst = 0;
      double sum = 0;
      for (std::size_t k = 0; k < px.size(); ++k) {
        const int d = std::abs(int{back[k]} - int{px[k]});
        worst = std::max(worst, d);
        sum += d;
      }
      mean_at[i++] = sum / static_cast<double>(px.size());
      EXPECT_LE(worst, 12) << "channels " << channels << " quality " << quality;
      EXPECT_LT(sum / static_cast<double>(px.size()), 2.0) << "quality " << quality;
    }
    EXPECT_LE(mean_at[1], mean_at[0]);
  }
}

TEST(WriteImage, FormatComesFromTheExtension) {
  EXPECT_EQ(format_for_path("a/b.png"), format::png);
  EXPECT_EQ(format_for_path("B.PNG"), format::png);
  EXPECT_EQ(format_for_path("c.jpg"), format::jpeg);
  EXPECT_EQ(format_for_path("d.JPEG"), format::jpeg);
  EXPECT_EQ(format_for_path("e.pgm"), format::pnm);
  EXPECT_EQ(format_for_path("f.ppm"), format::pnm);
  EXPECT_EQ(format_for_path("g.pnm"), format::pnm);
  EXPECT_EQ(format_for_path("h.gif"), std::nullopt);
  EXPECT_EQ(format_for_path("png"), std::nullopt);
  EXPECT_EQ(format_for_path("x.png/"), std::nullopt);
  EXPECT_STREQ(extension_of(format::png, 1), ".png");
  EXPECT_STREQ(extension_of(format::jpeg, 3), ".jpg");
  EXPECT_STREQ(extension_of(format::pnm, 1), ".pgm");
  EXPECT_STREQ(extension_of(format::pnm, 3), ".ppm");

  // The content follows the extension whatever it is; write_png() always writes PNG.
  temp_dir dir;
  const bytes px = make_image(8, 8, 1, 8);
  write_image(dir.path("a.pgm"), px.data(), 8, 8, 1, 8);
  write_image(dir.path("b.jpeg"), px.data(), 8, 8, 1, 8);
  write_png(dir.path("c.jpg"), px.data(), 8, 8, 1, 8);
  EXPECT_EQ(probe(dir.path("a.pgm"), default_max_pixels).fmt, format::pnm);
  EXPECT_EQ(probe(dir.path("b.jpeg"), default_max_pixels).fmt, format::jpeg);
  EXPECT_EQ(probe(dir.path("c.jpg"), default_max_pixels).fmt, format::png);
}

TEST(WriteImage, BadArgumentsAreInvalidArgumentAndWriteNothing) {
  temp_dir dir;
  const bytes px(64, 1);
  EXPECT_THROW(write_image(dir.path("x.gif"), px.data(), 4, 4, 1, 4), std::invalid_argument);
  EXPECT_THROW(write_image(dir.path("x"), px.data(), 4, 4, 1, 4), std::invalid_argument);
  for (int level : {-1, 10}) {
    write_options opt;
    opt.png_level = level;
    EXPECT_THROW(write_image(dir.path("x.png"), px.data(), 4, 4, 1, 4, opt), std::invalid_argument);
  }
  for (int quality : {0, 101}) {
    write_options opt;
    opt.jpeg_quality = quality;
    EXPECT_THROW(write_image(dir.path("x.jpg"), px.data(), 4, 4, 1, 4, opt), std::invalid_argument);
  }
  EXPECT_THROW(write_image(dir.path("x.pgm"), nullptr, 4, 4, 1, 4), std::invalid_argument);
  EXPECT_THROW(write_image(dir.path("x.jpg"), px.data(), 4, 4, 2, 8), std::invalid_argument);
  EXPECT_TRUE(dir.entries().empty());
}

// The failure rules of write_png hold for every format: the reason named, nothing left behind.
TEST(WriteImage, FailuresLeaveNothingForEveryFormat) {
  temp_dir dir;
  const bytes px(16, 0);
  for (const char* name : {"a.png", "b.jpg", "c.pgm"}) {
    const std::string target = dir.path(std::string("missing/") + name);
    EXPECT_EQ(image_error_of([&] { write_image(target, px.data(), 4, 4, 1, 4); }),
              "cannot write " + target + ": No such file or directory");
    ASSERT_EQ(::mkdir(dir.path(name).c_str(), 0755), 0);
    EXPECT_EQ(image_error_of([&] { write_image(dir.path(name), px.data(), 4, 4, 1, 4); }),
              "cannot write " + dir.path(name) + ": Is a directory");
  }
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"a.png", "b.jpg", "c.pgm"}));
}

// libjpeg's own limit (65500 pixels a side) is an image_error naming the file, not a crash.
TEST(WriteImage, JpegBeyondItsSizeLimitIsAnImageError) {
  temp_dir dir;
  const int w = 70000;
  const bytes px(static_cast<std::size_t>(w), 0);
  const std::string msg =
      image_error_of([&] { write_image(dir.path("wide.jpg"), px.data(), w, 1, 1, px.size()); });
  EXPECT_EQ(msg.rfind("cannot write " + dir.path("wide.jpg") + ": JPEG: ", 0), 0u) << msg;
  EXPECT_TRUE(dir.entries().empty());
}

}  // namespace
}  // namespace pinpool::io::test
