#pragma once
// Intrusive doubly-linked list of chunks (links live in the chunk records). Not thread-safe.

#include <cstddef>

namespace pinpool::detail {

struct chunk;

class chunk_list {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  chunk* front() const noexcept { return head_; }
  void push_front(chunk* c) noexcept;
  void push_back(chunk* c) noexcept;
  void erase(chunk* c) noexcept;
  chunk* pop_front() noexcept {
    chunk* c = head_;
    if (c != nullptr) erase(c);
    return c;
  }

 private:
  chunk* head_ = nullptr;
  chunk* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace pinpool::detail
