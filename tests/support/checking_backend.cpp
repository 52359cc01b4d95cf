#include "support/checking_backend.hpp"

#include <pinpool/error.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace pinpool_test {
namespace {

// The source of `poison_async`'s copies: static, so it outlives every enqueued copy.
constexpr std::size_t poison_source_bytes = std::size_t{64} << 10;
const unsigned char* poison_source() {
  static const auto* const source = [] {
    static unsigned char bytes[poison_source_bytes];
    std::memset(bytes, poison_byte, sizeof bytes);
    return bytes;
  }();
  return source;
}

std::string describe(const void* p, std::size_t bytes, pinpool::memory_kind kind, int device,
                     bool page_locked) {
  std::ostringstream o;
  o << p << " (" << bytes << " bytes, " << pinpool::to_string(kind) << ", device " << device
    << (page_locked ? ", page-locked" : "") << ")";
  return o.str();
}

std::string describe(const pinpool::slab& s) {
  return describe(s.ptr, s.bytes, s.kind, s.device, s.page_locked);
}

std::uintptr_t address(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}

}  // namespace

bool is_poisoned(const void* p, std::size_t n) noexcept {
  const auto* b = static_cast<const volatile unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    if (b[i] != poison_byte) return false;
  }
  return true;
}

checking_backend::checking_backend(std::shared_ptr<pinpool::backend> inner)
    : inner_(std::move(inner)) {
  if (!inner_) throw std::invalid_argument("checking_backend: no backend to wrap");
  (void)poison_source();  // initialised before any stream worker may copy from it
}

checking_backend::~checking_backend() {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool dirty =
      !violations_.empty() || !slabs_.empty() || !events_.empty() || !streams_.empty();
  if (dirty) std::fprintf(stderr, "%s\n", report_locked().c_str());
}

std::shared_ptr<checking_backend> checking_backend::wrap(std::shared_ptr<pinpool::backend> inner) {
  return std::make_shared<checking_backend>(std::move(inner));
}

void checking_backend::violation(std::string what) const {
  std::fprintf(stderr, "checking_backend: violation: %s\n", what.c_str());
  std::lock_guard<std::mutex> lock(mutex_);
  violations_.push_back(std::move(what));
}

checking_backend::slab_map::const_iterator checking_backend::find_range(const void* p,
                                                                        std::size_t n) const {
  const std::uintptr_t a = address(p);
  auto it = slabs_.upper_bound(a);
  if (it == slabs_.begin()) return slabs_.end();
  --it;
  if (a - it->first > it->second.bytes || n > it->second.bytes - (a - it->first)) {
    return slabs_.end();
  }
  return it;
}

bool checking_backend::host_accessible(pinpool::memory_kind kind) const noexcept {
  return kind != pinpool::memory_kind::device || inner_->kind() == pinpool::backend_kind::cpu;
}

// ---- memory ---------------------------------------------------------------------------------

pinpool::slab checking_backend::allocate(const pinpool::slab_request& r) {
  const pinpool::slab s = inner_->allocate(r);
  std::string bad;
  if (s.ptr == nullptr) bad += " null pointer;";
  if (address(s.ptr) % 256 != 0) bad += " not 256-byte aligned;";
  if (s.bytes != r.bytes) bad += " size differs from the request;";
  if (s.kind != r.kind) bad += " kind differs from the request;";
  if (s.device != r.device) bad += " device differs from the request;";
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (s.ptr != nullptr) {
      const std::uintptr_t a = address(s.ptr);
      auto next = slabs_.lower_bound(a);
      const bool overlaps_next = next != slabs_.end() && next->first < a + s.bytes;
      const bool overlaps_prev =
          next != slabs_.begin() && std::prev(next)->first + std::prev(next)->second.bytes > a;
      if (overlaps_next || overlaps_prev) {
        bad += " overlaps a live slab;";
      } else {
        slabs_.emplace(a, slab_info{s.bytes, s.kind, s.device, s.page_locked});
      }
    }
    ++allocated_;
  }
  if (!bad.empty()) violation("allocate returned " + describe(s) + ":" + bad);
  if (s.ptr != nullptr && host_accessible(s.kind)) std::memset(s.ptr, poison_byte, s.bytes);
  return s;
}

void checking_backend::deallocate(const pinpool::slab& s) noexcept {
  std::string bad;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = slabs_.find(address(s.ptr));
    if (it == slabs_.end()) {
      bad = "deallocate of an unknown slab (never allocated, or freed already) " + describe(s);
    } else {
      const slab_info& k = it->second;
      if (k.bytes != s.bytes || k.kind != s.kind || k.device != s.device ||
          k.page_locked != s.page_locked) {
        bad = "deallocate of " + describe(s) + " but the slab allocated there is " +
              describe(s.ptr, k.bytes, k.kind, k.device, k.page_locked);
      } else {
        slabs_.erase(it);
        ++deallocated_;
      }
    }
  }
  if (!bad.empty()) {
    violation(std::move(bad) + " (not forwarded)");
    return;
  }
  if (host_accessible(s.kind)) std::memset(s.ptr, poison_byte, s.bytes);
  inner_->deallocate(s);
}

// ---- streams --------------------------------------------------------------------------------

void* checking_backend::create_native_stream(int device) {
  void* h = inner_->create_native_stream(device);
  std::lock_guard<std::mutex> lock(mutex_);
  streams_.insert(h);
  ++streams_created_;
  return h;
}

void checking_backend::destroy_native_stream(void* handle, int device) noexcept {
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    known = streams_.erase(handle) != 0;
  }
  if (!known) {
    std::ostringstream o;
    o << "destroy_native_stream of an unknown stream " << handle << " (not forwarded)";
    violation(o.str());
    return;
  }
  inner_->destroy_native_stream(handle, device);
}

void checking_backend::memcpy_async(pinpool::stream_ref s, void* dst, const void* src,
                                    std::size_t bytes) {
  inner_->memcpy_async(s, dst, src, bytes);
}

void checking_backend::launch_host_func(pinpool::stream_ref s, std::function<void()> fn) {
  inner_->launch_host_func(s, std::move(fn));
}

void checking_backend::synchronize(pinpool::stream_ref s) {
  inner_->synchronize(s);
}

std::uint64_t checking_backend::stream_id(void* handle, int device) noexcept {
  return inner_->stream_id(handle, device);
}

int checking_backend::stream_device(void* handle) {
  return inner_->stream_device(handle);
}

bool checking_backend::is_capturing(pinpool::stream_ref s) {
  return inner_->is_capturing(s);
}

std::uint64_t checking_backend::capture_id(pinpool::stream_ref s) {
  return inner_->capture_id(s);
}

bool checking_backend::stream_idle(pinpool::stream_ref s) {
  return inner_->stream_idle(s);
}

// ---- events ---------------------------------------------------------------------------------

bool checking_backend::known_event(void* event, const char* call) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (events_.count(event) != 0) return true;
  }
  std::ostringstream o;
  o << call << " of an unknown event " << event << " (never created, or destroyed already; not "
    << "forwarded)";
  violation(o.str());
  return false;
}

void* checking_backend::create_event(int device) {
  void* e = inner_->create_event(device);
  std::lock_guard<std::mutex> lock(mutex_);
  events_.insert(e);
  ++events_created_;
  return e;
}

void checking_backend::destroy_event(void* event, int device) noexcept {
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    known = events_.erase(event) != 0;
  }
  if (!known) {
    std::ostringstream o;
    o << "destroy_event of an unknown event " << event << " (not forwarded)";
    violation(o.str());
    return;
  }
  inner_->destroy_event(event, device);
}

void checking_backend::record_event(void* event, int device, pinpool::stream_ref s) {
  if (!known_event(event, "record_event")) {
    throw pinpool::backend_error("checking_backend: record_event of an unknown event");
  }
  inner_->record_event(event, device, s);
}

bool checking_backend::event_done(void* event, int device) {
  if (!known_event(event, "event_done")) {
    throw pinpool::backend_error("checking_backend: event_done of an unknown event");
  }
  return inner_->event_done(event, device);
}

void checking_backend::stream_wait_event(pinpool::stream_ref s, void* event, int device) {
  if (!known_event(event, "stream_wait_event")) {
    throw pinpool::backend_error("checking_backend: stream_wait_event of an unknown event");
  }
  inner_->stream_wait_event(s, event, device);
}

void checking_backend::synchronize_event(void* event, int device) {
  if (!known_event(event, "synchronize_event")) {
    throw pinpool::backend_error("checking_backend: synchronize_event of an unknown event");
  }
  inner_->synchronize_event(event, device);
}

// ---- poisoning ------------------------------------------------------------------------------

void checking_backend::poison(void* p, std::size_t n) {
  bool inside = false;
  bool accessible = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = find_range(p, n);
    inside = it != slabs_.end();
    accessible = inside && host_accessible(it->second.kind);
  }
  if (!inside || !accessible) {
    std::ostringstream o;
    o << "poison of " << n << " bytes at " << p
      << (inside ? ": memory the host cannot access" : ": outside every live slab");
    violation(o.str());
    return;
  }
  std::memset(p, poison_byte, n);
}

void checking_backend::poison_async(pinpool::stream_ref s, void* p, std::size_t n) {
  bool inside = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    inside = find_range(p, n) != slabs_.end();
  }
  if (!inside) {
    std::ostringstream o;
    o << "poison_async of " << n << " bytes at " << p << ": outside every live slab";
    violation(o.str());
    return;
  }
  auto* d = static_cast<unsigned char*>(p);
  for (std::size_t done = 0; done < n; done += poison_source_bytes) {
    inner_->memcpy_async(s, d + done, poison_source(), std::min(poison_source_bytes, n - done));
  }
}

// ---- findings -------------------------------------------------------------------------------

std::vector<std::string> checking_backend::violations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return violations_;
}

std::size_t checking_backend::violation_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return violations_.size();
}

std::size_t checking_backend::leaked_slabs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return slabs_.size();
}

std::size_t checking_backend::leaked_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t total = 0;
  for (const auto& [a, k] : slabs_) total += k.bytes;
  return total;
}

std::size_t checking_backend::live_events() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_.size();
}

std::size_t checking_backend::live_streams() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return streams_.size();
}

std::uint64_t checking_backend::slabs_allocated() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return allocated_;
}

std::uint64_t checking_backend::slabs_deallocated() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return deallocated_;
}

bool checking_backend::clean() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return violations_.empty() && slabs_.empty() && events_.empty() && streams_.empty();
}

std::string checking_backend::report() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return report_locked();
}

std::string checking_backend::report_locked() const {
  constexpr std::size_t most = 16;
  std::ostringstream o;
  std::size_t live_bytes = 0;
  for (const auto& [a, k] : slabs_) live_bytes += k.bytes;
  o << "checking_backend(" << inner_->name() << "): " << allocated_ << " slabs allocated, "
    << deallocated_ << " deallocated, " << slabs_.size() << " alive (" << live_bytes << " bytes); "
    << events_created_ << " events created, " << events_.size() << " alive; " << streams_created_
    << " streams created, " << streams_.size() << " alive; " << violations_.size()
    << " violation(s)";
  std::size_t shown = 0;
  for (const auto& [a, k] : slabs_) {
    if (shown++ == most) {
      o << "\n  ...";
      break;
    }
    o << "\n  alive: "
      << describe(reinterpret_cast<const void*>(a), k.bytes, k.kind, k.device, k.page_locked);
  }
  for (std::size_t i = 0; i < violations_.size() && i < most; ++i) {
    o << "\n  violation: " << violations_[i];
  }
  if (violations_.size() > most) o << "\n  ...";
  return o.str();
}

}  // namespace pinpool_test
