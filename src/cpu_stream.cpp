#include "cpu_stream.hpp"

#include <pinpool/detail/nvtx.hpp>
#include <pinpool/error.hpp>

#include <cstring>
#include <exception>

namespace pinpool::detail {

void stream_progress::wait(std::uint64_t tasks) {
  if (reached(tasks)) return;
  std::unique_lock<std::mutex> lock(mutex_);
  ++waiters_;
  cv_.wait(lock, [&] { return reached(tasks); });
  --waiters_;
}

void stream_progress::advance(std::uint64_t finished) {
  finished_.store(finished);  // seq_cst, then the waiter count: no lost wake-up
  if (waiters_.load() != 0) {
    std::lock_guard<std::mutex> lock(mutex_);  // pairs with the waiter's check-then-sleep
    cv_.notify_all();
  }
}

void cpu_event::record(stream_point p) {
  std::lock_guard<std::mutex> lock(mutex_);
  point_ = std::move(p);
}

stream_point cpu_event::point() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return point_;
}

cpu_stream::cpu_stream(std::string name, std::uint64_t id)
    : name_(std::move(name)), id_(id), progress_(std::make_shared<stream_progress>()), ring_(64) {
  nvtx_initialize();  // before the worker's first NVTX call (see detail/nvtx.hpp)
  worker_ = std::thread([this] { run(); });
}

cpu_stream::~cpu_stream() {
  const stream_point end = current_point();
  end.stream->wait(end.tasks);
  {
    std::lock_guard<std::mutex> lock(mutex_);
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

void cpu_stream::enqueue_wait(stream_point p) {
  task t;
  t.kind = op::wait;
  t.until = std::move(p);
  push(std::move(t));
}

stream_point cpu_stream::current_point() {
  std::lock_guard<std::mutex> lock(mutex_);
  return {progress_, enqueued_};
}

void cpu_stream::synchronize() {
  const stream_point end = current_point();
  end.stream->wait(end.tasks);
  std::string failure;
  {
    std::lock_guard<std::mutex> lock(mutex_);
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
    case op::wait:
      if (t.until.stream) t.until.stream->wait(t.until.tasks);
      t.until = {};
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
  nvtx_name_this_thread(name_.c_str());
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
    progress_->advance(++finished_);
  }
}

}  // namespace pinpool::detail
