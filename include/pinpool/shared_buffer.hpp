#pragma once
/// @file shared_buffer.hpp
/// @brief `shared_buffer`: shared ownership of one chunk; it goes back to the pool (stream-
/// ordered, as `buffer` does) when the last copy is dropped.

#include <pinpool/buffer.hpp>

#include <memory>
#include <utility>

namespace pinpool {

/// @brief Copyable handle sharing one chunk. Copies may live in different threads; the
/// reference count is atomic. `record_stream`/`set_stream` act on the shared chunk and must not
/// race each other.
class shared_buffer {
 public:
  shared_buffer() noexcept = default;
  /// @brief Takes ownership of `b` (allocates the shared control block once).
  explicit shared_buffer(buffer&& b) : owner_(std::make_shared<buffer>(std::move(b))) {}

  void* data() const noexcept { return owner_ ? owner_->data() : nullptr; }
  std::size_t size() const noexcept { return owner_ ? owner_->size() : 0; }
  memory_kind kind() const noexcept { return owner_->kind(); }
  bool empty() const noexcept { return !owner_ || owner_->empty(); }
  explicit operator bool() const noexcept { return !empty(); }
  long use_count() const noexcept { return owner_.use_count(); }

  template <class T>
  span<T> as() const noexcept {
    return owner_ ? owner_->as<T>() : span<T>{};
  }
  /// @copydoc buffer::record_stream
  void record_stream(stream_ref s) { owner_->record_stream(s); }
  /// @copydoc buffer::set_stream
  void set_stream(stream_ref s) { owner_->set_stream(s); }
  /// @brief Drops this reference (the chunk goes back when it was the last one).
  void reset() noexcept { owner_.reset(); }

 private:
  std::shared_ptr<buffer> owner_;
};

}  // namespace pinpool
