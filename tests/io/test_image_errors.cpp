// Bad inputs: each gives an image_error with a precise message, never a write beyond the
// destination, and for oversized headers no pixel-sized allocation at all.
#include "alloc_tracker.hpp"
#include "test_util.hpp"

#include <png.h>

namespace pinpool::io::test {
namespace {

constexpr std::uint64_t max_1e8 = 100'000'000;
constexpr const char* bomb_message = "100000x100000 pixels exceeds --max-pixels 100000000";

bytes text(const std::string& s) {
  return bytes(s.begin(), s.end());
}

// A valid noisy 40x30 RGB PNG written by write_png.
bytes valid_png(const temp_dir& dir) {
  const bytes rgb = random_bytes(40 * 30 * 3, 21);
  write_png(dir.path("valid.png"), rgb.data(), 40, 30, 3, 40 * 3);
  return read_file_bytes(dir.path("valid.png"));
}

bytes valid_jpeg(const temp_dir& dir) {
  jpeg_spec s;
  s.width = 64;
  s.height = 48;
  s.components = 3;
  s.pixels = random_bytes(64 * 48 * 3, 22);
  write_reference_jpeg(dir.path("valid.jpg"), s);
  return read_file_bytes(dir.path("valid.jpg"));
}

png_chunk first_chunk(const bytes& png, const std::string& type) {
  for (const png_chunk& c : png_chunks(png)) {
    if (c.type == type) return c;
  }
  ADD_FAILURE() << "no " << type << " chunk";
  return {0, 0, ""};
}

// ---- opening ----

TEST(BadInput, MissingFile) {
  temp_dir dir;
  EXPECT_EQ(probe_error(dir.path("nope.png")), "cannot open: No such file or directory");
  EXPECT_EQ(decode_error(dir.path("nope.png")), "cannot open: No such file or directory");
}

TEST(BadInput, Directory) {
  temp_dir dir;
  EXPECT_EQ(probe_error(dir.path(".")), "cannot open: Is a directory");
}

TEST(BadInput, EmptyFile) {
  temp_dir dir;
  write_file_bytes(dir.path("empty.png"), {});
  EXPECT_EQ(probe_error(dir.path("empty.png")), "empty file");
  EXPECT_EQ(decode_error(dir.path("empty.png")), "empty file");
}

// ---- signatures ----

TEST(BadInput, RandomBytesWithAPngName) {
  temp_dir dir;
  write_file_bytes(dir.path("noise.png"), random_bytes(5000, 23));
  EXPECT_EQ(probe_error(dir.path("noise.png")), "not an image (unknown signature)");
  EXPECT_EQ(decode_error(dir.path("noise.png")), "not an image (unknown signature)");
  write_file_bytes(dir.path("text.jpg"), text("hello"));
  EXPECT_EQ(probe_error(dir.path("text.jpg")), "not an image (unknown signature)");
  write_file_bytes(dir.path("text.ppm"), text("P1: BMW and Pf are not images"));
  EXPECT_EQ(probe_error(dir.path("text.ppm")), "not an image (unknown signature)");
}

struct foreign {
  const char* name;
  std::string head;
};

class UnsupportedFormat : public ::testing::TestWithParam<foreign> {};

TEST_P(UnsupportedFormat, IsNamed) {
  temp_dir dir;
  bytes file = text(GetParam().head);
  file.resize(64, 0);
  write_file_bytes(dir.path("x.png"), file);
  EXPECT_EQ(probe_error(dir.path("x.png")), std::string("unsupported format: ") + GetParam().name);
  EXPECT_EQ(decode_error(dir.path("x.png")), std::string("unsupported format: ") + GetParam().name);
}

INSTANTIATE_TEST_SUITE_P(
    Signatures, UnsupportedFormat,
    ::testing::Values(foreign{"GIF", "GIF89a\x01\x02"}, foreign{"GIF", "GIF87a"},
                      foreign{"BMP", std::string("BM6\0\0\0\0\0\0\0", 10)},
                      foreign{"TIFF", std::string("II*\0", 4)},
                      foreign{"TIFF", std::string("MM\0*", 4)},
                      foreign{"WebP", std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)},
                      foreign{"PBM", "P4\n1 1\n"}, foreign{"PAM", "P7\nWIDTH 1\n"}),
    [](const auto& p) { return std::string(p.param.name) + std::to_string(p.index); });

// ---- PNG ----

TEST(BadPng, CutInsideTheSignature) {
  temp_dir dir;
  write_file_bytes(dir.path("a.png"), {0x89, 'P', 'N'});
  EXPECT_EQ(probe_error(dir.path("a.png")), "truncated PNG data");
}

TEST(BadPng, CutInsideTheHeader) {
  temp_dir dir;
  bytes png = valid_png(dir);
  png.resize(20);
  write_file_bytes(dir.path("a.png"), png);
  EXPECT_EQ(probe_error(dir.path("a.png")), "truncated PNG data");
}

TEST(BadPng, CutInTheMiddleOfIdat) {
  temp_dir dir;
  bytes png = valid_png(dir);
  const png_chunk idat = first_chunk(png, "IDAT");
  png.resize(idat.offset + 8 + idat.length / 2);
  write_file_bytes(dir.path("a.png"), png);
  EXPECT_EQ(probe(dir.path("a.png"), max_1e8).width, 40);  // the header is intact
  EXPECT_EQ(decode_error(dir.path("a.png"), 40 * 30 * 3), "truncated PNG data");
}

TEST(BadPng, FlippedBytesInIdat) {
  temp_dir dir;
  bytes png = valid_png(dir);
  const png_chunk idat = first_chunk(png, "IDAT");
  for (std::size_t i = 0; i < 8; ++i) png[idat.offset + 8 + idat.length / 2 + i] ^= 0xff;
  write_file_bytes(dir.path("a.png"), png);
  // libpng inflates a chunk's data before it reaches the CRC: zlib or the row filters complain
  // first (here "bad adaptive filter value"); the CRC catches whatever they let through.
  const std::string msg = decode_error(dir.path("a.png"), 40 * 30 * 3);
  EXPECT_EQ(msg.rfind("corrupt PNG data: ", 0), 0u) << msg;
}

TEST(BadPng, WrongIdatCrc) {
  temp_dir dir;
  bytes png = valid_png(dir);
  const png_chunk idat = first_chunk(png, "IDAT");
  png[idat.offset + 8 + idat.length] ^= 0x01;  // first byte of the CRC
  write_file_bytes(dir.path("a.png"), png);
  EXPECT_EQ(decode_error(dir.path("a.png"), 40 * 30 * 3), "corrupt PNG data: IDAT: CRC error");
}

TEST(BadPng, BrokenZlibStreamWithAValidCrc) {
  temp_dir dir;
  bytes png = valid_png(dir);
  const png_chunk idat = first_chunk(png, "IDAT");
  png[idat.offset + 8] = 0x00;  // zlib header: compression method 0 does not exist
  png[idat.offset + 9] = 0x00;
  fix_png_crc(png, idat);
  write_file_bytes(dir.path("a.png"), png);
  const std::string msg = decode_error(dir.path("a.png"), 40 * 30 * 3);
  EXPECT_EQ(msg.rfind("corrupt PNG data: IDAT: ", 0), 0u) << msg;
}

TEST(BadPng, DecompressionBombHeaderIsRejectedBeforeAnyAllocation) {
  temp_dir dir;
  write_file_bytes(dir.path("bomb.png"), png_header_only(100000, 100000));
  reset_largest_new();
  EXPECT_EQ(probe_error(dir.path("bomb.png"), max_1e8), bomb_message);
  // No destination at all: the size check comes before the capacity check and any row.
  EXPECT_EQ(image_error_of([&] { decode(dir.path("bomb.png"), nullptr, 0, max_1e8); }),
            bomb_message);
  EXPECT_LT(largest_new(), std::size_t{1} << 20);
}

// An ancillary chunk declaring 1.3 GB, then the end of the file: refused at its header, before
// libpng allocates the declared length. Regression test of a pinpool_fuzz_decode_png finding:
// pinpool-pipeline took 1.3 GB of memory (max RSS) and 2 s on that 208-byte file, then said
// "truncated PNG data"; a message naming the chunk shows it was refused at its header.
TEST(BadPng, AHugeAncillaryChunkIsRefusedBeforeItIsAllocated) {
  temp_dir dir;
  const bytes good = valid_png(dir);
  const png_chunk ihdr = first_chunk(good, "IHDR");
  bytes png(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(ihdr.offset + 12 + 13));
  const bytes huge_itxt = {0x50, 0x4c, 0x54, 0x45, 'i', 'T', 'X', 't', 'p', 'n', 'g'};
  png.insert(png.end(), huge_itxt.begin(), huge_itxt.end());  // length 1347179589, 3 bytes
  write_file_bytes(dir.path("a.png"), png);
  const std::string expected = "corrupt PNG data: iTXt: chunk data is too large";
  EXPECT_EQ(probe_error(dir.path("a.png")), expected);
  EXPECT_EQ(decode_error(dir.path("a.png"), 40 * 30 * 3), expected);
}

TEST(BadPng, SidesOutsideTheLimits) {
  temp_dir dir;
  write_file_bytes(dir.path("zero.png"), png_header_only(0, 10));
  EXPECT_EQ(probe_error(dir.path("zero.png")), "invalid image size 0x10");
  write_file_bytes(dir.path("wide.png"), png_header_only(2'000'000, 1));
  EXPECT_EQ(probe_error(dir.path("wide.png")),
            "2000000x1 exceeds the largest side of 1048576 pixels");
  write_file_bytes(dir.path("huge.png"), png_header_only(0x80000000u, 0x80000000u));
  EXPECT_EQ(probe_error(dir.path("huge.png")),
            "2147483648x2147483648 exceeds the largest side of 1048576 pixels");
}

TEST(BadPng, MaxPixelsIsInclusive) {
  temp_dir dir;
  const bytes grey = random_bytes(20 * 10, 24);
  write_png(dir.path("a.png"), grey.data(), 20, 10, 1, 20);
  EXPECT_EQ(probe(dir.path("a.png"), 200).width, 20);
  EXPECT_EQ(probe_error(dir.path("a.png"), 199), "20x10 pixels exceeds --max-pixels 199");
}

TEST(BadPng, TooSmallADestinationIsNotWritten) {
  temp_dir dir;
  valid_png(dir);
  EXPECT_EQ(decode_error(dir.path("valid.png"), 40 * 30 * 3 - 1),
            "destination too small: 40x30x3 needs 3600 bytes, capacity is 3599");
}

// ---- JPEG ----

TEST(BadJpeg, CutInTheMiddleOfTheScan) {
  temp_dir dir;
  bytes jpg = valid_jpeg(dir);
  jpg.resize(jpg.size() / 2);
  write_file_bytes(dir.path("a.jpg"), jpg);
  EXPECT_EQ(probe(dir.path("a.jpg"), max_1e8).width, 64);
  EXPECT_EQ(decode_error(dir.path("a.jpg"), 64 * 48 * 3), "truncated JPEG data");
}

TEST(BadJpeg, CutInsideTheHeader) {
  temp_dir dir;
  bytes jpg = valid_jpeg(dir);
  jpg.resize(100);
  write_file_bytes(dir.path("a.jpg"), jpg);
  EXPECT_EQ(probe_error(dir.path("a.jpg")), "truncated JPEG data");
}

// The offset of the SOF0 marker of a baseline JPEG (found by walking the marker segments).
std::size_t sof0_offset(const bytes& jpg) {
  std::size_t at = 2;
  while (at + 9 < jpg.size() && !(jpg[at] == 0xff && jpg[at + 1] == 0xc0)) {
    at += 2 + (std::size_t{jpg[at + 2]} << 8 | jpg[at + 3]);
  }
  EXPECT_LT(at + 9, jpg.size()) << "no SOF0";
  return at;
}

TEST(BadJpeg, BogusMarkerLength) {
  temp_dir dir;
  bytes jpg = valid_jpeg(dir);
  const std::size_t sof = sof0_offset(jpg);
  jpg[sof + 2] = 0;
  jpg[sof + 3] = 3;  // SOF0 length 3: shorter than its fixed fields
  write_file_bytes(dir.path("a.jpg"), jpg);
  EXPECT_EQ(probe_error(dir.path("a.jpg")), "corrupt JPEG data: Bogus marker length");
}

TEST(BadJpeg, TwelveBitPrecisionIsUnsupported) {
  temp_dir dir;
  bytes jpg = valid_jpeg(dir);
  jpg[sof0_offset(jpg) + 4] = 12;  // sample precision
  write_file_bytes(dir.path("a.jpg"), jpg);
  EXPECT_EQ(probe_error(dir.path("a.jpg")), "unsupported JPEG: Unsupported JPEG data precision 12");
}

TEST(BadJpeg, GarbageAfterTheSignature) {
  temp_dir dir;
  bytes jpg{0xff, 0xd8, 0xff, 0x01};
  const bytes noise = random_bytes(500, 25);
  jpg.insert(jpg.end(), noise.begin(), noise.end());
  write_file_bytes(dir.path("a.jpg"), jpg);
  // libjpeg skips bytes that are not a marker: the file ends before a frame header is found.
  EXPECT_EQ(probe_error(dir.path("a.jpg")), "truncated JPEG data");
}

TEST(BadJpeg, OversizedFrameHeaderIsRejectedBeforeDecoding) {
  temp_dir dir;
  bytes jpg = valid_jpeg(dir);
  const std::size_t sof = sof0_offset(jpg);
  const std::uint8_t side[2] = {60000 >> 8, 60000 & 0xff};
  jpg[sof + 5] = jpg[sof + 7] = side[0];
  jpg[sof + 6] = jpg[sof + 8] = side[1];
  write_file_bytes(dir.path("a.jpg"), jpg);
  reset_largest_new();
  EXPECT_EQ(probe_error(dir.path("a.jpg"), max_1e8),
            "60000x60000 pixels exceeds --max-pixels 100000000");
  EXPECT_EQ(image_error_of([&] { decode(dir.path("a.jpg"), nullptr, 0, max_1e8); }),
            "60000x60000 pixels exceeds --max-pixels 100000000");
  EXPECT_LT(largest_new(), std::size_t{1} << 20);
}

// ---- PNM ----

TEST(BadPnm, TruncatedRaster) {
  temp_dir dir;
  bytes ppm = text("P6 10 10 255\n");
  const bytes half = random_bytes(150, 26);
  ppm.insert(ppm.end(), half.begin(), half.end());
  write_file_bytes(dir.path("a.ppm"), ppm);
  EXPECT_EQ(probe(dir.path("a.ppm"), max_1e8).height, 10);
  EXPECT_EQ(decode_error(dir.path("a.ppm"), 300), "truncated PNM data");
  write_file_bytes(dir.path("b.pgm"), text("P2 3 1 255 1 2"));
  EXPECT_EQ(decode_error(dir.path("b.pgm"), 3), "truncated PNM data");
}

TEST(BadPnm, OversizedHeaderIsRejectedBeforeAnyAllocation) {
  temp_dir dir;
  write_file_bytes(dir.path("a.ppm"), text("P6\n100000 100000\n255\n"));
  reset_largest_new();
  EXPECT_EQ(probe_error(dir.path("a.ppm"), max_1e8), bomb_message);
  EXPECT_EQ(image_error_of([&] { decode(dir.path("a.ppm"), nullptr, 0, max_1e8); }), bomb_message);
  EXPECT_LT(largest_new(), std::size_t{1} << 20);
}

TEST(BadPnm, CorruptHeaders) {
  temp_dir dir;
  const std::pair<const char*, const char*> cases[] = {
      {"P6 abc 10 255\n", "corrupt PNM header: bad width"},
      {"P5 4 4 0\n", "corrupt PNM header: maxval 0"},
      {"P5 4 4 70000\n", "corrupt PNM header: maxval 70000"},
      {"P5 99999999999 4 255\n", "corrupt PNM header: width too large"},
      {"P5 4 4", "truncated PNM data"},
      {"P5 0 4 255\n", "invalid image size 0x4"},
  };
  for (const auto& [header, message] : cases) {
    write_file_bytes(dir.path("a.pgm"), text(header));
    EXPECT_EQ(probe_error(dir.path("a.pgm")), message) << header;
  }
  write_file_bytes(dir.path("b.pgm"), text("P2 2 1 100 5 101"));
  EXPECT_EQ(decode_error(dir.path("b.pgm"), 2), "corrupt PNM data: sample exceeds maxval");
}

}  // namespace
}  // namespace pinpool::io::test
