// The CPU backend's own contract: real asynchrony, FIFO order, events, failures surfaced.
#include <pinpool/pinpool.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <gtest/gtest.h>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

using namespace std::chrono_literals;

static_assert(!std::is_default_constructible_v<pinpool::stream_ref>, "no implicit stream");
static_assert(!std::is_constructible_v<pinpool::stream_ref, int>, "no stream from 0");
static_assert(!std::is_constructible_v<pinpool::stream_ref, std::nullptr_t>, "no null stream");
static_assert(!std::is_copy_constructible_v<pinpool::buffer>, "buffer is move-only");
static_assert(std::is_nothrow_move_constructible_v<pinpool::buffer>, "noexcept move");
static_assert(std::is_nothrow_destructible_v<pinpool::buffer>, "destructor never throws");
static_assert(!std::is_copy_constructible_v<pinpool::stream>, "stream is move-only");
static_assert(std::is_copy_constructible_v<pinpool::shared_buffer>, "shared");

auto cpu() {
  return pinpool::make_backend(pinpool::backend_kind::cpu);
}

TEST(cpu_backend, work_runs_asynchronously_and_in_order) {
  auto be = cpu();
  auto s = be->create_stream();
  std::vector<int> order;
  std::atomic<bool> started{false};
  s.launch_host_func([&] {
    started = true;
    std::this_thread::sleep_for(100ms);
    order.push_back(1);
  });
  s.launch_host_func([&] { order.push_back(2); });
  const auto t0 = std::chrono::steady_clock::now();
  s.launch_host_func([&] { order.push_back(3); });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 50ms) << "enqueueing blocked";
  s.synchronize();
  EXPECT_TRUE(started.load());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(cpu_backend, memcpy_async_copies_after_earlier_work) {
  auto be = cpu();
  auto s = be->create_stream();
  std::vector<char> src(1000, 'a'), dst(1000, 0);
  s.launch_host_func([&] { std::memset(src.data(), 'b', src.size()); });
  s.memcpy_async(dst.data(), src.data(), dst.size());
  s.synchronize();
  EXPECT_EQ(dst[0], 'b');
  EXPECT_EQ(dst[999], 'b');
}

TEST(cpu_backend, an_exception_in_a_task_surfaces_at_synchronize_naming_the_stream) {
  auto be = cpu();
  auto s = be->create_stream();
  std::atomic<bool> later_ran{false};
  s.launch_host_func([] { throw std::runtime_error("decoder exploded"); });
  s.launch_host_func([&] { later_ran = true; });
  try {
    s.synchronize();
    FAIL() << "no exception";
  } catch (const pinpool::error& e) {
    EXPECT_NE(std::string(e.what()).find("decoder exploded"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cpu-stream-"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(later_ran.load());
  EXPECT_NO_THROW(s.synchronize());  // reported once
}

TEST(cpu_backend, events_order_work_across_streams) {
  auto be = cpu();
  auto a = be->create_stream();
  auto b = be->create_stream();
  void* ev = be->create_event(0);
  EXPECT_TRUE(be->event_done(ev, 0));  // never recorded
  std::atomic<int> stage{0};
  a.launch_host_func([&] {
    std::this_thread::sleep_for(100ms);
    stage = 1;
  });
  be->record_event(ev, 0, a);
  EXPECT_FALSE(be->event_done(ev, 0));
  be->stream_wait_event(b, ev, 0);
  int seen = -1;
  b.launch_host_func([&] { seen = stage.load(); });
  b.synchronize();
  EXPECT_EQ(seen, 1);
  be->synchronize_event(ev, 0);
  EXPECT_TRUE(be->event_done(ev, 0));
  be->destroy_event(ev, 0);
}

TEST(cpu_backend, pinned_slabs_report_whether_they_are_locked) {
  auto be = cpu();
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  o.slab_bytes = 1 << 16;  // well under the usual 8 MiB RLIMIT_MEMLOCK
  pinpool::pool p(be, o);
  auto b = p.acquire(1000);
  const auto st = p.stats();
  EXPECT_EQ(st.kind, pinpool::memory_kind::pinned_host);
  EXPECT_NE(st.to_json().find(st.page_locked ? "\"page_locked\":true" : "\"page_locked\":false"),
            std::string::npos);
  pinpool::slab plain = be->allocate({pinpool::memory_kind::host, 0, 1 << 16});
  EXPECT_FALSE(plain.page_locked);  // pageable memory is never reported locked
  be->deallocate(plain);
}

TEST(cpu_backend, streams_and_devices_are_validated) {
  auto be = cpu();
  EXPECT_EQ(be->kind(), pinpool::backend_kind::cpu);
  EXPECT_EQ(be->device_count(), 1);
  EXPECT_THROW(be->create_stream(1), std::invalid_argument);
  EXPECT_THROW(pinpool::stream_ref(*be, static_cast<CUstream_st*>(nullptr)), std::invalid_argument);
}

TEST(make_backend, automatic_falls_back_to_cpu_without_a_device) {
  auto be = pinpool::make_backend();
  ASSERT_NE(be, nullptr);
  if (!pinpool::built_with_cuda()) {
    EXPECT_EQ(be->kind(), pinpool::backend_kind::cpu);
    EXPECT_THROW(pinpool::make_backend(pinpool::backend_kind::cuda), pinpool::cuda_error);
  }
  auto s = be->create_stream();
  s.synchronize();
}

}  // namespace
