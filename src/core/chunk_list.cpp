#include "chunk.hpp"
#include "chunk_list.hpp"

namespace pinpool::detail {

void chunk_list::push_front(chunk* c) noexcept {
  c->prev = nullptr;
  c->next = head_;
  if (head_ != nullptr) head_->prev = c;
  head_ = c;
  if (tail_ == nullptr) tail_ = c;
  ++size_;
}

void chunk_list::push_back(chunk* c) noexcept {
  c->next = nullptr;
  c->prev = tail_;
  if (tail_ != nullptr) tail_->next = c;
  tail_ = c;
  if (head_ == nullptr) head_ = c;
  ++size_;
}

void chunk_list::erase(chunk* c) noexcept {
  (c->prev != nullptr ? c->prev->next : head_) = c->next;
  (c->next != nullptr ? c->next->prev : tail_) = c->prev;
  c->prev = c->next = nullptr;
  --size_;
}

}  // namespace pinpool::detail
