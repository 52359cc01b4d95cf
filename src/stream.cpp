#include <pinpool/backend.hpp>
#include <pinpool/stream.hpp>

#include <stdexcept>
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
  if (backend_ && handle_ != nullptr) backend_->destroy_native_stream(handle_, device_);
  handle_ = nullptr;
  backend_.reset();
}

stream backend::create_stream(int device) {
  if (device < 0 || device >= device_count()) {
    throw std::invalid_argument("pinpool: create_stream: device " + std::to_string(device) +
                                " out of range (backend '" + name() + "' has " +
                                std::to_string(device_count()) + ")");
  }
  void* handle = create_native_stream(device);
  return stream{shared_from_this(), handle, device, stream_id(handle, device)};
}

}  // namespace pinpool
