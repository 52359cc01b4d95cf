#include "devices.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace pinpool::pipeline {
namespace {

/// The CPU backend as cpu_emulated_devices devices. Memory, streams and events are the CPU
/// backend's (its one device); slabs and streams keep the device they were asked for.
class emulated_devices_backend final : public backend {
 public:
  explicit emulated_devices_backend(std::shared_ptr<backend> cpu) : cpu_(std::move(cpu)) {}

  backend_kind kind() const noexcept override { return cpu_->kind(); }
  const char* name() const noexcept override { return cpu_->name(); }
  int device_count() const noexcept override { return cpu_emulated_devices; }

  slab allocate(const slab_request& r) override {
    slab_request on_cpu = r;
    on_cpu.device = 0;
    slab s = cpu_->allocate(on_cpu);
    s.device = r.device;
    return s;
  }
  void deallocate(const slab& s) noexcept override {
    slab on_cpu = s;
    on_cpu.device = 0;
    cpu_->deallocate(on_cpu);
  }
  void* create_native_stream(int device) override {
    void* handle = cpu_->create_native_stream(0);
    std::lock_guard<std::mutex> lock(mutex_);
    stream_devices_[handle] = device;
    return handle;
  }
  void destroy_native_stream(void* handle, int /*device*/) noexcept override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stream_devices_.erase(handle);
    }
    cpu_->destroy_native_stream(handle, 0);
  }
  void memcpy_async(stream_ref s, void* dst, const void* src, std::size_t bytes) override {
    cpu_->memcpy_async(s, dst, src, bytes);
  }
  void launch_host_func(stream_ref s, std::function<void()> fn) override {
    cpu_->launch_host_func(s, std::move(fn));
  }
  void synchronize(stream_ref s) override { cpu_->synchronize(s); }
  std::uint64_t stream_id(void* handle, int /*device*/) noexcept override {
    return cpu_->stream_id(handle, 0);
  }
  int stream_device(void* handle) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = stream_devices_.find(handle);
    return it == stream_devices_.end() ? 0 : it->second;
  }
  bool is_capturing(stream_ref s) override { return cpu_->is_capturing(s); }
  bool stream_idle(stream_ref s) override { return cpu_->stream_idle(s); }
  void* create_event(int /*device*/) override { return cpu_->create_event(0); }
  void destroy_event(void* e, int /*device*/) noexcept override { cpu_->destroy_event(e, 0); }
  void record_event(void* e, int /*device*/, stream_ref s) override { cpu_->record_event(e, 0, s); }
  bool event_done(void* e, int /*device*/) override { return cpu_->event_done(e, 0); }
  void stream_wait_event(stream_ref s, void* e, int /*device*/) override {
    cpu_->stream_wait_event(s, e, 0);
  }
  void synchronize_event(void* e, int /*device*/) override { cpu_->synchronize_event(e, 0); }

 private:
  std::shared_ptr<backend> cpu_;
  std::mutex mutex_;
  std::unordered_map<void*, int> stream_devices_;  // guarded by mutex_
};

}  // namespace

int pipeline_device_count(const backend& be) noexcept {
  return be.kind() == backend_kind::cpu ? std::max(be.device_count(), cpu_emulated_devices)
                                        : be.device_count();
}

std::vector<int> devices_of(const options& o) {
  return o.devices.empty() ? std::vector<int>{0} : o.devices;
}

void check_devices(const std::vector<int>& devices, int streams, const backend& be) {
  const int count = pipeline_device_count(be);
  for (const int d : devices) {
    if (d < count) continue;
    const std::string has = be.kind() == backend_kind::cpu
                                ? "the cpu backend emulates devices 0.." + std::to_string(count - 1)
                                : std::string("the ") + be.name() + " backend has " +
                                      std::to_string(count) + " device(s)" +
                                      (count > 0 ? ": 0.." + std::to_string(count - 1) : "");
    throw usage_error("--devices: device " + std::to_string(d) + " does not exist (" + has + ")");
  }
  if (static_cast<std::size_t>(streams) < devices.size()) {
    throw usage_error("--streams " + std::to_string(streams) + ": fewer streams than the " +
                      std::to_string(devices.size()) +
                      " devices listed (--devices); give each device a stream at least");
  }
}

std::shared_ptr<backend> backend_for_devices(std::shared_ptr<backend> be,
                                             const std::vector<int>& devices) {
  const int highest = devices.empty() ? 0 : *std::max_element(devices.begin(), devices.end());
  if (be->kind() != backend_kind::cpu || highest < be->device_count()) return be;
  return std::make_shared<emulated_devices_backend>(std::move(be));
}

}  // namespace pinpool::pipeline
