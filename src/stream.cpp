#include <pinpool/backend.hpp>
#include <pinpool/stream.hpp>

#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace pinpool {

stream_ref::stream_ref(backend& be, void* native_handle, int device) noexcept
    : backend_(&be),
      handle_(native_handle),
      device_(device),
      id_(be.stream_id(native_handle, device)) {}

stream_ref::stream_ref(backend& be, CUstream_st* cuda_stream)
    : backend_(&be), handle_(cuda_stream), device_(0) {
  if (be.kind() != backend_kind::cuda) {
    throw std::invalid_argument(std::string("pinpool::stream_ref: a cudaStream_t needs a CUDA ") +
                                "backend, this one is '" + be.name() + "'");
  }
  device_ = be.stream_device(cuda_stream);
  id_ = be.stream_id(cuda_stream, device_);
}

void stream_ref::memcpy_async(void* dst, const void* src, std::size_t bytes) const {
  backend_->memcpy_async(*this, dst, src, bytes);
}

void stream_ref::launch_host_func(std::function<void()> fn) const {
  backend_->launch_host_func(*this, std::move(fn));
}

void stream_ref::synchronize() const {
  backend_->synchronize(*this);
}

stream::stream(stream&& other) noexcept
    : backend_(std::move(other.backend_)),
      handle_(std::exchange(other.handle_, nullptr)),
      device_(other.device_),
      id_(other.id_) {}

stream& stream::operator=(stream&& other) noexcept {
  if (this != &other) {
    reset();
    backend_ = std::move(other.backend_);
    handle_ = std::exchange(other.handle_, nullptr);
    device_ = other.device_;
    id_ = other.id_;
  }
  return *this;
}

stream::~stream() {
  reset();
}

void stream::reset() noexcept {
  if (backend_ && handle_ != nullptr) backend_->retire_stream(handle_, device_, id_);
  handle_ = nullptr;
  backend_.reset();
}

// The owning streams of a backend that are alive, by identity: `true` while one is being
// destroyed. Fences are recorded under the mutex, so none is recorded on a destroyed stream.
struct backend::stream_registry {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, bool> closing;
};

backend::backend() : streams_(std::make_unique<stream_registry>()) {}
backend::~backend() = default;

stream backend::create_stream(int device) {
  if (device < 0 || device >= device_count()) {
    throw std::invalid_argument("pinpool: create_stream: device " + std::to_string(device) +
                                " out of range (backend '" + name() + "' has " +
                                std::to_string(device_count()) + ")");
  }
  void* handle = create_native_stream(device);
  const std::uint64_t id = stream_id(handle, device);
  if (id != 0) {
    try {
      std::lock_guard<std::mutex> lock(streams_->mutex);
      streams_->closing.emplace(id, false);
    } catch (...) {
      destroy_native_stream(handle, device);
      throw;
    }
  }
  return stream{shared_from_this(), handle, device, id};
}

// Marked closing first (no fence is recorded on it from then on), destroyed (after its work has
// run), then forgotten: from then on a fence on it answers `gone`.
void backend::retire_stream(void* handle, int device, std::uint64_t id) noexcept {
  std::unique_lock<std::mutex> lock(streams_->mutex);
  const auto it = streams_->closing.find(id);
  if (it != streams_->closing.end()) it->second = true;
  lock.unlock();
  destroy_native_stream(handle, device);
  lock.lock();
  streams_->closing.erase(id);
}

backend::fence_result backend::record_fence(void* event, int device, stream_ref s, bool ask_idle) {
  std::lock_guard<std::mutex> lock(streams_->mutex);
  const auto it = streams_->closing.find(s.id());
  if (it == streams_->closing.end()) return fence_result::gone;
  if (it->second || is_capturing(s)) return fence_result::not_now;
  if (ask_idle && stream_idle(s)) return fence_result::idle;
  record_event(event, device, s);
  return fence_result::recorded;
}

}  // namespace pinpool
