// libFuzzer target: operation sequences on a pool (CPU backend, or the CUDA backend over the
// emulated runtime when built with PINPOOL_FUZZ_EMULATED). After every operation it checks the
// byte accounting, that no two live chunks overlap, and that the cap holds. Any failure aborts.
#include <pinpool/pinpool.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#ifdef PINPOOL_FUZZ_EMULATED
#include "emulation/cuda_emulation.hpp"
#endif

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_pool_ops: invariant broken: %s\n", what);
  std::abort();
}

struct input {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos = 0;
  bool done() const { return pos >= size; }
  std::uint8_t byte() { return pos < size ? data[pos++] : 0; }
  std::size_t bytes_request() {  // 1 B .. 1 GiB (a 16-bit value shifted by 0..22, >> 8)
    const unsigned shift = byte() % 23;
    return ((static_cast<std::size_t>(byte()) << 8 | byte()) << shift >> 8) + 1;
  }
};

struct environment {
  std::shared_ptr<pinpool::backend> be;
  std::vector<pinpool::stream> streams;
  environment() {
#ifdef PINPOOL_FUZZ_EMULATED
    be = pinpool::make_backend(pinpool::backend_kind::cuda);
#else
    be = pinpool::make_backend(pinpool::backend_kind::cpu);
#endif
    for (int i = 0; i < 3; ++i) streams.push_back(be->create_stream());
  }
};

environment& env() {
  static environment e;  // streams are reused across inputs; pools are not
  return e;
}

void check(const pinpool::pool& p, const std::vector<pinpool::buffer>& live, std::size_t cap) {
  const pinpool::pool_stats st = p.stats();
  std::size_t in_use = 0, requested = 0;
  std::map<std::uintptr_t, std::uintptr_t> ranges;  // begin -> end of every live chunk
  for (const pinpool::buffer& b : live) {
    in_use += b.capacity();
    requested += b.size();
    const auto begin = reinterpret_cast<std::uintptr_t>(b.data());
    if (b.capacity() < b.size()) fail("chunk smaller than the request");
    if (begin % 256 != 0) fail("misaligned chunk");
    if (!ranges.emplace(begin, begin + b.capacity()).second)
      fail("two live chunks share an address");
  }
  std::uintptr_t previous_end = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin < previous_end) fail("two live chunks overlap");
    previous_end = end;
  }
  if (st.bytes_in_use != in_use) fail("bytes_in_use differs from the live chunks");
  if (st.bytes_requested != requested) fail("bytes_requested differs from the live requests");
  if (st.outstanding_buffers != live.size()) fail("outstanding_buffers differs");
  if (st.bytes_in_use + st.bytes_pending > st.bytes_reserved) fail("more in use than reserved");
  if (cap != 0 && st.bytes_reserved > cap) fail("the cap was exceeded");
  if (st.peak_bytes_in_use < st.bytes_in_use) fail("peak below current use");
}

// An acquisition that could take the pool's slabs past this many bytes is skipped. Requests go
// up to 1 GiB and pinned slabs are populated when made, so one input holding a few large buffers
// would otherwise pass libFuzzer's default 2 GiB RSS limit on its own (seed_07 holds 1.35 GiB at
// once); the peak stays near this budget plus the sanitizers' own memory.
constexpr std::size_t reserve_budget = std::size_t{5} << 28;  // 1.25 GiB

// The next request, or 0 (nothing to acquire) when its chunk could take the pool past
// reserve_budget.
std::size_t request_within_budget(input& in, const pinpool::pool& p) {
  const std::size_t bytes = in.bytes_request();
  return p.stats().bytes_reserved + p.chunk_size_for(bytes) > reserve_budget ? 0 : bytes;
}

void apply(input& in, pinpool::pool& p, std::vector<pinpool::buffer>& live) {
  auto& streams = env().streams;
  auto& s = streams[in.byte() % streams.size()];
  const std::uint8_t op = in.byte() % 9;
  try {
    switch (op) {
      case 0:
        if (const std::size_t bytes = request_within_budget(in, p)) {
          live.push_back(p.acquire(bytes));
        }
        break;
      case 1:
        if (const std::size_t bytes = request_within_budget(in, p)) {
          live.push_back(p.acquire(bytes, s));
        }
        break;
      case 2:
        if (const std::size_t bytes = request_within_budget(in, p)) {
          if (auto b = p.try_acquire(bytes)) live.push_back(std::move(*b));
        }
        break;
      case 3:
      case 4:
        if (!live.empty()) live.erase(live.begin() + in.byte() % live.size());
        break;
      case 5:
        if (!live.empty()) live[in.byte() % live.size()].set_stream(s);
        break;
      case 6:
        if (!live.empty()) live[in.byte() % live.size()].record_stream(s);
        break;
      case 7:
        p.trim();
        break;
      case 8:
        s.synchronize();
        break;
    }
  } catch (const pinpool::pool_exhausted&) {
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  pinpool::pool_options o;
  const std::uint8_t config = in.byte();
  o.kind = static_cast<pinpool::memory_kind>(config % 3);
  o.max_bytes = (config & 4) ? std::size_t{8} << 20 : 0;
  o.slab_bytes = std::size_t{1} << (16 + config / 8 % 6);
  {
    pinpool::pool p(env().be, o);
    std::vector<pinpool::buffer> live;
    for (int ops = 0; !in.done() && ops < 256; ++ops) {
      apply(in, p, live);
      check(p, live, o.max_bytes);
    }
    live.clear();
    for (auto& s : env().streams) s.synchronize();
    check(p, live, o.max_bytes);
    if (p.stats().bytes_in_use != 0) fail("bytes in use after every buffer was released");
  }
#ifdef PINPOOL_FUZZ_EMULATED
  for (const auto& v : pinpool_emu::violations()) {
    std::fprintf(stderr, "emulated CUDA runtime: %s\n", v.c_str());
    fail("a CUDA runtime rule was violated");
  }
#endif
  return 0;
}
