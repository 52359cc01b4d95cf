#include <pinpool/version.hpp>

namespace pinpool {

version_info version() noexcept {
  return {PINPOOL_VERSION_MAJOR, PINPOOL_VERSION_MINOR, PINPOOL_VERSION_PATCH};
}

const char* version_string() noexcept {
  return PINPOOL_VERSION_STRING;
}

}  // namespace pinpool
