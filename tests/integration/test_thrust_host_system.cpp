// pinpool::thrust_allocator with Thrust's CPP (or OMP) device system, compiled by g++: vectors
// and algorithm temporaries from a device pool of the CPU backend. Built twice by CMake, with
// THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP and (where OpenMP is found) ..._OMP.

#include <pinpool/pinpool.hpp>
#include <pinpool/thrust_allocator.hpp>

#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/host_vector.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>

#include <cstdint>
#include <gtest/gtest.h>
#include <memory>
#include <random>
#include <type_traits>
#include <vector>

static_assert(THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CPP ||
                  THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_OMP,
              "this suite runs Thrust's host device systems");

namespace {

using pinpool::thrust_allocator;
template <class T>
using pool_vector = thrust::device_vector<T, thrust_allocator<T>>;

static_assert(std::is_base_of_v<thrust::device_malloc_allocator<int>, thrust_allocator<int>>);
static_assert(
    std::is_same_v<thrust_allocator<int>::rebind<double>::other, thrust_allocator<double>>);
static_assert(std::is_same_v<thrust_allocator<int>::pointer, thrust::device_ptr<int>>);
static_assert(noexcept(
    std::declval<thrust_allocator<int>&>().deallocate(std::declval<thrust::device_ptr<int>>(), 1)));

// Elements read through the raw pointer: the host systems' memory is host memory. (Reading through
// device_reference works too, but Thrust binds a reference to a null system pointer there, which
// UBSan reports.)
template <class Vector>
const typename Vector::value_type* host_view(const Vector& v) {
  return thrust::raw_pointer_cast(v.data());
}

class ThrustAllocator : public ::testing::Test {
 protected:
  ThrustAllocator() {
    pinpool::pool_options opt;
    opt.kind = pinpool::memory_kind::device;
    opt.slab_bytes = std::size_t{16} << 20;
    pool_ = std::make_unique<pinpool::pool>(be_, opt);
  }

  // Non-negative keys: the sequential (CPP) radix sort of CCCL 3.0.1 orders negative ints after
  // the positive ones (RadixEncoder<int> widens to 64 bits before flipping bit 31), a CCCL bug
  // unrelated to allocation.
  static std::vector<int> random_keys(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> dist(0, 20000);  // sums of 100000 keys fit an int
    std::vector<int> keys(n);
    for (int& k : keys) k = dist(gen);
    return keys;
  }

  /// Sort, reduce and inclusive_scan of `n` keys, everything through `alloc`; checks results.
  template <class Alloc>
  void sort_reduce_scan(const Alloc& alloc, std::size_t n, unsigned seed) {
    const std::vector<int> keys = random_keys(n, seed);
    pool_vector<int> v(keys.begin(), keys.end(), alloc);
    thrust::sort(thrust::device(alloc), v.begin(), v.end());
    ASSERT_TRUE(thrust::is_sorted(thrust::device(alloc), v.begin(), v.end()));
    const long long sum = thrust::reduce(thrust::device(alloc), v.begin(), v.end(), 0LL);
    long long expected = 0;
    for (int k : keys) expected += k;
    ASSERT_EQ(sum, expected);
    pool_vector<long long> prefix(n, alloc);
    thrust::inclusive_scan(thrust::device(alloc), v.begin(), v.end(), prefix.begin(),
                           thrust::plus<long long>());
    ASSERT_EQ(host_view(prefix)[n - 1], expected);
  }

  std::shared_ptr<pinpool::backend> be_ = pinpool::make_backend(pinpool::backend_kind::cpu);
  std::unique_ptr<pinpool::pool> pool_;
};

TEST_F(ThrustAllocator, SortReduceScanMakeNoBackendAllocationAfterWarmUp) {
  const thrust_allocator<int> alloc(*pool_);
  for (unsigned warm = 0; warm < 2; ++warm) sort_reduce_scan(alloc, 100000, warm);
  const pinpool::pool_stats before = pool_->stats();
  for (unsigned round = 0; round < 10; ++round) sort_reduce_scan(alloc, 100000, 100 + round);
  const pinpool::pool_stats after = pool_->stats();
  EXPECT_EQ(after.backend_allocations, before.backend_allocations);
  EXPECT_GE(after.acquisitions, before.acquisitions + 20);  // two vectors a round, at least
  EXPECT_EQ(after.bytes_in_use, 0u);
  EXPECT_EQ(alloc.outstanding(), 0u);
}

TEST_F(ThrustAllocator, AlgorithmTemporariesComeFromThePool) {
  const thrust_allocator<char> temporaries(*pool_);
  thrust::host_vector<int> keys(1 << 16);
  thrust::sequence(keys.begin(), keys.end(), 0);
  std::vector<int> reversed(keys.rbegin(), keys.rend());
  thrust::device_vector<int> v(reversed.begin(), reversed.end());  // default allocator
  const pinpool::pool_stats before = pool_->stats();
  // A stable sort by key with values needs scratch space on every system.
  thrust::device_vector<int> values(v.size(), 1);
  thrust::stable_sort_by_key(thrust::device(temporaries), v.begin(), v.end(), values.begin());
  EXPECT_EQ(host_view(v)[0], 0);
  EXPECT_EQ(host_view(v)[v.size() - 1], (1 << 16) - 1);
  const pinpool::pool_stats after = pool_->stats();
  EXPECT_GT(after.acquisitions, before.acquisitions);
  EXPECT_EQ(after.bytes_in_use, 0u);
}

TEST_F(ThrustAllocator, StreamOrderedAllocator) {
  pinpool::stream s = be_->create_stream();
  const thrust_allocator<int> alloc(*pool_, s);
  ASSERT_TRUE(alloc.stream().has_value());
  EXPECT_EQ(*alloc.stream(), s.ref());
  sort_reduce_scan(alloc, 5000, 7);  // host systems run on this thread; s has no work
  s.synchronize();
  const pinpool::pool_stats warm = pool_->stats();
  sort_reduce_scan(alloc, 5000, 8);
  EXPECT_EQ(pool_->stats().backend_allocations, warm.backend_allocations);
  EXPECT_EQ(pool_->stats().bytes_in_use, 0u);
  s.synchronize();
}

TEST_F(ThrustAllocator, EqualityRebindAndErrors) {
  pinpool::stream s = be_->create_stream();
  const thrust_allocator<int> a(*pool_, s);
  const thrust_allocator<double> rebound(a);
  const thrust_allocator<int> other_table(*pool_, s);
  const thrust_allocator<int> no_stream(*pool_);
  EXPECT_TRUE(a == rebound);
  EXPECT_TRUE(thrust_allocator<int>(rebound) == a);
  EXPECT_FALSE(a == other_table);
  EXPECT_FALSE(a == thrust_allocator<int>(no_stream));
  EXPECT_EQ(&a.get_pool(), pool_.get());

  thrust_allocator<double> r = rebound;
  thrust::device_ptr<double> p = r.allocate(100);
  EXPECT_EQ(a.outstanding(), 1u);  // one table for a and its rebinds
  thrust_allocator<int>(rebound).deallocate(
      thrust::device_ptr<int>(reinterpret_cast<int*>(thrust::raw_pointer_cast(p))), 200);
  EXPECT_EQ(a.outstanding(), 0u);
  thrust_allocator<std::uint64_t> big(a);
  EXPECT_THROW(big.allocate(SIZE_MAX / 4), std::bad_alloc);
  s.synchronize();
}

}  // namespace
