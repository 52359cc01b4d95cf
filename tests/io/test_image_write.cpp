// write_png failures (no partial file, no temporary left), the test pattern, the extension filter.
#include "test_util.hpp"

#include <csignal>
#include <set>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pinpool::io::test {
namespace {

TEST(WritePngFailure, MissingDirectory) {
  temp_dir dir;
  const bytes grey(16, 0);
  const std::string target = dir.path("no/such/dir/out.png");
  EXPECT_EQ(image_error_of([&] { write_png(target, grey.data(), 4, 4, 1, 4); }),
            "cannot write " + target + ": No such file or directory");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(WritePngFailure, TargetIsADirectoryLeavesNoTemporary) {
  temp_dir dir;
  ASSERT_EQ(::mkdir(dir.path("taken.png").c_str(), 0755), 0);
  const bytes grey(16, 0);
  EXPECT_EQ(image_error_of([&] { write_png(dir.path("taken.png"), grey.data(), 4, 4, 1, 4); }),
            "cannot write " + dir.path("taken.png") + ": Is a directory");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"taken.png"});
}

// In a child limited by RLIMIT_FSIZE (SIGXFSZ ignored, so write() fails with EFBIG), writing an
// incompressible image over an existing file fails: the old file is intact, no temporary stays.
TEST(WritePngFailure, FileSizeLimitLeavesNoPartialFile) {
  temp_dir dir;
  const std::string target = dir.path("out.png");
  write_file_bytes(target, bytes(100, 'o'));
  const bytes noise = random_bytes(256 * 256 * 3, 31);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{16384, 16384};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(3);
    const std::string msg =
        image_error_of([&] { write_png(target, noise.data(), 256, 256, 3, 256 * 3); });
    _exit(msg == "cannot write " + target + ": File too large" ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "write_png did not fail with EFBIG as expected";
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.png"});
  EXPECT_EQ(read_file_bytes(target), bytes(100, 'o'));
}

TEST(WritePngFailure, BadArgumentsAreInvalidArgument) {
  temp_dir dir;
  const bytes px(64, 0);
  const std::string p = dir.path("a.png");
  EXPECT_THROW(write_png(p, nullptr, 4, 4, 1, 4), std::invalid_argument);
  EXPECT_THROW(write_png(p, px.data(), 0, 4, 1, 4), std::invalid_argument);
  EXPECT_THROW(write_png(p, px.data(), 4, -1, 1, 4), std::invalid_argument);
  EXPECT_THROW(write_png(p, px.data(), max_side + 1, 1, 1, max_side + 1), std::invalid_argument);
  EXPECT_THROW(write_png(p, px.data(), 4, 4, 2, 8), std::invalid_argument);
  EXPECT_THROW(write_png(p, px.data(), 4, 4, 4, 16), std::invalid_argument);
  EXPECT_THROW(write_png(p, px.data(), 4, 4, 3, 11), std::invalid_argument);
  EXPECT_TRUE(dir.entries().empty());
}

// ---- test pattern ----

bytes pattern(int width, int height, int frame) {
  bytes rgb(static_cast<std::size_t>(width) * height * 3);
  generate_test_pattern(rgb.data(), width, height, frame);
  return rgb;
}

TEST(TestPattern, IsDeterministicAndMovesWithTheFrame) {
  EXPECT_EQ(pattern(320, 180, 5), pattern(320, 180, 5));
  EXPECT_NE(pattern(320, 180, 5), pattern(320, 180, 6));
  // The disc (a saturated orange) sits further right in a later frame.
  auto disc_x = [](const bytes& rgb) {
    const std::size_t row = 90 * 320 * 3;
    for (int x = 0; x < 320; ++x) {
      if (rgb[row + x * 3] > 235 && rgb[row + x * 3 + 2] < 40) return x;
    }
    return -1;
  };
  const int x10 = disc_x(pattern(320, 180, 10));
  const int x20 = disc_x(pattern(320, 180, 20));
  EXPECT_GE(x10, 0);
  EXPECT_GT(x20, x10);
}

TEST(TestPattern, HasEdgesGradientsAndLowContrastContent) {
  const int w = 640, h = 360;
  const bytes rgb = pattern(w, h, 0);  // frame 0: the disc is still off screen
  std::set<std::uint8_t> reds;
  int strong_edges = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 1; x < w; ++x) {
      const std::size_t i = (static_cast<std::size_t>(y) * w + x) * 3;
      reds.insert(rgb[i]);
      if (std::abs(int{rgb[i + 1]} - int{rgb[i - 2]}) > 100) ++strong_edges;
    }
  }
  EXPECT_GT(reds.size(), 200u);         // gradients and noise
  EXPECT_GT(strong_edges, w * h / 50);  // bars, stripes, checkerboard
  // The low-contrast band (fifth eighth) stays within a narrow grey range (+ noise).
  const std::size_t band = static_cast<std::size_t>(h * 9 / 16) * w * 3;
  for (int x = 0; x < w; ++x) {
    EXPECT_GE(rgb[band + x * 3], 90);
    EXPECT_LE(rgb[band + x * 3], 150);
  }
}

TEST(TestPattern, TinyAndEmptySizes) {
  EXPECT_EQ(pattern(1, 1, 0).size(), 3u);
  EXPECT_EQ(pattern(3, 2, -7), pattern(3, 2, -7));
  EXPECT_EQ(pattern(2, 9, 1000000).size(), 54u);
  bytes untouched(12, 0x5a);
  generate_test_pattern(untouched.data(), 0, 4, 0);
  generate_test_pattern(untouched.data(), 4, -1, 0);
  EXPECT_EQ(untouched, bytes(12, 0x5a));
}

// ---- extensions ----

TEST(SupportedExtension, IsCaseInsensitiveAndExact) {
  for (const char* yes :
       {"a.png", "b.PNG", "c.jpg", "d.JpEg", "e.pgm", "f.ppm", "g.PNM", "/x.y/z.jpeg"}) {
    EXPECT_TRUE(is_supported_extension(yes)) << yes;
  }
  for (const char* no : {"a.gif", "b.png.tmp", "c", "png", "d.jpgx", "e.tif", "/x.png/y", ""}) {
    EXPECT_FALSE(is_supported_extension(no)) << no;
  }
}

}  // namespace
}  // namespace pinpool::io::test
