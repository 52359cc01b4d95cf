#pragma once
// Worker-thread stream and event of the CPU backend (internal).

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pinpool::detail {

/// @brief How far a stream got: the number of its tasks that have finished. Shared by the stream
/// and every event recorded on it, so events stay valid after the stream is gone.
class stream_progress {
 public:
  bool reached(std::uint64_t tasks) const noexcept {
    return finished_.load() >= tasks;  // seq_cst: pairs with advance()'s waiter check
  }
  /// @brief Blocks until `tasks` tasks have finished.
  void wait(std::uint64_t tasks);
  void advance(std::uint64_t finished);

 private:
  std::atomic<std::uint64_t> finished_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
};

/// @brief A point in one stream's work: (the stream's progress, tasks enqueued before it).
struct stream_point {
  std::shared_ptr<stream_progress> stream;  // null: never recorded (always complete)
  std::uint64_t tasks = 0;
  bool reached() const noexcept { return !stream || stream->reached(tasks); }
};

/// @brief As a CUDA event: `record` captures the work enqueued so far on a stream; queries and
/// waits refer to the latest record; a wait captures the record it saw, so re-recording later
/// (on any stream) never releases an earlier wait. Thread-safe.
class cpu_event {
 public:
  void record(stream_point p);
  stream_point point() const;
  bool done() const { return point().reached(); }

 private:
  mutable std::mutex mutex_;
  stream_point point_;
};

/// @brief An in-order queue run by one worker thread. Enqueueing is thread-safe and makes no
/// allocation in steady state (a ring buffer that only grows); host functions are the caller's
/// std::function, moved in.
class cpu_stream {
 public:
  /// @param id the stream's identity (backend::stream_id), never 0.
  cpu_stream(std::string name, std::uint64_t id);
  /// @note Runs the queued work to the end, then joins the worker.
  ~cpu_stream();
  cpu_stream(const cpu_stream&) = delete;
  cpu_stream& operator=(const cpu_stream&) = delete;

  void enqueue_copy(void* dst, const void* src, std::size_t bytes);
  void enqueue_host_func(std::function<void()> fn);
  /// @brief Later tasks wait until `p` is reached (a device-side wait: the caller never blocks).
  void enqueue_wait(stream_point p);
  /// @brief The point after every task enqueued so far.
  stream_point current_point();
  /// @brief Whether every task enqueued so far has run.
  bool idle() { return current_point().reached(); }
  /// @brief Blocks until everything enqueued before the call has run; then throws
  /// pinpool::error naming the stream if a task failed since the last synchronize.
  void synchronize();
  const std::string& name() const noexcept { return name_; }
  std::uint64_t id() const noexcept { return id_; }

 private:
  enum class op : std::uint8_t { copy, host_func, wait };
  struct task {
    op kind = op::copy;
    void* dst = nullptr;
    const void* src = nullptr;
    std::size_t bytes = 0;
    stream_point until;
    std::function<void()> fn;
  };

  void push(task&& t);
  void run();
  void execute(task& t) noexcept;

  std::string name_;
  const std::uint64_t id_;
  std::shared_ptr<stream_progress> progress_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::vector<task> ring_;  // capacity is a power of two
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::uint64_t enqueued_ = 0;
  std::uint64_t finished_ = 0;
  bool stopping_ = false;
  std::string first_error_;
  std::thread worker_;
};

}  // namespace pinpool::detail
