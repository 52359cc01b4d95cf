// pinpool::nccl::registry. Here (no GPU): the hooks' refusals, which never reach a GPU. With a
// GPU: a single-rank communicator registers a device pool's slabs and deregisters them.
#include <pinpool/nccl_registry.hpp>
#include <pinpool/pinpool.hpp>

#include <cuda_runtime_api.h>

#include <gtest/gtest.h>
#include <nccl.h>
#include <stdexcept>
#include <string>

namespace {

pinpool::pool_options with(const pinpool::slab_hooks& hooks, pinpool::memory_kind kind) {
  pinpool::pool_options o;
  o.kind = kind;
  o.slab_bytes = 1 << 20;
  o.first_slab_bytes = 1 << 20;
  o.hooks = hooks;
  return o;
}

TEST(nccl_registry, refuses_what_nccl_cannot_register_and_leaves_the_pool_unchanged) {
  pinpool::nccl::registry registry(nullptr);  // no communicator: every registration fails
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool pinned(be, with(registry.hooks(), pinpool::memory_kind::pinned_host));
  EXPECT_THROW(pinned.acquire(4096), std::invalid_argument) << "only device slabs";
  pinpool::pool device(be, with(registry.hooks(), pinpool::memory_kind::device));
  try {
    device.acquire(4096);
    ADD_FAILURE() << "a slab was registered with no communicator";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ncclCommRegister"), std::string::npos) << e.what();
  }
  EXPECT_EQ(device.stats().slabs, 0u);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(nccl_registry, registers_each_device_slab_of_a_pool_with_a_communicator) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    cudaGetLastError();
    GTEST_SKIP() << "needs a GPU (cudaGetDeviceCount found none)";
  }
  ncclComm_t comm = nullptr;
  int first = 0;
  ASSERT_EQ(ncclCommInitAll(&comm, 1, &first), ncclSuccess);
  {
    pinpool::nccl::registry registry(comm);
    auto be = pinpool::make_backend(pinpool::backend_kind::cuda);
    {
      pinpool::pool pool(be, with(registry.hooks(), pinpool::memory_kind::device));
      pinpool::buffer a = pool.acquire(768 << 10);
      pinpool::buffer b = pool.acquire(768 << 10);  // a second slab
      EXPECT_EQ(registry.size(), 2u);
      EXPECT_NE(registry.find(a.data(), a.size()), nullptr);
      EXPECT_NE(registry.find(b.data(), b.size()), nullptr);
    }
    EXPECT_EQ(registry.size(), 0u) << "deregistered before the slabs were freed";
  }
  EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess);
}

}  // namespace
