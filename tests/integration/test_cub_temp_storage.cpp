// pinpool::cub_temp_storage with a CUB-style two-phase algorithm that runs on a CPU stream (the
// same protocol as cub::DeviceScan::InclusiveSum: a size query with null storage, then the
// call that enqueues the work).

#include <pinpool/cub_temp_storage.hpp>
#include <pinpool/pinpool.hpp>

#include <chrono>
#include <cstddef>
#include <future>
#include <gtest/gtest.h>
#include <memory>
#include <numeric>
#include <vector>

namespace {

constexpr int ok = 0;
constexpr int invalid_value = 1;  // stands for cudaErrorInvalidValue

/// Inclusive prefix sum of `in` into `out`, enqueued on `s`, using `temp` as scratch.
int inclusive_sum(void* temp, std::size_t& bytes, const int* in, int* out, int n,
                  pinpool::stream_ref s) {
  const std::size_t need = static_cast<std::size_t>(n) * sizeof(long long);
  if (temp == nullptr) {
    bytes = need;
    return ok;
  }
  if (n < 0 || bytes < need) return invalid_value;
  s.launch_host_func([temp, in, out, n] {
    auto* acc = static_cast<long long*>(temp);
    long long sum = 0;
    for (int i = 0; i < n; ++i) acc[i] = sum += in[i];
    for (int i = 0; i < n; ++i) out[i] = static_cast<int>(acc[i]);
  });
  return ok;
}

class CubTempStorage : public ::testing::Test {
 protected:
  CubTempStorage() {
    pinpool::pool_options opt;
    opt.kind = pinpool::memory_kind::device;
    opt.slab_bytes = std::size_t{1} << 20;
    pool_ = std::make_unique<pinpool::pool>(be_, opt);
  }
  /// Blocks `stream_` until the returned promise is set.
  std::promise<void> hold_stream() {
    std::promise<void> gate;
    auto opened = std::make_shared<std::shared_future<void>>(gate.get_future().share());
    stream_.launch_host_func([opened] { opened->wait(); });
    return gate;
  }

  std::shared_ptr<pinpool::backend> be_ = pinpool::make_backend(pinpool::backend_kind::cpu);
  std::unique_ptr<pinpool::pool> pool_;
  pinpool::stream stream_ = be_->create_stream();
};

TEST_F(CubTempStorage, QueriesAcquiresRunsAndReleasesOnTheStream) {
  const int n = 1000;
  std::vector<int> in(n, 1), out(n, 0);
  std::promise<void> gate = hold_stream();
  void* scratch = nullptr;
  const int status = pinpool::cub_temp_storage(*pool_, stream_, [&](void* p, std::size_t& bytes) {
    if (p != nullptr) scratch = p;
    return inclusive_sum(p, bytes, in.data(), out.data(), n, stream_);
  });
  EXPECT_EQ(status, ok);
  // Returned without waiting for the stream; the storage is released on it, not reusable by the
  // host until the algorithm ran.
  pinpool::pool_stats st = pool_->stats();
  EXPECT_EQ(st.acquisitions, 1u);
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.bytes_pending, pool_->chunk_size_for(n * sizeof(long long)));
  std::optional<pinpool::buffer> host = pool_->try_acquire(n * sizeof(long long));
  ASSERT_TRUE(host.has_value());
  EXPECT_NE(host->data(), scratch);
  EXPECT_EQ(out[n - 1], 0);  // nothing ran yet
  host.reset();
  gate.set_value();
  stream_.synchronize();
  EXPECT_EQ(out[n - 1], n);
  EXPECT_EQ(std::accumulate(out.begin(), out.end(), 0LL), 1LL * n * (n + 1) / 2);
}

TEST_F(CubTempStorage, ReusesTheScratchOnTheSameStreamWithoutAllocating) {
  const int n = 4096;
  std::vector<int> in(n, 2), out(n, 0);
  const auto run = [&](void* p, std::size_t& bytes) {
    return inclusive_sum(p, bytes, in.data(), out.data(), n, stream_);
  };
  ASSERT_EQ(pinpool::cub_temp_storage(*pool_, stream_, run), ok);  // warm-up
  std::promise<void> gate = hold_stream();
  const pinpool::pool_stats before = pool_->stats();
  for (int i = 0; i < 50; ++i) ASSERT_EQ(pinpool::cub_temp_storage(*pool_, stream_, run), ok);
  const pinpool::pool_stats after = pool_->stats();
  EXPECT_EQ(after.backend_allocations, before.backend_allocations);
  EXPECT_EQ(after.hits, before.hits + 50);  // stream order makes same-stream reuse safe
  gate.set_value();
  stream_.synchronize();
  EXPECT_EQ(out[n - 1], 2 * n);
}

TEST_F(CubTempStorage, AFailingQueryAcquiresNothing) {
  const int status =
      pinpool::cub_temp_storage(*pool_, stream_, [](void*, std::size_t&) { return invalid_value; });
  EXPECT_EQ(status, invalid_value);
  EXPECT_EQ(pool_->stats().acquisitions, 0u);
}

TEST_F(CubTempStorage, TheRunStatusIsReturned) {
  int calls = 0;
  const int status = pinpool::cub_temp_storage(*pool_, stream_, [&](void* p, std::size_t& b) {
    ++calls;
    if (p == nullptr) b = 100;
    return p == nullptr ? ok : invalid_value;
  });
  EXPECT_EQ(status, invalid_value);
  EXPECT_EQ(calls, 2);
}

TEST_F(CubTempStorage, VoidCallablesAndZeroBytes) {
  std::vector<void*> seen;
  pinpool::cub_temp_storage(*pool_, stream_, [&](void* p, std::size_t& bytes) {
    seen.push_back(p);
    bytes = 0;  // CUB may need no storage: the run still gets a non-null pointer
  });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], nullptr);
  EXPECT_NE(seen[1], nullptr);
  EXPECT_EQ(pool_->stats().acquisitions, 1u);
}

TEST_F(CubTempStorage, PoolErrorsSurface) {
  pinpool::pool_options opt;
  opt.kind = pinpool::memory_kind::device;
  opt.slab_bytes = opt.max_bytes = std::size_t{1} << 20;
  pinpool::pool capped(be_, opt);
  const auto needs = [](std::size_t n) {
    return [n](void* p, std::size_t& bytes) {
      if (p == nullptr) bytes = n;
      return ok;
    };
  };
  EXPECT_THROW(pinpool::cub_temp_storage(capped, stream_, needs(std::size_t{2} << 20)),
               std::invalid_argument);  // can never fit under the cap
  pinpool::buffer all = capped.acquire(std::size_t{1} << 20);
  EXPECT_THROW(pinpool::cub_temp_storage(capped, stream_, needs(1000)), pinpool::pool_exhausted);
}

}  // namespace
