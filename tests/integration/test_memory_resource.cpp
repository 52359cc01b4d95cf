// pinpool's cuda::mr adaptors (CCCL 3.0 memory resources), compiled by g++ and run on the CPU
// backend: the concepts they model, use through resource_ref / async_resource_ref, and
// stream-ordered deallocation.

#include <pinpool/memory_resource.hpp>
#include <pinpool/pinpool.hpp>

#include <cuda/memory_resource>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <gtest/gtest.h>
#include <memory>
#include <stdexcept>
#include <thread>

namespace {

namespace mr = cuda::mr;
using pinpool::device_pool_resource;
using pinpool::host_pool_resource;
using pinpool::pinned_pool_resource;

static_assert(
    mr::async_resource_with<pinned_pool_resource, mr::host_accessible, mr::device_accessible>);
static_assert(mr::async_resource_with<device_pool_resource, mr::device_accessible>);
static_assert(!mr::resource_with<device_pool_resource, mr::host_accessible>);
static_assert(mr::async_resource_with<host_pool_resource, mr::host_accessible>);
static_assert(!mr::resource_with<host_pool_resource, mr::device_accessible>);
static_assert(mr::resource<pinned_pool_resource> && mr::async_resource<pinned_pool_resource>);
static_assert(std::is_nothrow_copy_constructible_v<device_pool_resource>);
// The refs accept exactly the resources with their properties.
static_assert(
    std::is_constructible_v<mr::async_resource_ref<mr::device_accessible>, pinned_pool_resource&>);
static_assert(
    std::is_constructible_v<mr::async_resource_ref<mr::device_accessible>, device_pool_resource&>);
static_assert(
    !std::is_constructible_v<mr::async_resource_ref<mr::device_accessible>, host_pool_resource&>);
static_assert(
    !std::is_constructible_v<mr::resource_ref<mr::host_accessible>, device_pool_resource&>);

class MemoryResource : public ::testing::Test {
 protected:
  std::unique_ptr<pinpool::pool> make_pool(pinpool::memory_kind kind) {
    pinpool::pool_options opt;
    opt.kind = kind;
    opt.slab_bytes = std::size_t{1} << 20;
    return std::make_unique<pinpool::pool>(be_, opt);
  }
  std::shared_ptr<pinpool::backend> be_ = pinpool::make_backend(pinpool::backend_kind::cpu);
  std::unique_ptr<pinpool::pool> pinned_ = make_pool(pinpool::memory_kind::pinned_host);
  std::unique_ptr<pinpool::pool> device_ = make_pool(pinpool::memory_kind::device);
  std::unique_ptr<pinpool::pool> host_ = make_pool(pinpool::memory_kind::host);
};

TEST_F(MemoryResource, ThroughResourceRefs) {
  pinned_pool_resource pinned(*pinned_);
  host_pool_resource host(*host_);
  mr::resource_ref<mr::host_accessible> to_host[] = {pinned, host};
  for (auto& ref : to_host) {
    void* p = ref.allocate(1000, 64);
    static_cast<unsigned char*>(p)[999] = 1;  // host accessible, and really 1000 bytes
    ref.deallocate(p, 1000, 64);
  }
  EXPECT_EQ(pinned_->stats().acquisitions, 1u);
  EXPECT_EQ(host_->stats().acquisitions, 1u);
  EXPECT_EQ(pinned_->stats().bytes_in_use + host_->stats().bytes_in_use, 0u);

  device_pool_resource device(*device_);
  mr::async_resource_ref<mr::device_accessible> to_device[] = {pinned, device};
  pinpool::stream s = be_->create_stream();
  for (auto& ref : to_device) {
    void* p = ref.allocate_async(4096, 256, pinpool::to_cuda_stream_ref(s));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 256, 0u);
    ref.deallocate_async(p, 4096, 256, pinpool::to_cuda_stream_ref(s));
  }
  s.synchronize();
  EXPECT_EQ(device_->stats().acquisitions, 1u);
  EXPECT_EQ(pinned_->stats().acquisitions, 2u);
  // A ref keeps the resource's properties and can be narrowed.
  mr::async_resource_ref<mr::host_accessible, mr::device_accessible> both{pinned};
  mr::async_resource_ref<mr::device_accessible> narrowed{both};
  void* p = narrowed.allocate(64, 16);
  narrowed.deallocate(p, 64, 16);
  EXPECT_TRUE(narrowed == mr::async_resource_ref<mr::device_accessible>{pinned});
}

TEST_F(MemoryResource, DeallocateAsyncIsStreamOrdered) {
  device_pool_resource device(*device_);
  pinpool::stream s = be_->create_stream();
  const cuda::stream_ref cs = pinpool::to_cuda_stream_ref(s);
  std::atomic<bool> done{false};
  void* p = device.allocate_async(1 << 16, cs);
  s.launch_host_func([p, &done] {  // "kernel" still writing the chunk after its release
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    static_cast<unsigned char*>(p)[0] = 1;
    done = true;
  });
  device.deallocate_async(p, 1 << 16, cs);  // returns at once
  EXPECT_FALSE(done.load());
  void* same_stream = device.allocate_async(1 << 16, cs);  // ordered after the work: may reuse
  EXPECT_EQ(same_stream, p);
  device.deallocate_async(same_stream, 1 << 16, cs);
  void* idle = device.allocate(1 << 16);  // idle now: never the chunk the work still uses
  EXPECT_TRUE(idle != p || done.load());
  device.deallocate(idle, 1 << 16);
  s.synchronize();
  EXPECT_TRUE(done.load());
  EXPECT_EQ(device.outstanding(), 0u);
}

TEST_F(MemoryResource, DeallocateAsyncOnAnotherStreamReplacesTheStream) {
  device_pool_resource device(*device_);
  pinpool::stream a = be_->create_stream();
  pinpool::stream b = be_->create_stream();
  void* p = device.allocate_async(4096, pinpool::to_cuda_stream_ref(a));
  std::atomic<bool> b_done{false};
  b.launch_host_func([&b_done] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    b_done = true;
  });
  device.deallocate_async(p, 4096, pinpool::to_cuda_stream_ref(b));  // reuse ordered after b
  void* idle = device.allocate(4096);
  EXPECT_TRUE(idle != p || b_done.load());
  device.deallocate(idle, 4096);
  a.synchronize();
  b.synchronize();
}

TEST_F(MemoryResource, CopiesShareTheTableAndCompareEqual) {
  pinned_pool_resource a(*pinned_);
  pinned_pool_resource copy = a;
  pinned_pool_resource other(*pinned_);
  EXPECT_TRUE(a == copy);
  EXPECT_FALSE(a == other);
  EXPECT_TRUE(a != other);
  void* p = a.allocate(100);
  EXPECT_EQ(copy.outstanding(), 1u);
  copy.deallocate(p, 100);  // an equal resource may deallocate
  EXPECT_EQ(a.outstanding(), 0u);
  EXPECT_EQ(&a.get_pool(), pinned_.get());
}

TEST_F(MemoryResource, AlignmentAboveThePoolsIsHonoured) {
  host_pool_resource host(*host_);
  for (const std::size_t align : {1u, 16u, 256u, 4096u, 65536u}) {
    void* p = host.allocate(100, align);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << align;
    static_cast<unsigned char*>(p)[99] = 1;
    host.deallocate(p, 100, align);
  }
  EXPECT_THROW((void)host.allocate(100, 3), std::invalid_argument);
  EXPECT_EQ(host_->stats().bytes_in_use, 0u);
}

TEST_F(MemoryResource, KindsAreChecked) {
  EXPECT_THROW(pinned_pool_resource{*device_}, std::invalid_argument);
  EXPECT_THROW(device_pool_resource{*host_}, std::invalid_argument);
  EXPECT_THROW(host_pool_resource{*pinned_}, std::invalid_argument);
}

TEST_F(MemoryResource, ForeignStreamsAreRefused) {
  device_pool_resource device(*device_);
  cudaStream_t null_stream{};
  EXPECT_THROW((void)device.allocate_async(64, cuda::stream_ref{null_stream}),
               std::invalid_argument);
  EXPECT_EQ(device.outstanding(), 0u);
}

}  // namespace
