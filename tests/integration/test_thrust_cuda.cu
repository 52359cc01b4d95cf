// thrust_allocator and cub_temp_storage on a real GPU (nvcc): Thrust algorithms on a pinpool
// stream through thrust::cuda::par_nosync(alloc).on(stream), CUB's two-phase scan, no
// cudaMalloc after warm-up. Skips when no CUDA device is usable.

#include <pinpool/cub_temp_storage.hpp>
#include <pinpool/pinpool.hpp>
#include <pinpool/thrust_allocator.hpp>

#include <cub/device/device_scan.cuh>
#include <thrust/device_vector.h>
#include <thrust/functional.h>
#include <thrust/reduce.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/system/cuda/execution_policy.h>

#include <cuda_runtime_api.h>

#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace {

TEST(ThrustCuda, AlgorithmsAndCubOnAPoolStream) {
  std::shared_ptr<pinpool::backend> be;
  try {
    be = pinpool::make_backend(pinpool::backend_kind::cuda);
  } catch (const pinpool::cuda_error& e) {
    GTEST_SKIP() << "no usable CUDA device: " << e.what();
  }
  pinpool::pool_options opt;
  opt.kind = pinpool::memory_kind::device;
  pinpool::pool pool(be, opt);
  pinpool::stream s = be->create_stream();
  const cudaStream_t cs = static_cast<cudaStream_t>(s.native_handle());
  const pinpool::thrust_allocator<char> temporaries(pool, s);
  const pinpool::thrust_allocator<int> container(pool);  // device_vector: synchronous use

  const int n = 1 << 20;
  const auto round = [&] {
    thrust::device_vector<int, pinpool::thrust_allocator<int>> v(n, container);
    thrust::sequence(thrust::cuda::par_nosync(temporaries).on(cs), v.rbegin(), v.rend());
    thrust::sort(thrust::cuda::par_nosync(temporaries).on(cs), v.begin(), v.end());
    const long long sum = thrust::reduce(thrust::cuda::par_nosync(temporaries).on(cs), v.begin(),
                                         v.end(), 0LL, thrust::plus<long long>());
    EXPECT_EQ(sum, 1LL * n * (n - 1) / 2);
    thrust::device_vector<int, pinpool::thrust_allocator<int>> prefix(n, container);
    const int* in = thrust::raw_pointer_cast(v.data());
    int* out = thrust::raw_pointer_cast(prefix.data());
    const cudaError_t err = pinpool::cub_temp_storage(pool, s, [&](void* tmp, std::size_t& bytes) {
      return cub::DeviceScan::InclusiveSum(tmp, bytes, in, out, n, cs);
    });
    EXPECT_EQ(err, cudaSuccess);
    s.synchronize();
    EXPECT_EQ(static_cast<int>(prefix[2]), 0 + 1 + 2);
  };
  round();  // warm-up
  const pinpool::pool_stats before = pool.stats();
  for (int i = 0; i < 5; ++i) round();
  EXPECT_EQ(pool.stats().backend_allocations, before.backend_allocations);
  s.synchronize();
}

}  // namespace
