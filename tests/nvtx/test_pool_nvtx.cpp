// pinpool's own NVTX output, read back with the in-process recorder (CPU backend): slow-path
// ranges in domain "pinpool", one memory-API heap per slab, one region per chunk handed out.

#include "../support/forwarding_backend.hpp"

#include <pinpool/detail/nvtx.hpp>
#include <pinpool/pinpool.hpp>
#include <pinpool/trace/recorder.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <gtest/gtest.h>
#include <optional>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

namespace trace = pinpool::trace;
using trace::recorder;

std::uint32_t os_tid() {
  return static_cast<std::uint32_t>(::syscall(SYS_gettid));
}

class PoolNvtx : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef PINPOOL_HAS_NVTX
    GTEST_SKIP() << "pinpool built with PINPOOL_NVTX=OFF: it emits no NVTX";
#endif
    if (std::getenv("NVTX_INJECTION64_PATH") != nullptr) {
      GTEST_SKIP() << "NVTX_INJECTION64_PATH is set: NVTX attaches that tool, not the recorder";
    }
    ASSERT_TRUE(recorder::attach());
    recorder::clear();
#ifdef PINPOOL_HAS_NVTX
    // pinpool emits memory annotations only when it sees an injected tool (it looks for
    // NVTX_INJECTION64_PATH): the statically linked recorder has to turn them on.
    pinpool::detail::nvtx_memory_annotations() = true;
#endif
  }

  static std::size_t live_heaps(const trace::trace_snapshot& s, std::size_t* bytes = nullptr) {
    std::size_t n = 0, total = 0;
    for (const trace::heap_info& h : s.heaps) {
      if (h.domain != "pinpool" || h.id == 0) continue;
      ++n;
      total += h.bytes;
      EXPECT_EQ(h.usage, 1u);  // NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR
      EXPECT_EQ(h.type, 1u);   // NVTX_MEM_TYPE_VIRTUAL_ADDRESS
    }
    if (bytes != nullptr) *bytes = total;
    return n;
  }

  std::shared_ptr<pinpool::backend> be_ = pinpool::make_backend(pinpool::backend_kind::cpu);
};

TEST_F(PoolNvtx, HeapPerSlabRegionPerChunkAndGrowRanges) {
  pinpool::pool_options opt;
  opt.kind = pinpool::memory_kind::host;
  opt.slab_bytes = std::size_t{1} << 20;
  pinpool::pool pool(be_, opt);
  std::vector<pinpool::buffer> held;
  for (const std::size_t bytes : {1000u, 5000u, 300000u, 3u << 20}) {
    held.push_back(pool.acquire(bytes));
  }
  std::size_t capacities = 0;
  for (const auto& b : held) capacities += b.capacity();

  trace::trace_snapshot s = recorder::snapshot();
  const pinpool::pool_stats st = pool.stats();
  std::size_t heap_bytes = 0;
  EXPECT_EQ(live_heaps(s, &heap_bytes), st.slabs);
  EXPECT_EQ(heap_bytes, st.bytes_reserved);
  EXPECT_EQ(recorder::bytes_in_use("pinpool"), capacities);
  const auto grows = s.find_ranges("pinpool::grow", std::string_view("pinpool"));
  EXPECT_EQ(grows.size(), st.grows);
  for (const trace::range* r : grows) {
    EXPECT_EQ(r->kind, trace::range_kind::push_pop);
    EXPECT_EQ(r->tid, os_tid());
  }
  // Every chunk handed out is one region of its class size, at its address.
  std::size_t regions = 0;
  for (const trace::memory_event& e : s.memory) {
    if (e.domain != "pinpool" || e.op != trace::memory_op::region_register) continue;
    ++regions;
    bool matches = false;
    for (const auto& b : held) matches |= e.ptr == b.data() && e.bytes == b.capacity();
    EXPECT_TRUE(matches) << e.ptr;
  }
  EXPECT_EQ(regions, held.size());

  held.clear();
  EXPECT_EQ(recorder::bytes_in_use("pinpool"), 0u);
  pool.trim();
  s = recorder::snapshot();
  EXPECT_EQ(s.find_ranges("pinpool::trim").size(), 1u);
  EXPECT_EQ(live_heaps(s), pool.stats().slabs);
}

TEST_F(PoolNvtx, StreamOrderedReleaseUnregistersAtRelease) {
  pinpool::pool_options opt;
  opt.kind = pinpool::memory_kind::device;
  pinpool::pool pool(be_, opt);
  pinpool::stream s = be_->create_stream();
  {
    pinpool::buffer b = pool.acquire(4096, s);
    EXPECT_EQ(recorder::bytes_in_use("pinpool"), b.capacity());
  }
  EXPECT_EQ(recorder::bytes_in_use("pinpool"), 0u);
  s.synchronize();
}

TEST_F(PoolNvtx, WaitingAtTheCapIsARange) {
  pinpool::pool_options opt;
  opt.kind = pinpool::memory_kind::host;
  opt.slab_bytes = opt.initial_bytes = opt.max_bytes = std::size_t{1} << 20;
  opt.acquire_timeout = std::chrono::seconds(10);
  pinpool::pool pool(be_, opt);
  std::vector<pinpool::buffer> held;
  while (std::optional<pinpool::buffer> b = pool.try_acquire(std::size_t{256} << 10)) {
    held.push_back(std::move(*b));
  }
  ASSERT_FALSE(held.empty());
  std::thread releaser([&held] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    held.pop_back();
  });
  pinpool::buffer again = pool.acquire(std::size_t{256} << 10);
  releaser.join();
  const trace::trace_snapshot s = recorder::snapshot();
  const auto waits = s.find_ranges("pinpool::wait", std::string_view("pinpool"));
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0]->tid, os_tid());
  EXPECT_GT(waits[0]->duration_ns(), 0);
}

// Found on an H200 by tools/gpu-check: compute-sanitizer rejects an NVTX heap over plain host
// memory of a CUDA process (the runtime did not allocate it), and then every region in it. On a
// CUDA backend a host pool registers no heap, and no region is unregistered that was never
// registered. (A CPU backend reporting itself as CUDA stands in for the runtime here.)
class claims_cuda : public pinpool_test::forwarding_backend {
 public:
  using forwarding_backend::forwarding_backend;
  pinpool::backend_kind kind() const noexcept override { return pinpool::backend_kind::cuda; }
  bool is_capturing(pinpool::stream_ref) override { return false; }
};

TEST_F(PoolNvtx, HostPoolsOfACudaBackendAnnotateNothing) {
  auto be = std::make_shared<claims_cuda>(be_);
  for (const pinpool::memory_kind kind :
       {pinpool::memory_kind::host, pinpool::memory_kind::pinned_host}) {
    recorder::clear();
    pinpool::pool_options opt;
    opt.kind = kind;
    opt.slab_bytes = std::size_t{1} << 20;
    pinpool::pool pool(be, opt);
    for (int i = 0; i < 3; ++i) {
      pinpool::buffer a = pool.acquire(4096);
      pinpool::buffer b = pool.acquire(300000);
    }
    pool.trim();
    std::size_t heap_ops = 0, region_ops = 0;
    for (const trace::memory_event& e : recorder::snapshot().memory) {
      if (e.domain != "pinpool") continue;
      const bool heap_op =
          e.op == trace::memory_op::heap_register || e.op == trace::memory_op::heap_unregister;
      (heap_op ? heap_ops : region_ops) += 1;
    }
    if (kind == pinpool::memory_kind::host) {
      EXPECT_EQ(heap_ops, 0u);
      EXPECT_EQ(region_ops, 0u);
    } else {                       // pinned memory the runtime allocated: annotated as before
      EXPECT_GE(heap_ops, 2u);     // registered, and unregistered by trim
      EXPECT_EQ(region_ops, 12u);  // 6 chunks handed out, 6 released
    }
  }
}

}  // namespace
