// The C entry points of libpinpool_torch.so (pinpool_torch.h) over one process-wide
// torch_plugin::allocator. Nothing here throws: every failure is logged, then turned into a null
// return (or an abort, as configured).

#include "pinpool_torch.h"
#include "torch_allocator.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/log.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>

#define PINPOOL_TORCH_EXPORT __attribute__((visibility("default")))

namespace {

using pinpool::torch_plugin::allocator;
using pinpool::torch_plugin::config;
using pinpool::torch_plugin::failure_policy;

struct plugin {
  std::unique_ptr<allocator> alloc;  // null when setting up failed
  std::string setup_error;           // why
  failure_policy on_failure = failure_policy::null;
};

plugin& the_plugin() noexcept;

void write_stats_at_exit() {
  the_plugin().alloc->write_stats();
}

/// Reads the environment and makes the CUDA backend, once. The plugin is never destroyed:
/// PyTorch may free tensors while the process exits, after static destructors ran.
plugin* set_up() noexcept {
  auto* p = new (std::nothrow) plugin;
  if (p == nullptr) return nullptr;
  // The failure policy first, so that it applies to the other variables' errors too.
  const char* policy = std::getenv("PINPOOL_TORCH_ON_FAILURE");
  if (policy != nullptr && std::strcmp(policy, "abort") == 0) p->on_failure = failure_policy::abort;
  try {
    config cfg = pinpool::torch_plugin::read_config([](const char* n) { return std::getenv(n); });
    const bool dump = !cfg.stats.empty();
    p->alloc = std::make_unique<allocator>(pinpool::make_backend(pinpool::backend_kind::cuda),
                                           std::move(cfg));
    // Registered after the CUDA runtime's own teardown (make_backend called the runtime), so it
    // runs before it: the dump may still query events.
    if (dump) std::atexit(write_stats_at_exit);
  } catch (const std::exception& e) {
    p->setup_error = e.what();
  }
  return p;
}

plugin& the_plugin() noexcept {
  static plugin* const p = set_up();  // thread-safe initialisation
  if (p == nullptr) std::abort();     // out of memory before anything else: nothing to report on
  return *p;
}

/// Logs `what` for `call`, then aborts or returns (per PINPOOL_TORCH_ON_FAILURE).
void fail(const plugin& p, const std::string& call, const char* what) noexcept {
  pinpool::detail::log_message("pinpool torch allocator: %s failed: %s", call.c_str(), what);
  if (p.on_failure == failure_policy::abort) std::abort();
}

std::string describe(const char* fn, void* ptr, ssize_t size, int device) {
  std::string s = std::string(fn) + "(";
  if (ptr != nullptr) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%p, ", ptr);
    s += buf.data();
  }
  return s + std::to_string(size) + " bytes, device " + std::to_string(device) + ")";
}

}  // namespace

extern "C" PINPOOL_TORCH_EXPORT void* pinpool_alloc(ssize_t size, int device,
                                                    struct CUstream_st* stream) noexcept {
  plugin& p = the_plugin();
  try {
    if (!p.alloc) {
      fail(p, describe("pinpool_alloc", nullptr, size, device), p.setup_error.c_str());
      return nullptr;
    }
    return p.alloc->allocate(size, device, stream);
  } catch (const std::exception& e) {
    fail(p, describe("pinpool_alloc", nullptr, size, device), e.what());
  } catch (...) {
    fail(p, describe("pinpool_alloc", nullptr, size, device), "unknown exception");
  }
  return nullptr;
}

extern "C" PINPOOL_TORCH_EXPORT void pinpool_free(void* ptr, ssize_t size, int device,
                                                  struct CUstream_st* stream) noexcept {
  if (ptr == nullptr) return;
  plugin& p = the_plugin();
  try {
    if (!p.alloc) {
      fail(p, describe("pinpool_free", ptr, size, device), p.setup_error.c_str());
      return;
    }
    p.alloc->deallocate(ptr, device, stream);
  } catch (const std::exception& e) {
    fail(p, describe("pinpool_free", ptr, size, device), e.what());
  } catch (...) {
    fail(p, describe("pinpool_free", ptr, size, device), "unknown exception");
  }
}
