#include "cpu_backend.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/error.hpp>
#include <pinpool/log.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#ifdef PINPOOL_HAS_CUDA
#include "cuda_backend.hpp"
#endif

namespace pinpool {
namespace {

// One line per process, unless PINPOOL_QUIET is set to something other than 0.
void log_fallback(const std::string& reason) {
  static std::atomic<bool> said{false};
  const char* quiet = std::getenv("PINPOOL_QUIET");
  if ((quiet != nullptr && std::string(quiet) != "0") || said.exchange(true)) return;
  ::pinpool::detail::log_message("pinpool: using the CPU backend: %s", reason.c_str());
}

}  // namespace

bool built_with_cuda() noexcept {
#ifdef PINPOOL_HAS_CUDA
  return true;
#else
  return false;
#endif
}

std::shared_ptr<backend> make_backend(backend_kind kind) {
  switch (kind) {
    case backend_kind::cpu:
      return detail::make_cpu_backend();
    case backend_kind::cuda:
#ifdef PINPOOL_HAS_CUDA
      return detail::make_cuda_backend();
#else
      throw cuda_error("pinpool: the CUDA backend is not available: built with PINPOOL_CUDA=OFF");
#endif
    case backend_kind::automatic:
      break;
  }
#ifdef PINPOOL_HAS_CUDA
  const std::string reason = detail::cuda_unusable_reason();
  if (reason.empty()) return detail::make_cuda_backend();
  log_fallback("no usable CUDA device (" + reason + ")");
#else
  log_fallback("built without CUDA (PINPOOL_CUDA=OFF)");
#endif
  return detail::make_cpu_backend();
}

}  // namespace pinpool
