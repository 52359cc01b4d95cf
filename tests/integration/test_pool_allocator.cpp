// pinpool::pool_allocator<T>: standard containers in pool memory (CPU backend).

#include <pinpool/pinpool.hpp>
#include <pinpool/pool_allocator.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <gtest/gtest.h>
#include <list>
#include <map>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

using pinpool::pool_allocator;

template <class T>
using pinned_vector = std::vector<T, pool_allocator<T>>;

class PoolAllocator : public ::testing::Test {
 protected:
  static pinpool::pool_options options(pinpool::memory_kind kind) {
    pinpool::pool_options opt;
    opt.kind = kind;
    opt.slab_bytes = std::size_t{4} << 20;
    return opt;
  }
  std::shared_ptr<pinpool::backend> be_ = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool pinned_{be_, options(pinpool::memory_kind::pinned_host)};
};

// The requirements std::allocator_traits relies on, checked at compile time.
using traits = std::allocator_traits<pool_allocator<int>>;
static_assert(std::is_same_v<traits::value_type, int>);
static_assert(std::is_same_v<traits::pointer, int*>);
static_assert(std::is_same_v<traits::rebind_alloc<double>, pool_allocator<double>>);
static_assert(traits::propagate_on_container_move_assignment::value);
static_assert(traits::propagate_on_container_swap::value);
static_assert(!traits::is_always_equal::value);
static_assert(std::is_nothrow_copy_constructible_v<pool_allocator<int>>);
static_assert(std::is_nothrow_constructible_v<pool_allocator<int>, const pool_allocator<char>&>);
static_assert(noexcept(std::declval<pool_allocator<int>&>().deallocate(nullptr, 1)));

TEST_F(PoolAllocator, VectorInPinnedMemoryReachesASteadyState) {
  pool_allocator<float> alloc(pinned_);
  for (int round = 0; round < 3; ++round) {  // warm-up: the pool grows, the table's nodes too
    pinned_vector<float> v(alloc);
    for (int i = 0; i < 100000; ++i) v.push_back(static_cast<float>(i));
  }
  const pinpool::pool_stats before = pinned_.stats();
  for (int round = 0; round < 20; ++round) {
    pinned_vector<float> v(alloc);
    for (int i = 0; i < 100000; ++i) v.push_back(static_cast<float>(i));  // ~17 reallocations
    EXPECT_EQ(std::accumulate(v.begin(), v.end(), 0.0), 4999950000.0);
  }
  const pinpool::pool_stats after = pinned_.stats();
  EXPECT_EQ(after.backend_allocations, before.backend_allocations);
  EXPECT_GT(after.acquisitions, before.acquisitions + 20 * 10);
  EXPECT_EQ(alloc.outstanding(), 0u);
  EXPECT_EQ(after.bytes_in_use, 0u);
}

TEST_F(PoolAllocator, MemoryComesFromThePool) {
  pool_allocator<std::uint8_t> alloc(pinned_);
  pinned_vector<std::uint8_t> v(10000, std::uint8_t{7}, alloc);
  EXPECT_EQ(pinned_.stats().bytes_in_use, pinned_.chunk_size_for(10000));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v.data()) % pinned_.options().alignment, 0u);
  EXPECT_EQ(alloc.outstanding(), 1u);
  EXPECT_EQ(&v.get_allocator().get_pool(), &pinned_);
}

TEST_F(PoolAllocator, RebindsForNodeContainers) {
  pool_allocator<int> alloc(pinned_);
  std::list<int, pool_allocator<int>> l(alloc);
  using pair_alloc = pool_allocator<std::pair<const int, std::string>>;
  std::map<int, std::string, std::less<>, pair_alloc> m{pair_alloc{pinned_}};
  for (int i = 0; i < 100; ++i) {
    l.push_back(i);
    m.emplace(i, std::to_string(i));
  }
  EXPECT_EQ(std::accumulate(l.begin(), l.end(), 0), 4950);
  EXPECT_EQ(m.at(42), "42");
  EXPECT_GE(pinned_.stats().acquisitions, 200u);
  l.clear();
  m.clear();
  EXPECT_EQ(pinned_.stats().bytes_in_use, 0u);
}

TEST_F(PoolAllocator, EqualityAndPropagation) {
  pool_allocator<int> a(pinned_);
  pool_allocator<int> b(pinned_);  // same pool, own table: cannot free a's memory
  pool_allocator<double> rebound(a);
  EXPECT_TRUE(a == pool_allocator<int>(a));
  EXPECT_TRUE(a == rebound);
  EXPECT_TRUE(pool_allocator<int>(rebound) == a);
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a != b);

  int* p = a.allocate(10);
  pool_allocator<int>(rebound).deallocate(p, 10);  // any equal allocator may deallocate
  EXPECT_EQ(a.outstanding(), 0u);

  pinned_vector<int> x(1000, 1, a);
  pinned_vector<int> y(10, 2, b);
  x = std::move(y);  // the allocator propagates: no element-wise move, b's chunk moves over
  EXPECT_TRUE(x.get_allocator() == b);
  EXPECT_EQ(x.size(), 10u);
  pinned_vector<int> z(5, 3, a);
  x.swap(z);
  EXPECT_TRUE(x.get_allocator() == a);
  EXPECT_TRUE(z.get_allocator() == b);
  x = z;  // copy assignment propagates too
  EXPECT_TRUE(x.get_allocator() == b);
}

TEST_F(PoolAllocator, OverAlignedTypes) {
  struct alignas(1024) page {
    unsigned char bytes[1024];
  };
  pool_allocator<page> alloc(pinned_);
  std::vector<page*> pages;
  for (int i = 0; i < 8; ++i) {
    pages.push_back(alloc.allocate(3));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pages.back()) % alignof(page), 0u);
    pages.back()[2].bytes[1023] = 1;  // the whole request is usable
  }
  for (page* p : pages) alloc.deallocate(p, 3);
  EXPECT_EQ(pinned_.stats().bytes_in_use, 0u);
}

TEST_F(PoolAllocator, HostPoolsOnly) {
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  EXPECT_THROW(pool_allocator<int>{device}, std::invalid_argument);
  pinpool::pool host(be_, options(pinpool::memory_kind::host));
  EXPECT_NO_THROW(pool_allocator<int>{host});
}

TEST_F(PoolAllocator, PoolErrorsSurface) {
  pinpool::pool_options opt = options(pinpool::memory_kind::host);
  opt.max_bytes = opt.slab_bytes = std::size_t{1} << 20;
  pinpool::pool small(be_, opt);
  pool_allocator<char> alloc(small);
  EXPECT_THROW(alloc.allocate(std::size_t{2} << 20), std::invalid_argument);  // can never fit
  char* held = alloc.allocate(std::size_t{1} << 20);
  EXPECT_THROW(alloc.allocate(1), pinpool::pool_exhausted);
  alloc.deallocate(held, std::size_t{1} << 20);
  EXPECT_THROW(pool_allocator<std::uint64_t>(small).allocate(SIZE_MAX / 4),
               std::bad_array_new_length);
}

// A vector used as the source of an async copy goes away without a host synchronisation: its
// chunk is handed out again only after the copy ran.
TEST_F(PoolAllocator, RecordStreamOrdersTheRelease) {
  pinpool::stream s = be_->create_stream();
  pinpool::pool device(be_, options(pinpool::memory_kind::device));
  pinpool::buffer dst = device.acquire(4096, s);
  pool_allocator<std::uint8_t> alloc(pinned_);
  std::atomic<bool> copied{false};
  const std::uint8_t* old_data = nullptr;
  {
    pinned_vector<std::uint8_t> staging(4096, std::uint8_t{0xAB}, alloc);
    old_data = staging.data();
    s.launch_host_func([] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
    s.memcpy_async(dst.data(), staging.data(), staging.size());
    s.launch_host_func([&copied] { copied = true; });
    alloc.record_stream(staging.data(), s);
  }  // released on s: no wait here
  EXPECT_FALSE(copied.load());
  std::uint8_t* again = alloc.allocate(4096);  // host-idle: never the chunk still being read
  EXPECT_TRUE(again != old_data || copied.load());
  alloc.deallocate(again, 4096);
  s.synchronize();
  EXPECT_EQ(static_cast<std::uint8_t*>(dst.data())[4095], 0xAB);
  std::uint8_t unknown = 0;
  EXPECT_THROW(alloc.record_stream(&unknown, s), std::invalid_argument);
}

TEST_F(PoolAllocator, ConcurrentContainers) {
  pool_allocator<int> alloc(pinned_);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([alloc] {
      for (int round = 0; round < 200; ++round) {
        pinned_vector<int> v(alloc);
        for (int i = 0; i < 500; ++i) v.push_back(i);
        ASSERT_EQ(v[499], 499);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(alloc.outstanding(), 0u);
  EXPECT_EQ(pinned_.stats().bytes_in_use, 0u);
}

#ifndef NDEBUG
TEST_F(PoolAllocator, ForeignPointerIsFatalInDebugBuilds) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  pool_allocator<int> alloc(pinned_);
  int local = 0;
  EXPECT_DEATH(alloc.deallocate(&local, 1), "did not hand out");
}
#endif

}  // namespace
