#pragma once
// Small helpers shared by the pinpool_image_io test files.

#include "image_fixtures.hpp"

#include <pinpool/io/image_io.hpp>

#include <gtest/gtest.h>
#include <string>
#include <utility>

namespace pinpool::io::test {

inline constexpr std::uint64_t default_max_pixels = 100'000'000;

/// @brief probe(), then decode() into a buffer of exactly the probed size.
inline std::pair<image_info, bytes> decode_file(const std::string& path,
                                                std::uint64_t max_pixels = default_max_pixels) {
  const image_info probed = probe(path, max_pixels);
  bytes pixels(static_cast<std::size_t>(probed.width) * probed.height * probed.channels);
  const image_info info = decode(path, pixels.data(), pixels.size(), max_pixels);
  EXPECT_EQ(info.width, probed.width);
  EXPECT_EQ(info.height, probed.height);
  EXPECT_EQ(info.channels, probed.channels);
  EXPECT_EQ(info.fmt, probed.fmt);
  return {info, pixels};
}

/// @brief The message of the image_error `f()` throws ("<no exception>" when it returns, or
/// "<other exception>: ..." for another type).
template <class F>
std::string image_error_of(F&& f) {
  try {
    f();
  } catch (const image_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<other exception>: ") + e.what();
  }
  return "<no exception>";
}

/// @brief The message of probe(path) failing.
inline std::string probe_error(const std::string& path,
                               std::uint64_t max_pixels = default_max_pixels) {
  return image_error_of([&] { probe(path, max_pixels); });
}

/// @brief The message of decode(path) failing, into a buffer big enough for any valid image of
/// the tests; also checks the bytes past `capacity` were left alone.
inline std::string decode_error(const std::string& path, std::size_t capacity = 1 << 20,
                                std::uint64_t max_pixels = default_max_pixels) {
  constexpr std::size_t guard = 64;
  bytes buf(capacity + guard, 0xa5);
  std::string msg = image_error_of([&] { decode(path, buf.data(), capacity, max_pixels); });
  for (std::size_t i = capacity; i < buf.size(); ++i) {
    if (buf[i] != 0xa5) {
      ADD_FAILURE() << "decode wrote beyond its capacity at +" << (i - capacity);
      break;
    }
  }
  return msg;
}

}  // namespace pinpool::io::test
