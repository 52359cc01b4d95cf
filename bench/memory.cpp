// Suite 5: memory cost.
//
// waste/<mix>/<scheme>  rounding waste of a size mix under a rounding scheme. The figures are
//   counters (exact, not timed): waste_pct = sum(chunk - request) / sum(request), i.e. the share
//   of extra memory the mix holds; mean_waste_pct (per request, averaged) and max_waste_pct
//   (the worst request). The timed loop is the scheme's class lookup (ns per request).
//   Schemes: pinpool (pool::chunk_size_for, default options: 256 B alignment, 8 classes per
//   power of two), pow2 (next power of two, at least 256 B: buddy-style pools), pow8 (next
//   power of eight, at least 512 B: CUB CachingDeviceAllocator's default bins).
// bookkeeping/*  host bytes pinpool spends per chunk: the record's sizeof (src/core/chunk.hpp)
//   and what the heap really grew by per carved chunk (glibc mallinfo2), plus the fixed cost
//   of a pool's size-class table.

#include "core/pool_core.hpp"
#include "bench_util.hpp"

#include <pinpool/pinpool.hpp>

#include <cmath>
#include <malloc.h>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

using sizes_t = std::vector<std::size_t>;

// ---- size mixes
// -----------------------------------------------------------------------------------

/// Frame buffers of common resolutions and pixel formats (bytes = width * height * bytes/px).
sizes_t image_frames() {
  const std::pair<std::size_t, std::size_t> res[] = {{640, 480},   {1280, 720},  {1920, 1080},
                                                     {2048, 1536}, {2560, 1440}, {3840, 2160},
                                                     {4096, 2160}};
  // gray8, NV12 (1.5 B/px: 3/2), RGB8, RGBA8, gray float32, RGB float32 (planar)
  const std::pair<std::size_t, std::size_t> px_num_den[] = {{1, 1}, {3, 2}, {3, 1},
                                                            {4, 1}, {4, 1}, {12, 1}};
  sizes_t out;
  for (const auto& [w, h] : res) {
    for (const auto& [num, den] : px_num_den) out.push_back(w * h * num / den);
  }
  return out;
}

/// Activations and inputs of vision models: batch x channels x H x W, fp16 and fp32.
sizes_t tensors() {
  struct shape {
    std::size_t c, h, w;
  };
  const shape shapes[] = {{3, 224, 224},  {3, 256, 256}, {3, 384, 384}, {3, 512, 512},
                          {64, 112, 112}, {64, 56, 56},  {128, 28, 28}, {256, 14, 14},
                          {512, 7, 7},    {1000, 1, 1},  {768, 14, 14}, {197, 768, 1}};
  sizes_t out;
  for (std::size_t batch : {1, 2, 4, 8, 16, 32}) {
    for (const shape& s : shapes) {
      for (std::size_t elem : {2, 4}) out.push_back(batch * s.c * s.h * s.w * elem);
    }
  }
  return out;
}

sizes_t log_uniform(std::size_t lo, std::size_t hi, std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(std::log2(static_cast<double>(lo)),
                                           std::log2(static_cast<double>(hi)));
  sizes_t out(n);
  for (auto& v : out) v = static_cast<std::size_t>(std::exp2(d(rng)));
  return out;
}

sizes_t uniform(std::size_t lo, std::size_t hi, std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> d(lo, hi);
  sizes_t out(n);
  for (auto& v : out) v = d(rng);
  return out;
}

struct mix {
  const char* name;
  sizes_t sizes;
};

const std::vector<mix>& mixes() {
  static const std::vector<mix> all{
      {"image_frames", image_frames()},
      {"tensors", tensors()},
      {"log_uniform_2KiB_64MiB", log_uniform(2048, std::size_t{64} << 20, 100000, 1)},
      {"uniform_2KiB_1MiB", uniform(2048, std::size_t{1} << 20, 100000, 2)},
      {"log_uniform_256B_64MiB", log_uniform(256, std::size_t{64} << 20, 100000, 3)},
      {"small_1B_2KiB", uniform(1, 2048, 100000, 4)},
  };
  return all;
}

// ---- rounding schemes
// -------------------------------------------------------------------------------

pinpool::pool& pool_for_sizes() {
  static pinpool::pool p(pinpool::make_backend(pinpool::backend_kind::cpu), [] {
    pinpool::pool_options o;
    o.kind = pinpool::memory_kind::host;
    o.name = "bench-memory";
    return o;
  }());
  return p;
}

std::size_t round_pinpool(std::size_t n) {
  return pool_for_sizes().chunk_size_for(n);
}

std::size_t round_pow2(std::size_t n) {
  std::size_t c = 256;
  while (c < n) c <<= 1;
  return c;
}

std::size_t round_pow8(std::size_t n) {
  std::size_t c = 512;
  while (c < n) c <<= 3;
  return c;
}

void bm_waste(benchmark::State& state, const mix* m, std::size_t (*round)(std::size_t)) {
  double requested = 0, wasted = 0, sum_pct = 0, max_pct = 0;
  for (std::size_t n : m->sizes) {
    const std::size_t c = round(n);
    const double w = static_cast<double>(c - n);
    requested += static_cast<double>(n);
    wasted += w;
    const double pct = 100.0 * w / static_cast<double>(n);
    sum_pct += pct;
    if (pct > max_pct) max_pct = pct;
  }
  for (auto _ : state) {
    for (std::size_t n : m->sizes) benchmark::DoNotOptimize(round(n));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(m->sizes.size()));
  state.counters["waste_pct"] = 100.0 * wasted / requested;
  state.counters["mean_waste_pct"] = sum_pct / static_cast<double>(m->sizes.size());
  state.counters["max_waste_pct"] = max_pct;
  state.counters["requests"] = static_cast<double>(m->sizes.size());
}

// ---- bookkeeping
// -------------------------------------------------------------------------------------

void bm_bookkeeping_static(benchmark::State& state) {
  using pinpool::detail::chunk;
  for (auto _ : state) benchmark::DoNotOptimize(sizeof(chunk));
  state.counters["sizeof_chunk"] = sizeof(chunk);
  state.counters["sizeof_list_links"] = sizeof(chunk::prev) + sizeof(chunk::next);
  state.counters["sizeof_chunk_list"] = sizeof(pinpool::detail::chunk_list);
  // new_chunk_record() reserves room for 2 streams and 2 events on the heap.
  state.counters["reserved_vector_bytes"] =
      2 * sizeof(pinpool::stream_ref) + 2 * sizeof(pinpool::detail::event_slot);
  state.counters["slab_index_bytes"] = sizeof(chunk*);  // slab_record::chunks entry
  state.counters["sizeof_slab_record"] = sizeof(pinpool::detail::slab_record);
  state.counters["sizeof_class_state"] = sizeof(pinpool::detail::class_state);
}

std::size_t heap_in_use() {
  return mallinfo2().uordblks;
}

// Carves `chunks` chunks of `bytes` from one pre-reserved slab and measures the heap's growth.
void bm_bookkeeping_measured(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t chunks = 4096;
  double per_chunk = 0, per_pool = 0;
  for (auto _ : state) {
    std::vector<pinpool::buffer> held;
    held.reserve(chunks);
    auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
    const std::size_t before_pool = heap_in_use();
    pinpool::pool_options o;
    o.kind = pinpool::memory_kind::host;
    o.initial_bytes = bytes * chunks;
    o.slab_bytes = bytes * chunks;
    pinpool::pool p(be, o);
    const std::size_t before = heap_in_use();
    for (std::size_t i = 0; i < chunks; ++i) held.push_back(p.acquire(bytes));
    const std::size_t after = heap_in_use();
    per_pool = static_cast<double>(before - before_pool);
    per_chunk = static_cast<double>(after - before) / chunks;
    held.clear();
  }
  state.counters["heap_bytes_per_chunk"] = per_chunk;
  state.counters["overhead_pct_of_chunk"] = 100.0 * per_chunk / static_cast<double>(bytes);
  state.counters["heap_bytes_per_pool"] = per_pool;
  state.counters["size_classes"] =
      static_cast<double>(pinpool::detail::size_classes(256, 8).count());
}

void register_all() {
  const std::pair<const char*, std::size_t (*)(std::size_t)> schemes[] = {
      {"pinpool", round_pinpool}, {"pow2", round_pow2}, {"pow8", round_pow8}};
  for (const mix& m : mixes()) {
    for (const auto& [name, fn] : schemes) {
      benchmark::RegisterBenchmark((std::string("waste/") + m.name + "/" + name).c_str(),
                                   [m = &m, fn = fn](benchmark::State& s) { bm_waste(s, m, fn); });
    }
  }
  benchmark::RegisterBenchmark("bookkeeping/static", bm_bookkeeping_static)->Iterations(1);
  benchmark::RegisterBenchmark("bookkeeping/measured", bm_bookkeeping_measured)
      ->ArgName("bytes")
      ->Arg(256)
      ->Arg(64 << 10)
      ->Iterations(1);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
