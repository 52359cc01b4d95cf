// The kernels' worker pool: persistent threads sharing a queue of jobs. A job is one
// cpu_parallel_for call; its indices are claimed in chunks through an atomic counter by the
// caller and by any worker that picks the job up. The caller waits only for the workers that
// joined its job, so concurrent and nested calls always progress.

#include <pinpool/kernels/parallel_for.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace pinpool::kernels {
namespace {

struct job {
  const std::function<void(int)>* fn = nullptr;
  int count = 0;
  int chunk = 1;
  std::atomic<int> next{0};
  int helpers = 0;             // workers inside run_chunks; guarded by worker_pool::mutex_
  std::exception_ptr failure;  // first exception; guarded by failure_mutex
  std::mutex failure_mutex;
};

class worker_pool {
 public:
  explicit worker_pool(int workers) {
    threads_.reserve(static_cast<std::size_t>(workers));
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  // Never destroyed (see instance()): threads detached from destruction order.
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  static worker_pool& instance() {
    // Leaked on purpose: CPU streams may still run kernels while statics are destroyed.
    static worker_pool* pool = new worker_pool(worker_count());
    return *pool;
  }

  int concurrency() const noexcept { return static_cast<int>(threads_.size()) + 1; }

  void run(job& j) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(&j);
    }
    work_ready_.notify_all();
    run_chunks(j);
    std::unique_lock<std::mutex> lock(mutex_);
    retire(j);
    helpers_done_.wait(lock, [&] { return j.helpers == 0; });
  }

 private:
  // PINPOOL_KERNELS_THREADS (1..256) if set, else hardware_concurrency(); minus the caller.
  static int worker_count() {
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("PINPOOL_KERNELS_THREADS")) {
      char* end = nullptr;
      const long n = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && n >= 1 && n <= 256) threads = static_cast<int>(n);
    }
    return std::max(threads, 1) - 1;
  }

  static void run_chunks(job& j) {
    for (;;) {
      const int begin = j.next.fetch_add(j.chunk, std::memory_order_relaxed);
      if (begin >= j.count) return;
      const int end = std::min(j.count, begin + j.chunk);
      try {
        for (int i = begin; i < end; ++i) (*j.fn)(i);
      } catch (...) {
        j.next.store(j.count, std::memory_order_relaxed);  // skip what has not started
        std::lock_guard<std::mutex> lock(j.failure_mutex);
        if (!j.failure) j.failure = std::current_exception();
      }
    }
  }

  // Removes `j` from the queue if still there. Caller holds mutex_.
  void retire(job& j) {
    const auto it = std::find(queue_.begin(), queue_.end(), &j);
    if (it != queue_.end()) queue_.erase(it);
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      work_ready_.wait(lock, [&] { return !queue_.empty(); });
      job& j = *queue_.front();
      ++j.helpers;
      lock.unlock();
      run_chunks(j);
      lock.lock();
      retire(j);  // every index is claimed: nobody else should pick it up
      if (--j.helpers == 0) helpers_done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable helpers_done_;
  std::deque<job*> queue_;
  std::vector<std::thread> threads_;
};

}  // namespace

void cpu_parallel_for(int count, const std::function<void(int)>& fn) {
  if (count <= 0) return;
  worker_pool& pool = worker_pool::instance();
  if (count == 1 || pool.concurrency() == 1) {
    for (int i = 0; i < count; ++i) fn(i);
    return;
  }
  job j;
  j.fn = &fn;
  j.count = count;
  j.chunk = std::max(1, count / (4 * pool.concurrency()));
  pool.run(j);
  if (j.failure) std::rethrow_exception(j.failure);
}

int cpu_concurrency() noexcept {
  return worker_pool::instance().concurrency();
}

}  // namespace pinpool::kernels
