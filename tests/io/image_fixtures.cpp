#include "image_fixtures.hpp"

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <png.h>
#include <stdexcept>
#include <zlib.h>

// jpeglib.h needs <cstdio> first.
// clang-format off
#include <jpeglib.h>
// clang-format on

namespace pinpool::io::test {
namespace fs = std::filesystem;

temp_dir::temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "pinpool-io-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::vector<std::string> temp_dir::entries() const {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bytes read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file_bytes(const std::string& path, const bytes& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

bytes random_bytes(std::size_t n, std::uint32_t seed) {
  bytes out(n);
  std::uint32_t s = seed * 2654435761u + 1u;
  for (auto& b : out) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    b = static_cast<std::uint8_t>(s >> 24);
  }
  return out;
}

bytes smooth_image(int width, int height, int channels) {
  bytes out(static_cast<std::size_t>(width) * height * channels);
  std::size_t i = 0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double blob = 100.0 * std::sin(x / 13.0) * std::cos(y / 17.0);
      const int v[4] = {x * 255 / std::max(width - 1, 1), y * 255 / std::max(height - 1, 1),
                        static_cast<int>(128 + blob), 200};
      for (int c = 0; c < channels; ++c) out[i++] = static_cast<std::uint8_t>(v[c]);
    }
  }
  return out;
}

// ---- PNG through libpng (its own setjmp buffer; the guarded function has no locals) ----

namespace {

struct png_job {
  png_structp png;
  png_infop info;
  std::FILE* file;
  const png_spec* spec;
  const png_color* palette;
  png_bytep* rows;
};

void png_job_step(png_job& j) {
  const png_spec& s = *j.spec;
  png_init_io(j.png, j.file);
  png_set_IHDR(j.png, j.info, static_cast<png_uint_32>(s.width), static_cast<png_uint_32>(s.height),
               s.bit_depth, s.color_type, s.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette_rgb.empty()) {
    png_set_PLTE(j.png, j.info, j.palette, static_cast<int>(s.palette_rgb.size() / 3));
  }
  if (!s.trns.empty()) {
    png_set_tRNS(j.png, j.info, s.trns.data(), static_cast<int>(s.trns.size()), nullptr);
  }
  if (s.trns_key >= 0) {
    const auto v = static_cast<png_uint_16>(s.trns_key);
    png_color_16 key{0, v, v, v, v};
    png_set_tRNS(j.png, j.info, nullptr, 0, &key);
  }
  png_write_info(j.png, j.info);
  png_write_image(j.png, j.rows);
  png_write_end(j.png, nullptr);
}

bool png_job_guarded(png_job& j) {
  if (setjmp(png_jmpbuf(j.png)) != 0) return false;
  png_job_step(j);
  return true;
}

}  // namespace

void write_reference_png(const std::string& path, const png_spec& spec) {
  std::vector<png_color> palette;
  for (std::size_t i = 0; i + 2 < spec.palette_rgb.size(); i += 3) {
    palette.push_back({spec.palette_rgb[i], spec.palette_rgb[i + 1], spec.palette_rgb[i + 2]});
  }
  std::vector<png_bytep> rows;
  bytes data = spec.rows;
  for (int y = 0; y < spec.height; ++y) rows.push_back(data.data() + y * spec.row_bytes);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot create " + path);
  png_job j{png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr),
            nullptr,
            f,
            &spec,
            palette.data(),
            rows.data()};
  j.info = png_create_info_struct(j.png);
  const bool ok = png_job_guarded(j);
  png_destroy_write_struct(&j.png, &j.info);
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) throw std::runtime_error("libpng could not write " + path);
}

// ---- JPEG through libjpeg ----

namespace {

struct jpeg_job {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  std::jmp_buf jmp;
  std::FILE* file;
  const jpeg_spec* spec;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_jpeg_error(j_common_ptr c) {
  auto* j = static_cast<jpeg_job*>(c->client_data);
  (*c->err->format_message)(c, j->message);
  std::longjmp(j->jmp, 1);
}

void jpeg_job_step(jpeg_job& j) {
  const jpeg_spec& s = *j.spec;
  jpeg_compress_struct& c = j.cinfo;
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, j.file);
  c.image_width = static_cast<JDIMENSION>(s.width);
  c.image_height = static_cast<JDIMENSION>(s.height);
  c.input_components = s.components;
  c.in_color_space = s.components == 1 ? JCS_GRAYSCALE : s.components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, s.quality, TRUE);
  if (s.progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  const std::size_t stride = static_cast<std::size_t>(s.width) * s.components;
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(s.pixels.data() + c.next_scanline * stride);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
}

bool jpeg_job_guarded(jpeg_job& j) {
  if (setjmp(j.jmp) != 0) return false;
  jpeg_job_step(j);
  return true;
}

}  // namespace

void write_reference_jpeg(const std::string& path, const jpeg_spec& spec) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot create " + path);
  jpeg_job j{};
  j.cinfo.err = jpeg_std_error(&j.err);
  j.err.error_exit = on_jpeg_error;
  j.cinfo.client_data = &j;
  j.file = f;
  j.spec = &spec;
  const bool ok = jpeg_job_guarded(j);
  jpeg_destroy_compress(&j.cinfo);
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) throw std::runtime_error(std::string("libjpeg: ") + j.message);
}

// ---- PNG chunk surgery ----

namespace {

std::uint32_t load_be32(const bytes& b, std::size_t at) {
  return std::uint32_t{b.at(at)} << 24 | std::uint32_t{b.at(at + 1)} << 16 |
         std::uint32_t{b.at(at + 2)} << 8 | b.at(at + 3);
}

void append_be32(bytes& b, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(v >> shift));
}

void append_chunk(bytes& file, const char* type, const bytes& data) {
  append_be32(file, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = file.size();
  file.insert(file.end(), type, type + 4);
  file.insert(file.end(), data.begin(), data.end());
  append_be32(file, static_cast<std::uint32_t>(
                        crc32(0, file.data() + start, static_cast<uInt>(file.size() - start))));
}

}  // namespace

std::vector<png_chunk> png_chunks(const bytes& file) {
  std::vector<png_chunk> chunks;
  for (std::size_t at = 8; at + 12 <= file.size();) {
    const std::uint32_t length = load_be32(file, at);
    chunks.push_back({at, length, std::string(file.begin() + at + 4, file.begin() + at + 8)});
    at += 12 + std::size_t{length};
  }
  return chunks;
}

void fix_png_crc(bytes& file, const png_chunk& chunk) {
  const std::size_t start = chunk.offset + 4;
  const auto crc = static_cast<std::uint32_t>(
      crc32(0, file.data() + start, static_cast<uInt>(4 + chunk.length)));
  for (int i = 0; i < 4; ++i) {
    file.at(start + 4 + chunk.length + i) = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  }
}

bytes png_header_only(std::uint32_t width, std::uint32_t height) {
  bytes file{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  bytes ihdr;
  append_be32(ihdr, width);
  append_be32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // 8-bit grey, deflate, no filter, no interlace
  append_chunk(file, "IHDR", ihdr);
  append_chunk(file, "IDAT", {0});
  append_chunk(file, "IEND", {});
  return file;
}

}  // namespace pinpool::io::test
