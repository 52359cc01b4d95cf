// pinpool-kernel-cli: runs one CPU kernel on a binary PGM (P5), PPM (P6) or PAM (P7, RGB_ALPHA)
// image and writes a PGM. Used by opencv_check.py to compare with OpenCV.

#include <pinpool/kernels/kernels.hpp>

#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace pinpool::kernels;

struct image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<std::uint8_t> pixels;
  const_image_view cview() const {
    return {pixels.data(), width, height, channels, static_cast<std::size_t>(width) * channels};
  }
  image_view view() {
    return {pixels.data(), width, height, channels, static_cast<std::size_t>(width) * channels};
  }
};

const char* usage_tail =
    "  IN     binary PGM (P5), PPM (P6, RGB) or PAM (P7, GRAYSCALE/RGB/RGB_ALPHA), maxval 255\n"
    "  SIGMA  Gaussian sigma for blur (default 1.0)\n"
    "Runs the CPU launcher of pinpool::kernels and writes a binary PGM.\n";

std::string usage() {
  return "usage: pinpool-kernel-cli STAGE IN OUT.pgm [SIGMA]\n  STAGE  " + stage_names(" | ") +
         "\n         (colour input to a stage that works on grey is converted with gray first)\n" +
         usage_tail;
}

std::string next_token(std::istream& in) {
  std::string token;
  while (in >> token) {
    if (token[0] != '#') return token;
    std::string rest;
    std::getline(in, rest);  // comment until end of line
  }
  throw std::runtime_error("truncated header");
}

void read_pam_header(std::istream& in, image& im) {
  int maxval = 0;
  for (std::string key = next_token(in); key != "ENDHDR"; key = next_token(in)) {
    if (key == "WIDTH") im.width = std::stoi(next_token(in));
    if (key == "HEIGHT") im.height = std::stoi(next_token(in));
    if (key == "DEPTH") im.channels = std::stoi(next_token(in));
    if (key == "MAXVAL") maxval = std::stoi(next_token(in));
    if (key == "TUPLTYPE") next_token(in);
  }
  if (maxval != 255) throw std::runtime_error("only maxval 255 is supported");
}

image read_pnm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  image im;
  const std::string magic = next_token(in);
  if (magic == "P7") {
    read_pam_header(in, im);
  } else if (magic == "P5" || magic == "P6") {
    im.channels = magic == "P5" ? 1 : 3;
    im.width = std::stoi(next_token(in));
    im.height = std::stoi(next_token(in));
    if (std::stoi(next_token(in)) != 255) throw std::runtime_error("only maxval 255 is supported");
  } else {
    throw std::runtime_error(path + ": not a binary PGM/PPM/PAM");
  }
  in.get();  // the single whitespace before the raster
  im.pixels.resize(static_cast<std::size_t>(im.width) * im.height * im.channels);
  in.read(reinterpret_cast<char*>(im.pixels.data()),
          static_cast<std::streamsize>(im.pixels.size()));
  if (!in) throw std::runtime_error(path + ": truncated raster");
  return im;
}

void write_pgm(const std::string& path, const image& im) {
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << im.width << ' ' << im.height << "\n255\n";
  out.write(reinterpret_cast<const char*>(im.pixels.data()),
            static_cast<std::streamsize>(im.pixels.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

image blank_like(const image& src) {
  image out;
  out.width = src.width;
  out.height = src.height;
  out.channels = 1;
  out.pixels.resize(static_cast<std::size_t>(src.width) * src.height);
  return out;
}

// Runs the row's CPU launcher; a colour input to a stage that needs grey is converted first.
image run(const stage_info& row, const image& input, const stage_params& params) {
  row.validate(params);
  image src = input;
  if (row.needs_grey && src.channels != 1) {
    image grey = blank_like(src);
    gray_cpu(src.cview(), grey.view());
    src = std::move(grey);
  }
  image dst = blank_like(src);
  std::vector<float> scratch((row.scratch_bytes(src.width, src.height) + sizeof(float) - 1) /
                             sizeof(float));
  row.cpu(src.cview(), dst.view(), params, scratch.data());
  return dst;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << usage();
    return 0;
  }
  if (args.size() < 3 || args.size() > 4) {
    std::cerr << usage();
    return 2;
  }
  const stage_info* row = nullptr;
  try {
    row = &stage_named(args[0]);
  } catch (const std::invalid_argument& e) {
    std::cerr << "pinpool-kernel-cli: " << e.what() << '\n' << usage();
    return 2;
  }
  try {
    const stage_params params{args.size() == 4 ? std::stof(args[3]) : 1.0f};
    write_pgm(args[2], run(*row, read_pnm(args[1]), params));
  } catch (const std::exception& e) {
    std::cerr << "pinpool-kernel-cli: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
