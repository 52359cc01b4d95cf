#pragma once
/// @file version.hpp
/// @brief The version of the pinpool headers (macros) and of the library linked (`version()`),
/// which differ when an application is built against one release and runs with another.

#define PINPOOL_VERSION_MAJOR 0
#define PINPOOL_VERSION_MINOR 1
#define PINPOOL_VERSION_PATCH 0
/// "major.minor.patch"
#define PINPOOL_VERSION_STRING "0.1.0"
/// One comparable number: major * 10000 + minor * 100 + patch.
#define PINPOOL_VERSION \
  (PINPOOL_VERSION_MAJOR * 10000 + PINPOOL_VERSION_MINOR * 100 + PINPOOL_VERSION_PATCH)

namespace pinpool {

struct version_info {
  int major;
  int minor;
  int patch;
};

/// @brief The version of the pinpool library this program runs with.
version_info version() noexcept;
/// @brief The same as "major.minor.patch".
const char* version_string() noexcept;

}  // namespace pinpool
