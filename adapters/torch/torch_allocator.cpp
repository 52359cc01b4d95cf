#include "torch_allocator.hpp"

#include <pinpool/log.hpp>
#include <pinpool/pool_options.hpp>
#include <pinpool/pool_stats.hpp>
#include <pinpool/stream.hpp>

#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace pinpool::torch_plugin {

namespace {

[[noreturn]] void bad_value(const char* variable, const char* text, const char* expected) {
  throw std::invalid_argument(std::string("pinpool torch allocator: ") + variable + "='" + text +
                              "': expected " + expected);
}

constexpr const char* bytes_expected =
    "a byte count such as 1073741824, 512M or 8GiB (suffixes K, M, G, T, KiB, MiB, GiB, TiB)";

/// The value of `variable`, or null when it is unset or empty.
const char* value_of(const std::function<const char*(const char*)>& getenv, const char* variable) {
  const char* v = getenv(variable);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

std::size_t parse_bytes(const char* variable, const char* text) {
  const char* c = text;
  if (std::isdigit(static_cast<unsigned char>(*c)) == 0) bad_value(variable, text, bytes_expected);
  constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
  std::size_t n = 0;
  for (; std::isdigit(static_cast<unsigned char>(*c)) != 0; ++c) {
    const auto digit = static_cast<std::size_t>(*c - '0');
    if (n > (max - digit) / 10) bad_value(variable, text, "a byte count that fits in 64 bits");
    n = n * 10 + digit;
  }
  static constexpr std::array<std::pair<const char*, unsigned>, 9> suffixes{{
      {"", 0},
      {"K", 10},
      {"M", 20},
      {"G", 30},
      {"T", 40},
      {"KiB", 10},
      {"MiB", 20},
      {"GiB", 30},
      {"TiB", 40},
  }};
  for (const auto& [suffix, shift] : suffixes) {
    if (std::strcmp(c, suffix) != 0) continue;
    if (n > (max >> shift)) bad_value(variable, text, "a byte count that fits in 64 bits");
    return n << shift;
  }
  bad_value(variable, text, bytes_expected);
}

config read_config(const std::function<const char*(const char*)>& getenv) {
  config c;
  if (const char* v = value_of(getenv, "PINPOOL_TORCH_MAX_BYTES")) {
    c.max_bytes = parse_bytes("PINPOOL_TORCH_MAX_BYTES", v);
  }
  if (const char* v = value_of(getenv, "PINPOOL_TORCH_SLAB_BYTES")) {
    c.slab_bytes = parse_bytes("PINPOOL_TORCH_SLAB_BYTES", v);
    if (c.slab_bytes == 0) bad_value("PINPOOL_TORCH_SLAB_BYTES", v, "a size above 0");
  }
  if (const char* v = value_of(getenv, "PINPOOL_TORCH_STATS")) {
    c.stats = v;
    if (c.stats != "stderr" && !std::ofstream(c.stats, std::ios::trunc)) {
      bad_value("PINPOOL_TORCH_STATS", v,
                "'stderr' or a file path that can be written (this one cannot be opened)");
    }
  }
  if (const char* v = value_of(getenv, "PINPOOL_TORCH_ON_FAILURE")) {
    if (std::strcmp(v, "null") == 0) {
      c.on_failure = failure_policy::null;
    } else if (std::strcmp(v, "abort") == 0) {
      c.on_failure = failure_policy::abort;
    } else {
      bad_value("PINPOOL_TORCH_ON_FAILURE", v, "'null' or 'abort'");
    }
  }
  return c;
}

allocator::allocator(std::shared_ptr<backend> be, config cfg)
    : be_(std::move(be)), cfg_(std::move(cfg)) {
  if (!be_ || be_->kind() != backend_kind::cuda) {
    throw std::invalid_argument("pinpool torch allocator: needs a CUDA backend");
  }
}

allocator::~allocator() {
  for (auto& p : pools_) delete p.load(std::memory_order_acquire);
}

pool& allocator::get(int device) {
  if (device < 0 || device >= be_->device_count() || device >= max_devices) {
    throw std::invalid_argument("pinpool torch allocator: device " + std::to_string(device) +
                                " out of range (" + std::to_string(be_->device_count()) +
                                " CUDA devices)");
  }
  auto& slot = pools_[static_cast<std::size_t>(device)];
  if (pool* p = slot.load(std::memory_order_acquire)) return *p;
  std::lock_guard<std::mutex> lock(create_);
  if (pool* p = slot.load(std::memory_order_relaxed)) return *p;  // another thread made it
  pool_options o;
  o.kind = memory_kind::device;
  o.device = device;
  o.max_bytes = cfg_.max_bytes;
  o.slab_bytes = cfg_.slab_bytes;
  o.first_slab_bytes = cfg_.slab_bytes;
  o.acquire_timeout = std::chrono::milliseconds{0};  // PyTorch does not retry: fail at once
  const std::string name = "torch:cuda" + std::to_string(device);
  o.name = name.c_str();  // the pool keeps its own copy
  auto* p = new pool(be_, o);
  slot.store(p, std::memory_order_release);
  return *p;
}

pool* allocator::find(int device) const noexcept {
  if (device < 0 || device >= max_devices) return nullptr;
  return pools_[static_cast<std::size_t>(device)].load(std::memory_order_acquire);
}

void* allocator::allocate(std::ptrdiff_t size, int device, CUstream_st* stream) {
  if (size < 0) {
    throw std::invalid_argument("pinpool torch allocator: negative size " + std::to_string(size));
  }
  if (size == 0) return nullptr;  // as PyTorch's own allocator: no memory for empty tensors
  pool& p = get(device);
  // A foreign stream: wrapping asks the runtime for its device (the pool refuses another
  // device's) and its identity.
  return p.allocate(static_cast<std::size_t>(size), stream_ref{*be_, stream});
}

void allocator::deallocate(void* ptr, int device, CUstream_st* stream) {
  if (ptr == nullptr) return;
  pool* p = find(device);
  if (p == nullptr) {
    throw std::invalid_argument("pinpool torch allocator: free of " +
                                std::to_string(reinterpret_cast<std::uintptr_t>(ptr)) +
                                " on device " + std::to_string(device) +
                                ", where no pinpool memory was ever allocated");
  }
  std::optional<stream_ref> s;
  try {
    s.emplace(*be_, stream);
  } catch (const std::exception& e) {
    detail::log_message(
        "pinpool torch allocator: free of %p on a stream pinpool cannot wrap (%s); "
        "released behind the stream it was allocated on instead",
        ptr, e.what());
  }
  if (s) {
    p->deallocate(ptr, *s);
  } else {
    p->deallocate(ptr);
  }
}

std::string allocator::stats_json() const {
  std::string out = "{\"devices\":[";
  bool first = true;
  for (int d = 0; d < max_devices; ++d) {
    const pool* p = find(d);
    if (p == nullptr) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"device\":" + std::to_string(d) + ",\"stats\":" + p->stats().to_json() + "}";
  }
  return out + "]}";
}

void allocator::write_stats() const noexcept {
  if (cfg_.stats.empty()) return;
  try {
    const std::string json = stats_json();
    if (cfg_.stats == "stderr") {
      std::fprintf(stderr, "pinpool torch allocator stats: %s\n", json.c_str());
      return;
    }
    std::ofstream f(cfg_.stats, std::ios::trunc);
    f << json << '\n';
    if (!f) {
      detail::log_message("pinpool torch allocator: could not write stats to '%s'",
                          cfg_.stats.c_str());
    }
  } catch (const std::exception& e) {
    detail::log_message("pinpool torch allocator: stats not written: %s", e.what());
  }
}

}  // namespace pinpool::torch_plugin
