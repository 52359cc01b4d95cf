// libpinpool_torch.so as PyTorch loads it: dlopen, then the two entry points by name, on the
// real CUDA runtime. Without a usable GPU the allocation fails cleanly (null and one line saying
// why); with one it allocates and frees.

#include <cuda_runtime_api.h>

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <string>
#include <sys/types.h>

namespace {

using alloc_fn = void* (*)(ssize_t, int, cudaStream_t);
using free_fn = void (*)(void*, ssize_t, int, cudaStream_t);

class torch_plugin_so : public ::testing::Test {
 protected:
  void SetUp() override {
    handle_ = dlopen(PINPOOL_TORCH_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
  }
  void TearDown() override {
    // Never dlclose: the plugin's pools are deliberately never destroyed (PyTorch frees
    // tensors during process exit), so unloading its code would leave them dangling.
  }
  void* handle_ = nullptr;
};

TEST_F(torch_plugin_so, exports_the_two_entry_points_and_hides_pinpool) {
  EXPECT_NE(dlsym(handle_, "pinpool_alloc"), nullptr);
  EXPECT_NE(dlsym(handle_, "pinpool_free"), nullptr);
  // pinpool's own symbols (here pinpool::make_backend(backend_kind) and pinpool::pool::stats)
  // stay inside: two plugins, or a program with its own pinpool, cannot clash.
  EXPECT_EQ(dlsym(handle_, "_ZN7pinpool12make_backendENS_12backend_kindE"), nullptr);
  EXPECT_EQ(dlsym(handle_, "_ZNK7pinpool4pool5statsEv"), nullptr);
}

TEST_F(torch_plugin_so, allocates_on_a_gpu_or_fails_cleanly_without_one) {
  auto alloc = reinterpret_cast<alloc_fn>(dlsym(handle_, "pinpool_alloc"));
  auto release = reinterpret_cast<free_fn>(dlsym(handle_, "pinpool_free"));
  ASSERT_NE(alloc, nullptr);
  ASSERT_NE(release, nullptr);
  int devices = 0;
  const bool gpu = cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
  (void)cudaGetLastError();
  ::testing::internal::CaptureStderr();
  void* p = alloc(1 << 20, 0, nullptr);
  const std::string err = ::testing::internal::GetCapturedStderr();
  if (gpu) {
    ASSERT_NE(p, nullptr) << err;
    release(p, 1 << 20, 0, nullptr);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  } else {
    EXPECT_EQ(p, nullptr);
    EXPECT_NE(err.find("pinpool torch allocator: pinpool_alloc(1048576 bytes, device 0) failed"),
              std::string::npos)
        << err;
  }
}

}  // namespace
