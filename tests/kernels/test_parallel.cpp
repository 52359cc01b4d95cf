// The worker pool, and kernels run concurrently (plain threads and CPU-stream host functions)
// giving the same bytes as sequential runs.

#include "reference.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/kernels/cpu.hpp>
#include <pinpool/kernels/parallel_for.hpp>

#include <atomic>
#include <gtest/gtest.h>
#include <stdexcept>
#include <thread>
#include <vector>

namespace pinpool::kernels::testing {
namespace {

TEST(cpu_parallel_for, runs_every_index_once) {
  EXPECT_GE(cpu_concurrency(), 1);
  for (const int count : {0, 1, 2, 7, 64, 1000, 100003}) {
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(count));
    cpu_parallel_for(count, [&](int i) { hits[static_cast<std::size_t>(i)].fetch_add(1); });
    for (int i = 0; i < count; ++i) ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1) << i;
  }
  cpu_parallel_for(-5, [](int) { FAIL() << "called for a negative count"; });
}

TEST(cpu_parallel_for, concurrent_and_nested_calls) {
  constexpr int threads = 8, outer = 40, inner = 50;
  std::vector<std::thread> pool;
  std::vector<long long> sums(threads, 0);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        std::vector<std::atomic<int>> cells(outer * inner);
        cpu_parallel_for(outer, [&](int i) {
          cpu_parallel_for(inner,
                           [&](int j) { cells[static_cast<std::size_t>(i * inner + j)] += j; });
        });
        long long sum = 0;
        for (const auto& c : cells) sum += c.load();
        sums[static_cast<std::size_t>(t)] += sum;
      }
    });
  }
  for (auto& th : pool) th.join();
  const long long expected = 20LL * outer * (inner * (inner - 1) / 2);
  for (const long long s : sums) EXPECT_EQ(s, expected);
}

TEST(cpu_parallel_for, rethrows_the_first_exception) {
  std::atomic<int> calls{0};
  EXPECT_THROW(cpu_parallel_for(1000,
                                [&](int i) {
                                  ++calls;
                                  if (i == 500) throw std::runtime_error("boom");
                                }),
               std::runtime_error);
  EXPECT_GE(calls.load(), 1);
  // The pool is still usable afterwards.
  std::atomic<int> after{0};
  cpu_parallel_for(100, [&](int) { ++after; });
  EXPECT_EQ(after.load(), 100);
}

/// Every kernel applied to one image; the outputs concatenated.
std::vector<std::uint8_t> all_kernels(const test_image& rgb) {
  test_image grey(rgb.width, rgb.height, 1, 3), blurred(rgb.width, rgb.height, 1),
      edges(rgb.width, rgb.height, 1, 1), equalized(rgb.width, rgb.height, 1);
  std::vector<float> scratch(blur_scratch_bytes(rgb.width, rgb.height) / sizeof(float));
  gray_cpu(rgb.cview(), grey.view());
  blur_cpu(grey.cview(), blurred.view(), 1.7f, scratch.data());
  sobel_cpu(blurred.cview(), edges.view());
  equalize_cpu(grey.cview(), equalized.view());
  std::vector<std::uint8_t> out;
  for (const test_image* im : {&grey, &blurred, &edges, &equalized}) {
    out.insert(out.end(), im->bytes.begin(), im->bytes.end());
  }
  return out;
}

TEST(concurrency, two_threads_match_sequential_runs) {
  const test_image a = make_image(320, 200, 3, pattern::random, 0, 53);
  const test_image b = make_image(211, 157, 4, pattern::gradient, 5, 59);
  const std::vector<std::uint8_t> want_a = all_kernels(a), want_b = all_kernels(b);
  std::vector<std::uint8_t> got_a[10], got_b[10];
  std::thread ta([&] {
    for (auto& g : got_a) g = all_kernels(a);
  });
  std::thread tb([&] {
    for (auto& g : got_b) g = all_kernels(b);
  });
  ta.join();
  tb.join();
  for (const auto& g : got_a) EXPECT_EQ(g, want_a);
  for (const auto& g : got_b) EXPECT_EQ(g, want_b);
}

TEST(concurrency, host_functions_on_two_cpu_streams) {
  auto be = make_backend(backend_kind::cpu);
  stream s1 = be->create_stream(), s2 = be->create_stream();
  const test_image a = make_image(160, 120, 3, pattern::random, 0, 61);
  const test_image b = make_image(99, 140, 1, pattern::checkerboard, 0, 67);
  const std::vector<std::uint8_t> want_a = all_kernels(a), want_b = all_kernels(b);
  std::vector<std::uint8_t> got_a[6], got_b[6];
  for (int i = 0; i < 6; ++i) {
    s1.launch_host_func([&, i] { got_a[i] = all_kernels(a); });
    s2.launch_host_func([&, i] { got_b[i] = all_kernels(b); });
  }
  s1.synchronize();
  s2.synchronize();
  for (const auto& g : got_a) EXPECT_EQ(g, want_a);
  for (const auto& g : got_b) EXPECT_EQ(g, want_b);
}

}  // namespace
}  // namespace pinpool::kernels::testing
