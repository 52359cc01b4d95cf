// libFuzzer target: an image file through the decoder path exactly as pinpool-pipeline reads one
// (pipeline.cpp, frame_pipeline::read_frame): io::probe() by path (open, signature sniffing,
// header checks, the pixel-count limit), a pinned chunk of width * height * channels bytes from a
// pool, io::decode() into it. The input is a file in memory (a memfd opened by its
// /proc/self/fd path), so the public, path-based functions run unchanged.
//
// Built once per decoder (PINPOOL_FUZZ_DECODER: 1 PNG, 2 JPEG, 3 PNM): the PNG and JPEG targets
// run the path only on inputs with their signature (so that their time goes to their decoder;
// libFuzzer 14 cannot reject an input from the corpus), the PNM target on every other input, so
// that it also covers the sniffing of unknown, cut and foreign signatures.
//
// Besides ASan/UBSan, every input checks, and aborts on a violation:
// - only pinpool::io::image_error leaves probe() and decode(); decode() refuses what probe()
//   refuses, with the same message;
// - an accepted header is within the limits, names the format the signature selects, and has 1
//   or 3 channels; the same file one pixel over --max-pixels is refused by probe() and decode(),
//   and a capacity one byte short is refused, both before any byte of the chunk is written;
// - decode() returns what probe() said, and never writes past width * height * channels bytes
//   of the chunk (canary bytes behind them), whether it succeeds or fails.
#include <pinpool/io/image_io.hpp>
#include <pinpool/pinpool.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

#ifndef PINPOOL_FUZZ_DECODER
#error "define PINPOOL_FUZZ_DECODER: 1 PNG, 2 JPEG, 3 PNM"
#endif

namespace {

namespace io = pinpool::io;

// The largest image decoded: the path is the same at any limit, and small images keep the
// executions per second high.
constexpr std::uint64_t max_pixels = std::uint64_t{1} << 20;
constexpr std::size_t canary_bytes = 64;
constexpr std::uint8_t canary = 0xa5;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_decode: invariant broken: %s\n", what.c_str());
  std::abort();
}

// The input as a file with a path.
class memory_file {
 public:
  memory_file() : fd_(memfd_create("pinpool-fuzz-input", 0)) {
    if (fd_ < 0) fail("memfd_create failed");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  void assign(const std::uint8_t* data, std::size_t size) {
    if (ftruncate(fd_, 0) != 0) fail("ftruncate failed");
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) fail("pwrite failed");
      done += static_cast<std::size_t>(n);
    }
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

struct environment {
  memory_file file;
  pinpool::pool pinned{pinpool::make_backend(pinpool::backend_kind::cpu), [] {
                         pinpool::pool_options o;
                         o.kind = pinpool::memory_kind::pinned_host;
                         o.name = "pinned";
                         return o;
                       }()};
};

environment& env() {
  static environment e;
  return e;
}

bool starts_with(const std::uint8_t* data, std::size_t size, const char* sig, std::size_t len) {
  return size >= len && std::memcmp(data, sig, len) == 0;
}

// The decoder the signature selects (as image_io.cpp classifies): 3 for all but PNG and JPEG.
int selected_decoder(const std::uint8_t* data, std::size_t size) {
  if (starts_with(data, size, "\x89PNG\r\n\x1a\n", 8)) return 1;
  if (starts_with(data, size, "\xff\xd8\xff", 3)) return 2;
  return 3;
}

// Runs `f`, which must throw io::image_error; returns its message.
template <class F>
std::string refusal(F f, const char* what) {
  try {
    f();
  } catch (const io::image_error& e) {
    return e.what();
  }
  fail(std::string(what) + " was accepted");
}

bool untouched(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] != canary) return false;
  }
  return true;
}

void check_path(const std::string& path, int decoder) {
  io::image_info info{};
  try {
    info = io::probe(path, max_pixels);
  } catch (const io::image_error& e) {
    std::uint8_t guard[canary_bytes];
    std::memset(guard, canary, sizeof guard);
    const std::string again = refusal([&] { io::decode(path, guard, sizeof guard, max_pixels); },
                                      "a file probe() refused");
    if (again != e.what())
      fail("probe() said '" + std::string(e.what()) + "', decode() '" + again + "'");
    if (!untouched(guard, sizeof guard)) fail("decode() wrote into memory of a refused file");
    return;
  }
  const std::uint64_t pixels = std::uint64_t(info.width) * std::uint64_t(info.height);
  if (info.width < 1 || info.height < 1 || info.width > io::max_side || info.height > io::max_side)
    fail("a side outside [1, max_side] was accepted");
  if (pixels > max_pixels) fail("more pixels than --max-pixels were accepted");
  if (info.channels != 1 && info.channels != 3) fail("channels other than 1 or 3");
  if (static_cast<int>(info.fmt) + 1 != decoder) fail("the format differs from the signature");

  const std::size_t bytes = static_cast<std::size_t>(pixels) * std::size_t(info.channels);
  pinpool::buffer chunk = env().pinned.acquire(bytes + canary_bytes);
  auto* dst = static_cast<std::uint8_t*>(chunk.data());
  const std::size_t head = bytes < canary_bytes ? bytes : canary_bytes;

  // The pixel-count limit, one pixel short, and a capacity one byte short: refused before any
  // pixel is written.
  std::memset(dst, canary, head);
  if (pixels > 1) {
    const std::string m = refusal([&] { io::probe(path, pixels - 1); }, "a limit one pixel short");
    if (m.find("--max-pixels") == std::string::npos) fail("limit refused with '" + m + "'");
    refusal([&] { io::decode(path, dst, bytes, pixels - 1); }, "decode() one pixel short");
  }
  refusal([&] { io::decode(path, dst, bytes - 1, max_pixels); }, "a capacity one byte short");
  if (!untouched(dst, head)) fail("a refused decode() wrote pixels");

  // The decode itself, with canary bytes behind the image.
  std::memset(dst + bytes, canary, canary_bytes);
  try {
    const io::image_info got = io::decode(path, dst, bytes, max_pixels);
    if (got.width != info.width || got.height != info.height || got.channels != info.channels ||
        got.fmt != info.fmt) {
      fail("decode() returned other info than probe()");
    }
  } catch (const io::image_error&) {  // corrupt or truncated pixel data: a partial image
  }
  if (!untouched(dst + bytes, canary_bytes)) fail("decode() wrote past the image");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int decoder = selected_decoder(data, size);
  if (decoder != PINPOOL_FUZZ_DECODER) return 0;
  environment& e = env();
  e.file.assign(data, size);
  check_path(e.file.path(), decoder);
  return 0;
}
