#pragma once
// A backend that forwards every member to another one, to derive test decorators from
// (a spy, a planted bug), and `events_always_done`, the planted bug the hazard tests must catch.

#include <pinpool/backend.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

namespace pinpool_test {

class forwarding_backend : public pinpool::backend {
 public:
  explicit forwarding_backend(std::shared_ptr<pinpool::backend> inner) : inner_(std::move(inner)) {}

  pinpool::backend_kind kind() const noexcept override { return inner_->kind(); }
  const char* name() const noexcept override { return inner_->name(); }
  int device_count() const noexcept override { return inner_->device_count(); }
  pinpool::slab allocate(const pinpool::slab_request& r) override { return inner_->allocate(r); }
  void deallocate(const pinpool::slab& s) noexcept override { inner_->deallocate(s); }
  void* create_native_stream(int device) override { return inner_->create_native_stream(device); }
  void destroy_native_stream(void* h, int device) noexcept override {
    inner_->destroy_native_stream(h, device);
  }
  void memcpy_async(pinpool::stream_ref s, void* dst, const void* src, std::size_t n) override {
    inner_->memcpy_async(s, dst, src, n);
  }
  void launch_host_func(pinpool::stream_ref s, std::function<void()> fn) override {
    inner_->launch_host_func(s, std::move(fn));
  }
  void synchronize(pinpool::stream_ref s) override { inner_->synchronize(s); }
  std::uint64_t stream_id(void* h, int device) noexcept override {
    return inner_->stream_id(h, device);
  }
  int stream_device(void* h) override { return inner_->stream_device(h); }
  bool is_capturing(pinpool::stream_ref s) override { return inner_->is_capturing(s); }
  std::uint64_t capture_id(pinpool::stream_ref s) override { return inner_->capture_id(s); }
  bool stream_idle(pinpool::stream_ref s) override { return inner_->stream_idle(s); }
  void* create_event(int device) override { return inner_->create_event(device); }
  void destroy_event(void* e, int device) noexcept override { inner_->destroy_event(e, device); }
  void record_event(void* e, int device, pinpool::stream_ref s) override {
    inner_->record_event(e, device, s);
  }
  bool event_done(void* e, int device) override { return inner_->event_done(e, device); }
  void stream_wait_event(pinpool::stream_ref s, void* e, int device) override {
    inner_->stream_wait_event(s, e, device);
  }
  void synchronize_event(void* e, int device) override { inner_->synchronize_event(e, device); }

 protected:
  std::shared_ptr<pinpool::backend> inner_;
};

/// @brief A planted bug: every event claims to be complete, so a pool hands out chunks whose
/// stream-ordered release has not run yet (host waits and device-side waits stay honest).
/// Never trim a pool on it: the pool would unmap slabs that streams still write.
class events_always_done final : public forwarding_backend {
 public:
  using forwarding_backend::forwarding_backend;
  bool event_done(void*, int) override { return true; }
};

}  // namespace pinpool_test
