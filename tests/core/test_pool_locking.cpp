// The pool makes no runtime call while holding its lock (review finding: one cudaEventQuery per
// pending chunk under the mutex). Checked from the user's side: while a release-event query is
// held open inside the backend, another thread's acquisition still completes.
#include "../support/forwarding_backend.hpp"
#include "cpu_backend.hpp"

#include <pinpool/pinpool.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <gtest/gtest.h>
#include <memory>
#include <thread>

namespace {

using namespace std::chrono_literals;

/// Holds the next event query open until `open()`.
class gated_queries final : public pinpool_test::forwarding_backend {
 public:
  using forwarding_backend::forwarding_backend;
  void arm() { armed_ = true; }
  std::future<void> entered() { return entered_.get_future(); }
  void open() { gate_.set_value(); }

  bool event_done(void* e, int device) override {
    if (armed_.exchange(false)) {
      entered_.set_value();
      opened_.wait();
    }
    return inner_->event_done(e, device);
  }

 private:
  std::atomic<bool> armed_{false};
  std::promise<void> entered_;
  std::promise<void> gate_;
  std::shared_future<void> opened_ = gate_.get_future().share();
};

TEST(pool_locking, release_events_are_queried_without_the_pool_lock) {
  auto be = std::make_shared<gated_queries>(pinpool::detail::make_cpu_backend());
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  o.max_bytes = o.slab_bytes = 1 << 20;  // a cap: no thread cache, every acquisition locks
  o.lazy_release = false;                 // the release records an event, which is queried
  pinpool::pool p(be, o);
  pinpool::stream s = be->create_stream();
  { pinpool::buffer released_on_s = p.acquire(4096, s); }  // pending: its event will be queried
  be->arm();
  std::future<void> querying = be->entered();
  std::thread host([&] { pinpool::buffer b = p.acquire(4096); });  // queries the pending release
  querying.wait();
  std::future<std::size_t> other =
      std::async(std::launch::async, [&] { return p.acquire(100000).size(); });
  const bool done = other.wait_for(10s) == std::future_status::ready;
  be->open();
  host.join();
  EXPECT_TRUE(done) << "an acquisition waited for the pool's lock while an event query ran";
  EXPECT_EQ(other.get(), 100000u);
}

}  // namespace
