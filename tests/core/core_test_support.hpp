#pragma once
// Helpers for the unit tests of the pool core's pieces (src/core/): fake slab memory (the pieces
// never touch chunk memory) and a backend that counts event calls around the CPU backend.

#include "cpu_backend.hpp"

#include <pinpool/backend.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace pinpool_core_test {

/// Host memory standing in for backend slabs: each slab is aligned to `alignment` (a power of
/// two) inside a std::vector<std::byte> kept alive by this object.
class fake_slabs {
 public:
  pinpool::slab make(std::size_t bytes, std::size_t alignment = 256,
                     pinpool::memory_kind kind = pinpool::memory_kind::host,
                     bool page_locked = false) {
    buffers_.emplace_back(bytes + alignment);
    auto raw = reinterpret_cast<std::uintptr_t>(buffers_.back().data());
    const auto aligned = (raw + alignment - 1) / alignment * alignment;
    pinpool::slab s;
    s.ptr = reinterpret_cast<void*>(aligned);
    s.bytes = bytes;
    s.kind = kind;
    s.device = 0;
    s.page_locked = page_locked;
    return s;
  }

 private:
  std::vector<std::vector<std::byte>> buffers_;
};

/// A backend forwarding to the CPU backend, with `devices` devices (every one maps to the CPU
/// backend's device 0), that records each destroy_event call.
class counting_backend final : public pinpool::backend {
 public:
  explicit counting_backend(int devices = 1)
      : inner_(pinpool::detail::make_cpu_backend()), devices_(devices) {}

  std::vector<std::pair<void*, int>> destroyed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return destroyed_;
  }
  int created() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return created_;
  }

  pinpool::backend_kind kind() const noexcept override { return inner_->kind(); }
  const char* name() const noexcept override { return "counting"; }
  int device_count() const noexcept override { return devices_; }
  pinpool::slab allocate(const pinpool::slab_request& r) override {
    pinpool::slab_request q = r;
    q.device = 0;
    return inner_->allocate(q);
  }
  void deallocate(const pinpool::slab& s) noexcept override { inner_->deallocate(s); }
  void* create_native_stream(int) override { return inner_->create_native_stream(0); }
  void destroy_native_stream(void* h, int) noexcept override {
    inner_->destroy_native_stream(h, 0);
  }
  void memcpy_async(pinpool::stream_ref s, void* dst, const void* src, std::size_t n) override {
    inner_->memcpy_async(s, dst, src, n);
  }
  void launch_host_func(pinpool::stream_ref s, std::function<void()> fn) override {
    inner_->launch_host_func(s, std::move(fn));
  }
  void synchronize(pinpool::stream_ref s) override { inner_->synchronize(s); }
  std::uint64_t stream_id(void* h, int) noexcept override { return inner_->stream_id(h, 0); }
  int stream_device(void* h) override { return inner_->stream_device(h); }
  bool is_capturing(pinpool::stream_ref s) override { return inner_->is_capturing(s); }
  void* create_event(int) override {
    void* e = inner_->create_event(0);
    std::lock_guard<std::mutex> lock(mutex_);
    ++created_;
    return e;
  }
  void destroy_event(void* e, int device) noexcept override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      destroyed_.emplace_back(e, device);
    }
    inner_->destroy_event(e, 0);
  }
  void record_event(void* e, int, pinpool::stream_ref s) override { inner_->record_event(e, 0, s); }
  bool event_done(void* e, int) override { return inner_->event_done(e, 0); }
  void stream_wait_event(pinpool::stream_ref s, void* e, int) override {
    inner_->stream_wait_event(s, e, 0);
  }
  void synchronize_event(void* e, int) override { inner_->synchronize_event(e, 0); }

 private:
  std::shared_ptr<pinpool::backend> inner_;
  int devices_;
  mutable std::mutex mutex_;
  std::vector<std::pair<void*, int>> destroyed_;
  int created_ = 0;
};

}  // namespace pinpool_core_test
