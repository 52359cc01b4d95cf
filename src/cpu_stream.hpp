#pragma once
// Worker-thread stream and event of the CPU backend (internal).

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pinpool::detail {

/// @brief A completion marker. `record_ticket()` opens a generation; the stream task that
/// reaches it calls `complete(gen)`. Done when every opened generation has completed.
class cpu_event {
 public:
  std::uint64_t open_generation() noexcept { return ++recorded_; }
  std::uint64_t recorded() const noexcept { return recorded_.load(std::memory_order_acquire); }
  void complete(std::uint64_t generation);
  bool done() const noexcept { return reached(recorded()); }
  bool reached(std::uint64_t generation) const noexcept {
    return completed_.load(std::memory_order_acquire) >= generation;
  }
  /// @brief Blocks until generation `g` has completed.
  void wait(std::uint64_t g);

 private:
  std::atomic<std::uint64_t> recorded_{0};
  std::atomic<std::uint64_t> completed_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
};

/// @brief An in-order queue run by one worker thread. Enqueueing is thread-safe and makes no
/// allocation in steady state (a ring buffer that only grows); host functions are the caller's
/// std::function, moved in.
class cpu_stream {
 public:
  explicit cpu_stream(std::string name);
  /// @note Runs the queued work to the end, then joins the worker.
  ~cpu_stream();
  cpu_stream(const cpu_stream&) = delete;
  cpu_stream& operator=(const cpu_stream&) = delete;

  void enqueue_copy(void* dst, const void* src, std::size_t bytes);
  void enqueue_host_func(std::function<void()> fn);
  void enqueue_record(cpu_event& e);
  void enqueue_wait(cpu_event& e);
  /// @brief Blocks until everything enqueued before the call has run; then throws
  /// pinpool::error naming the stream if a task failed since the last synchronize.
  void synchronize();
  const std::string& name() const noexcept { return name_; }

 private:
  enum class op : std::uint8_t { copy, host_func, record, wait };
  struct task {
    op kind = op::copy;
    void* dst = nullptr;
    const void* src = nullptr;
    std::size_t bytes = 0;
    cpu_event* event = nullptr;
    std::uint64_t generation = 0;
    std::function<void()> fn;
  };

  void push(task&& t);
  void run();
  void execute(task& t) noexcept;

  std::string name_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::vector<task> ring_;  // capacity is a power of two
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::uint64_t enqueued_ = 0;
  std::uint64_t finished_ = 0;
  int waiters_ = 0;  // threads blocked in synchronize()/destruction
  bool stopping_ = false;
  std::string first_error_;
  std::thread worker_;
};

}  // namespace pinpool::detail
