// CUB and Thrust stay on the pool's own paths (adoption issue §2): a thrust_allocator pointer is
// one of the pool's raw pointers (the pool's lock-free index finds it: record_stream accepts it,
// and an unknown pointer is refused), and cub_temp_storage holds one chunk for the duration of
// one call. CPU backend, Thrust's CPP device system, g++.

#include <pinpool/cub_temp_storage.hpp>
#include <pinpool/pinpool.hpp>
#include <pinpool/thrust_allocator.hpp>

#include <thrust/device_ptr.h>

#include <cstddef>
#include <gtest/gtest.h>
#include <stdexcept>

namespace {

TEST(peer_paths, thrust_allocator_pointers_are_the_pools_raw_pointers) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  pinpool::pool pool(be, o);
  pinpool::stream s = be->create_stream();
  pinpool::thrust_allocator<int> alloc(pool, s);
  thrust::device_ptr<int> p = alloc.allocate(1000);
  EXPECT_EQ(pool.stats().outstanding_buffers, 1u);
  // The pool's raw-pointer index knows it (the same lookup pool.deallocate uses) ...
  EXPECT_NO_THROW(pool.record_stream(thrust::raw_pointer_cast(p), s));
  // ... and refuses what it did not hand out.
  int unknown = 0;
  EXPECT_THROW(pool.record_stream(&unknown, s), std::invalid_argument);
  alloc.deallocate(p, 1000);
  EXPECT_EQ(pool.stats().outstanding_buffers, 0u);
  EXPECT_EQ(alloc.outstanding(), 0u);
  s.synchronize();
}

TEST(peer_paths, cub_temp_storage_holds_one_chunk_for_one_call) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::device;
  pinpool::pool pool(be, o);
  pinpool::stream s = be->create_stream();
  std::size_t out_during_run = 0;
  pinpool::cub_temp_storage(pool, s, [&](void* tmp, std::size_t& bytes) {
    if (tmp == nullptr) {
      bytes = 4096;
      return;
    }
    out_during_run = pool.stats().outstanding_buffers;
  });
  EXPECT_EQ(out_during_run, 1u);
  EXPECT_EQ(pool.stats().outstanding_buffers, 0u) << "released on s once the call returned";
  s.synchronize();
}

}  // namespace
