// The PyTorch plugin (adapters/torch) on the emulated CUDA runtime (2 devices): its C++ core
// (configuration, one pool per device) in this process, and its C entry points, which read the
// environment once per process, in child processes (gtest death tests, re-executed: a fresh
// process each).

#include "emulation/violation_check.hpp"
#include "pinpool_torch.h"
#include "torch_allocator.hpp"

#include <pinpool/pinpool.hpp>

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using pinpool::torch_plugin::allocator;
using pinpool::torch_plugin::config;
using pinpool::torch_plugin::failure_policy;
using pinpool::torch_plugin::parse_bytes;
using pinpool::torch_plugin::read_config;

/// The invalid_argument message `fn` throws (fails the test when it throws nothing).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "no std::invalid_argument";
  return "";
}

config config_from(const std::map<std::string, std::string>& env) {
  return read_config([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

// ---- configuration ------------------------------------------------------------------------------

TEST(torch_plugin_config, byte_counts_with_binary_suffixes) {
  EXPECT_EQ(parse_bytes("V", "0"), 0u);
  EXPECT_EQ(parse_bytes("V", "1048576"), 1u << 20);
  EXPECT_EQ(parse_bytes("V", "512K"), 512u << 10);
  EXPECT_EQ(parse_bytes("V", "64MiB"), 64u << 20);
  EXPECT_EQ(parse_bytes("V", "8G"), std::size_t{8} << 30);
  EXPECT_EQ(parse_bytes("V", "2TiB"), std::size_t{2} << 40);
  for (const char* bad : {"", "-1", "+5", "12X", "1.5G", "8 GiB", "8gb", "GiB",
                          "18446744073709551616", "17179869184G"}) {
    const std::string msg = error_of([&] { parse_bytes("PINPOOL_TORCH_MAX_BYTES", bad); });
    EXPECT_NE(msg.find(std::string("PINPOOL_TORCH_MAX_BYTES='") + bad + "'"), std::string::npos)
        << msg;
  }
  EXPECT_NE(error_of([] { parse_bytes("V", "12X"); }).find("such as 1073741824, 512M or 8GiB"),
            std::string::npos);
}

TEST(torch_plugin_config, defaults_and_each_variable) {
  const config d = config_from({});
  EXPECT_EQ(d.max_bytes, 0u);
  EXPECT_EQ(d.slab_bytes, std::size_t{64} << 20);
  EXPECT_EQ(d.stats, "");
  EXPECT_EQ(d.on_failure, failure_policy::null);

  const std::string file = ::testing::TempDir() + "pinpool_torch_config_stats.json";
  const config c = config_from({{"PINPOOL_TORCH_MAX_BYTES", "8GiB"},
                                {"PINPOOL_TORCH_SLAB_BYTES", "2M"},
                                {"PINPOOL_TORCH_STATS", file},
                                {"PINPOOL_TORCH_ON_FAILURE", "abort"}});
  EXPECT_EQ(c.max_bytes, std::size_t{8} << 30);
  EXPECT_EQ(c.slab_bytes, 2u << 20);
  EXPECT_EQ(c.stats, file);
  EXPECT_EQ(c.on_failure, failure_policy::abort);
  EXPECT_EQ(config_from({{"PINPOOL_TORCH_STATS", "stderr"}}).stats, "stderr");
  EXPECT_EQ(config_from({{"PINPOOL_TORCH_MAX_BYTES", ""}}).max_bytes, 0u) << "empty = unset";
}

TEST(torch_plugin_config, bad_values_name_the_variable_and_what_is_expected) {
  EXPECT_NE(error_of([] {
              config_from({{"PINPOOL_TORCH_SLAB_BYTES", "0"}});
            }).find("PINPOOL_TORCH_SLAB_BYTES='0': expected a size above 0"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              config_from({{"PINPOOL_TORCH_ON_FAILURE", "throw"}});
            }).find("PINPOOL_TORCH_ON_FAILURE='throw': expected 'null' or 'abort'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              config_from({{"PINPOOL_TORCH_STATS", "/nonexistent-pinpool-dir/stats.json"}});
            }).find("PINPOOL_TORCH_STATS='/nonexistent-pinpool-dir/stats.json'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              config_from({{"PINPOOL_TORCH_MAX_BYTES", "lots"}});
            }).find("PINPOOL_TORCH_MAX_BYTES='lots'"),
            std::string::npos);
}

// ---- the allocator on the emulated runtime
// --------------------------------------------------------

class torch_plugin : public pinpool_emu::checked_test {
 protected:
  void SetUp() override {
    pinpool_emu::reset(2);
    pinpool_emu::checked_test::SetUp();
    for (int d = 0; d < 2; ++d) {
      ASSERT_EQ(cudaSetDevice(d), cudaSuccess);
      ASSERT_EQ(cudaStreamCreateWithFlags(&streams_[d], cudaStreamNonBlocking), cudaSuccess);
    }
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  }
  void TearDown() override {
    alloc_.reset();  // the pools wait for their releases on the streams
    for (cudaStream_t s : streams_) EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
    pinpool_emu::checked_test::TearDown();
  }
  allocator& make(config c = {}) {
    c.slab_bytes = c.slab_bytes == config{}.slab_bytes ? std::size_t{1} << 20 : c.slab_bytes;
    alloc_ = std::make_unique<allocator>(pinpool::make_backend(pinpool::backend_kind::cuda), c);
    return *alloc_;
  }
  std::vector<int> round_trip(void* device_memory, const std::vector<int>& in, cudaStream_t s) {
    std::vector<int> out(in.size(), -1);
    const std::size_t bytes = in.size() * sizeof(int);
    EXPECT_EQ(cudaMemcpyAsync(device_memory, in.data(), bytes, cudaMemcpyDefault, s), cudaSuccess);
    EXPECT_EQ(cudaMemcpyAsync(out.data(), device_memory, bytes, cudaMemcpyDefault, s), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    return out;
  }

  cudaStream_t streams_[2] = {nullptr, nullptr};
  std::unique_ptr<allocator> alloc_;
};

TEST_F(torch_plugin, one_pool_per_device_created_on_first_use_holding_data) {
  allocator& a = make();
  EXPECT_EQ(a.find(0), nullptr);
  EXPECT_EQ(a.find(1), nullptr);
  std::vector<int> in(1000);
  std::iota(in.begin(), in.end(), 11);
  void* on0 = a.allocate(4000, 0, streams_[0]);
  EXPECT_NE(a.find(0), nullptr);
  EXPECT_EQ(a.find(1), nullptr) << "device 1's pool is made when device 1 first allocates";
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);  // PyTorch allocates with the device current
  void* on1 = a.allocate(4000, 1, streams_[1]);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  ASSERT_NE(a.find(1), nullptr);
  EXPECT_NE(a.find(0), a.find(1));
  EXPECT_EQ(a.find(0)->options().device, 0);
  EXPECT_EQ(a.find(1)->options().device, 1);
  EXPECT_STREQ(a.find(1)->options().name, "torch:cuda1");
  EXPECT_EQ(round_trip(on0, in, streams_[0]), in);
  EXPECT_EQ(round_trip(on1, in, streams_[1]), in);
  EXPECT_EQ(a.find(0)->stats().outstanding_buffers, 1u);
  EXPECT_EQ(a.find(1)->stats().outstanding_buffers, 1u);

  a.deallocate(on0, 0, streams_[0]);
  // Same stream: the chunk comes straight back, stream-ordered (as PyTorch's caching allocator).
  EXPECT_EQ(a.allocate(4000, 0, streams_[0]), on0);
  a.deallocate(on0, 0, streams_[0]);
  a.deallocate(on1, 1, streams_[1]);
  EXPECT_EQ(a.find(0)->stats().outstanding_buffers, 0u);
  EXPECT_EQ(a.find(1)->stats().outstanding_buffers, 0u);
  EXPECT_EQ(pinpool_emu::get_counters().malloc_calls, 2u) << "one 1 MiB slab per device";

  const std::string js = a.stats_json();
  EXPECT_EQ(js.rfind("{\"devices\":[{\"device\":0,\"stats\":{", 0), 0u) << js;
  EXPECT_NE(js.find("{\"device\":1,\"stats\":{"), std::string::npos) << js;
}

TEST_F(torch_plugin, zero_bytes_is_null_and_null_free_is_nothing) {
  allocator& a = make();
  EXPECT_EQ(a.allocate(0, 0, streams_[0]), nullptr);
  EXPECT_EQ(a.find(0), nullptr) << "no pool for an empty tensor";
  a.deallocate(nullptr, 0, streams_[0]);
  a.deallocate(nullptr, 7, streams_[0]);  // not even the device is looked at
}

TEST_F(torch_plugin, concurrent_first_calls_make_one_pool) {
  allocator& a = make();
  constexpr int threads = 8;
  std::atomic<int> ready{0};
  std::vector<void*> got(threads, nullptr);
  std::vector<std::thread> pool_of_threads;
  for (int t = 0; t < threads; ++t) {
    pool_of_threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      got[static_cast<std::size_t>(t)] = a.allocate(1024, 0, streams_[0]);
    });
  }
  for (auto& th : pool_of_threads) th.join();
  ASSERT_NE(a.find(0), nullptr);
  EXPECT_EQ(a.find(0)->stats().outstanding_buffers, static_cast<std::size_t>(threads));
  EXPECT_EQ(pinpool_emu::get_counters().malloc_calls, 1u) << "a second pool would hold a slab";
  for (void* p : got) a.deallocate(p, 0, streams_[0]);
}

TEST_F(torch_plugin, another_thread_frees_with_another_device_current) {
  allocator& a = make();
  void* p = a.allocate(1 << 16, 0, streams_[0]);
  std::vector<int> in(100, 5);
  EXPECT_EQ(round_trip(p, in, streams_[0]), in);
  std::thread other([&] {
    EXPECT_EQ(cudaSetDevice(1), cudaSuccess);  // e.g. Python's GC running on another thread
    a.deallocate(p, 0, streams_[0]);
  });
  other.join();
  EXPECT_EQ(a.find(0)->stats().outstanding_buffers, 0u);
  EXPECT_EQ(cudaStreamSynchronize(streams_[0]), cudaSuccess);
  EXPECT_EQ(a.find(0)->stats().bytes_pending, 0u);
}

TEST_F(torch_plugin, the_legacy_default_stream_reuses_a_chunk_only_after_its_release_completed) {
  allocator& a = make();
  void* p = a.allocate(4096, 0, nullptr);  // PyTorch's default stream is the legacy stream
  ASSERT_NE(p, nullptr);
  // Hold the legacy stream's work back, so the release cannot complete.
  std::atomic<bool> go{false};
  ASSERT_EQ(cudaLaunchHostFunc(
                nullptr,
                [](void* flag) {
                  while (!static_cast<std::atomic<bool>*>(flag)->load()) std::this_thread::yield();
                },
                &go),
            cudaSuccess);
  a.deallocate(p, 0, nullptr);
  void* q = a.allocate(4096, 0, nullptr);
  EXPECT_NE(q, p) << "the legacy stream has no stable identity: no same-stream reuse (README)";
  go.store(true);
  ASSERT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
  a.deallocate(q, 0, nullptr);
  ASSERT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
  EXPECT_EQ(a.find(0)->stats().outstanding_buffers, 0u);
  EXPECT_EQ(a.find(0)->stats().bytes_pending, 0u);
}

TEST_F(torch_plugin, bad_calls_are_clear_errors_and_leave_the_pools_unchanged) {
  config c;
  c.max_bytes = 1 << 20;
  allocator& a = make(c);
  EXPECT_NE(error_of([&] { a.allocate(-5, 0, streams_[0]); }).find("negative size -5"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              a.allocate(16, 2, streams_[0]);
            }).find("device 2 out of range (2 CUDA devices)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a.allocate(16, -1, streams_[0]); }).find("device -1 out of range"),
            std::string::npos);
  // A stream of device 1 for device 0's memory.
  EXPECT_THROW(a.allocate(16, 0, streams_[1]), std::invalid_argument);
  // The cap (1 MiB per device): full now.
  void* big = a.allocate(900 << 10, 0, streams_[0]);
  EXPECT_THROW(a.allocate(900 << 10, 0, streams_[0]), pinpool::pool_exhausted);
  // Frees the pool does not hold out.
  int local = 0;
  EXPECT_NE(error_of([&] { a.deallocate(&local, 0, streams_[0]); }).find("torch:cuda0"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              a.deallocate(big, 1, streams_[1]);
            }).find("no pinpool memory was ever allocated"),
            std::string::npos);
  a.deallocate(big, 0, streams_[0]);
  EXPECT_NE(error_of([&] { a.deallocate(big, 0, streams_[0]); }).find("double free"),
            std::string::npos);
  EXPECT_EQ(a.find(0)->stats().outstanding_buffers, 0u);
  EXPECT_EQ(a.find(0)->stats().backend_allocations, 1u);
}

// ---- the C entry points, each test in a fresh process -------------------------------------------

// In a child: print the failed condition and exit with 3 (the parent expects 0).
#define CHILD_CHECK(cond)                                                          \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "child check failed: %s (line %d)\n", #cond, __LINE__); \
      std::_Exit(3);                                                               \
    }                                                                              \
  } while (0)

class torch_plugin_entry_points : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void two_devices_and_a_foreign_thread() {
  cudaStream_t s0 = nullptr;
  cudaStream_t s1 = nullptr;
  CHILD_CHECK(cudaStreamCreateWithFlags(&s0, cudaStreamNonBlocking) == cudaSuccess);
  CHILD_CHECK(cudaSetDevice(1) == cudaSuccess);
  CHILD_CHECK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking) == cudaSuccess);
  void* on1 = pinpool_alloc(1 << 20, 1, s1);
  CHILD_CHECK(cudaSetDevice(0) == cudaSuccess);
  void* on0 = pinpool_alloc(1000, 0, s0);
  CHILD_CHECK(on0 != nullptr && on1 != nullptr);
  CHILD_CHECK(pinpool_alloc(0, 0, s0) == nullptr);
  std::vector<int> in(250, 42);
  std::vector<int> out(250, 0);
  CHILD_CHECK(cudaMemcpyAsync(on0, in.data(), 1000, cudaMemcpyDefault, s0) == cudaSuccess);
  CHILD_CHECK(cudaMemcpyAsync(out.data(), on0, 1000, cudaMemcpyDefault, s0) == cudaSuccess);
  CHILD_CHECK(cudaStreamSynchronize(s0) == cudaSuccess);
  CHILD_CHECK(out == in);
  std::thread other([&] {
    pinpool_free(on0, 1000, 0, s0);
    pinpool_free(on1, 1 << 20, 1, s1);
    pinpool_free(nullptr, 0, 0, s0);
  });
  other.join();
  CHILD_CHECK(cudaStreamSynchronize(s0) == cudaSuccess);
  CHILD_CHECK(cudaStreamSynchronize(s1) == cudaSuccess);
  CHILD_CHECK(pinpool_emu::violations().empty());
  std::exit(0);  // runs the stats dump (atexit)
}

TEST_F(torch_plugin_entry_points, two_devices_a_foreign_thread_and_the_stats_file_at_exit) {
  // Not named after the pid: the death test's child is a re-executed process with another.
  const std::string file = ::testing::TempDir() + "pinpool_torch_entry_points_stats.json";
  std::remove(file.c_str());
  EXPECT_EXIT(
      {
        ::setenv("PINPOOL_TORCH_SLAB_BYTES", "2MiB", 1);
        ::setenv("PINPOOL_TORCH_MAX_BYTES", "64MiB", 1);
        ::setenv("PINPOOL_TORCH_STATS", file.c_str(), 1);
        two_devices_and_a_foreign_thread();
      },
      ::testing::ExitedWithCode(0), "");
  const std::string js = read_file(file);
  std::remove(file.c_str());
  EXPECT_EQ(js.rfind("{\"devices\":[{\"device\":0,\"stats\":{", 0), 0u) << js;
  EXPECT_NE(js.find("{\"device\":1,\"stats\":{"), std::string::npos) << js;
  EXPECT_NE(js.find("\"name\":\"torch:cuda1\""), std::string::npos) << js;
  EXPECT_NE(js.find("\"bytes_reserved\":2097152"), std::string::npos) << "2 MiB slabs: " << js;
  EXPECT_EQ(js.find("\"outstanding_buffers\":1"), std::string::npos) << "all freed: " << js;
}

TEST_F(torch_plugin_entry_points, stats_to_stderr) {
  EXPECT_EXIT(
      {
        ::setenv("PINPOOL_TORCH_STATS", "stderr", 1);
        ::setenv("PINPOOL_TORCH_SLAB_BYTES", "1M", 1);
        cudaStream_t s = nullptr;
        CHILD_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
        pinpool_free(pinpool_alloc(100, 0, s), 100, 0, s);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      "pinpool torch allocator stats: \\{\"devices\":\\[\\{\"device\":0,\"stats\":\\{");
}

TEST_F(torch_plugin_entry_points, a_bad_variable_makes_every_alloc_null_with_the_reason) {
  EXPECT_EXIT(
      {
        ::setenv("PINPOOL_TORCH_MAX_BYTES", "12X", 1);
        CHILD_CHECK(pinpool_alloc(256, 0, nullptr) == nullptr);
        CHILD_CHECK(pinpool_alloc(256, 0, nullptr) == nullptr);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      "pinpool_alloc\\(256 bytes, device 0\\) failed: pinpool torch allocator: "
      "PINPOOL_TORCH_MAX_BYTES='12X': expected a byte count");
}

TEST_F(torch_plugin_entry_points, failures_never_throw_and_say_why) {
  EXPECT_EXIT(
      {
        CHILD_CHECK(pinpool_alloc(-1, 0, nullptr) == nullptr);
        CHILD_CHECK(pinpool_alloc(64, 5, nullptr) == nullptr);
        void* p = pinpool_alloc(64, 0, nullptr);
        CHILD_CHECK(p != nullptr);
        pinpool_free(p, 64, 0, nullptr);
        pinpool_free(p, 64, 0, nullptr);  // double free: reported, ignored
        std::fprintf(stderr, "survived\n");
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      "negative size -1(.|\n)*device 5 out of range(.|\n)*double free(.|\n)*survived");
}

TEST_F(torch_plugin_entry_points, abort_policy_aborts_after_saying_why) {
  EXPECT_DEATH(
      {
        ::setenv("PINPOOL_TORCH_ON_FAILURE", "abort", 1);
        ::setenv("PINPOOL_TORCH_MAX_BYTES", "1M", 1);
        ::setenv("PINPOOL_TORCH_SLAB_BYTES", "1M", 1);
        void* p = pinpool_alloc(900 << 10, 0, nullptr);
        CHILD_CHECK(p != nullptr);
        pinpool_alloc(900 << 10, 0, nullptr);  // beyond the cap
        std::exit(0);
      },
      "pinpool_alloc\\(921600 bytes, device 0\\) failed: .*torch:cuda0");
}

TEST_F(torch_plugin_entry_points, abort_policy_also_covers_a_bad_variable) {
  EXPECT_DEATH(
      {
        ::setenv("PINPOOL_TORCH_ON_FAILURE", "abort", 1);
        ::setenv("PINPOOL_TORCH_SLAB_BYTES", "0", 1);
        pinpool_alloc(1, 0, nullptr);
        std::exit(0);
      },
      "PINPOOL_TORCH_SLAB_BYTES='0': expected a size above 0");
}

}  // namespace
