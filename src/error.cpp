#include <pinpool/error.hpp>
#include <pinpool/memory_kind.hpp>

#include <string>

namespace pinpool {

namespace {
std::string describe(const std::string& name, const std::string& message, const std::string& call,
                     const char* file, int line) {
  return call + " failed: " + name + ": " + message + " (" + file + ":" + std::to_string(line) +
         ")";
}
}  // namespace

cuda_error::cuda_error(int code, std::string name, const std::string& message,
                       const std::string& call, const char* file, int line)
    : backend_error(describe(name, message, call, file, line)),
      code_(code),
      name_(std::move(name)) {}

cuda_error::cuda_error(const std::string& message) : backend_error(message) {}

const char* to_string(memory_kind kind) noexcept {
  switch (kind) {
    case memory_kind::pinned_host:
      return "pinned_host";
    case memory_kind::device:
      return "device";
    case memory_kind::host:
      return "host";
  }
  return "unknown";
}

const char* to_string(backend_kind kind) noexcept {
  switch (kind) {
    case backend_kind::automatic:
      return "automatic";
    case backend_kind::cpu:
      return "cpu";
    case backend_kind::cuda:
      return "cuda";
  }
  return "unknown";
}

}  // namespace pinpool
