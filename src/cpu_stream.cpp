#include "cpu_stream.hpp"

#include <pinpool/error.hpp>

#include <cstring>
#include <exception>

namespace pinpool::detail {

void cpu_event::complete(std::uint64_t generation) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (completed_.load(std::memory_order_relaxed) < generation) {
    completed_.store(generation, std::memory_order_release);
  }
  cv_.notify_all();
}

void cpu_event::wait(std::uint64_t g) {
  if (reached(g)) return;
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return reached(g); });
}

cpu_stream::cpu_stream(std::string name) : name_(std::move(name)), ring_(64) {
  worker_ = std::thread([this] { run(); });
}

cpu_stream::~cpu_stream() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    ++waiters_;
    idle_cv_.wait(lock, [&] { return finished_ == enqueued_; });
    --waiters_;
    stopping_ = true;
  }
  work_cv_.notify_one();
  worker_.join();
}

void cpu_stream::push(task&& t) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (count_ == ring_.size()) {  // grow: unroll the ring into a twice larger one
      std::vector<task> bigger(ring_.size() * 2);
      for (std::size_t i = 0; i < count_; ++i) {
        bigger[i] = std::move(ring_[(head_ + i) & (ring_.size() - 1)]);
      }
      ring_.swap(bigger);
      head_ = 0;
    }
    ring_[(head_ + count_) & (ring_.size() - 1)] = std::move(t);
    ++count_;
    ++enqueued_;
  }
  work_cv_.notify_one();
}

void cpu_stream::enqueue_copy(void* dst, const void* src, std::size_t bytes) {
  task t;
  t.kind = op::copy;
  t.dst = dst;
  t.src = src;
  t.bytes = bytes;
  push(std::move(t));
}

void cpu_stream::enqueue_host_func(std::function<void()> fn) {
  task t;
  t.kind = op::host_func;
  t.fn = std::move(fn);
  push(std::move(t));
}

void cpu_stream::enqueue_record(cpu_event& e) {
  task t;
  t.kind = op::record;
  t.event = &e;
  t.generation = e.open_generation();
  push(std::move(t));
}

void cpu_stream::enqueue_wait(cpu_event& e) {
  task t;
  t.kind = op::wait;
  t.event = &e;
  t.generation = e.recorded();  // captured now, as cudaStreamWaitEvent does
  push(std::move(t));
}

void cpu_stream::synchronize() {
  std::string failure;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t target = enqueued_;
    ++waiters_;
    idle_cv_.wait(lock, [&] { return finished_ >= target; });
    --waiters_;
    failure.swap(first_error_);
  }
  if (!failure.empty()) {
    throw error("pinpool: stream '" + name_ + "': a task failed: " + failure);
  }
}

void cpu_stream::execute(task& t) noexcept {
  switch (t.kind) {
    case op::copy:
      if (t.bytes != 0) std::memmove(t.dst, t.src, t.bytes);
      break;
    case op::record:
      t.event->complete(t.generation);
      break;
    case op::wait:
      t.event->wait(t.generation);
      break;
    case op::host_func: {
      std::string failure;
      try {
        t.fn();
      } catch (const std::exception& e) {
        failure = e.what();
      } catch (...) {
        failure = "unknown exception";
      }
      t.fn = nullptr;  // drop captures on the worker, before the task counts as finished
      if (!failure.empty()) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (first_error_.empty()) first_error_ = std::move(failure);
      }
      break;
    }
  }
}

void cpu_stream::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] { return count_ > 0 || stopping_; });
    if (count_ == 0) return;  // stopping and drained
    task t = std::move(ring_[head_]);
    head_ = (head_ + 1) & (ring_.size() - 1);
    --count_;
    lock.unlock();
    execute(t);
    lock.lock();
    ++finished_;
    if (waiters_ > 0) idle_cv_.notify_all();
  }
}

}  // namespace pinpool::detail
