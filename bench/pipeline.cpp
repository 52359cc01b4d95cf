// Suite 3: the sample pipeline's orchestration with the pools, against the same pipeline
// allocating and freeing its buffers per frame with a host synchronisation per frame
// (--per-frame-allocation), on the CPU backend, 1 to 4 streams, 720p / 1080p / 4K synthetic
// frames. PNG encoding is skipped (--no-write) so the figures are about the pipeline itself.
#include <pinpool/backend.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "frame_plan.hpp"
#include "options.hpp"
#include "pipeline.hpp"

namespace {

namespace pp = pinpool::pipeline;

void pipeline_case(benchmark::State& state, bool per_frame_allocation) {
  pp::options o;
  o.width = static_cast<int>(state.range(0));
  o.height = static_cast<int>(state.range(1));
  o.streams = static_cast<int>(state.range(2));
  o.frames = o.width >= 3840 ? 8 : 16;
  o.write_outputs = false;
  o.per_frame_allocation = per_frame_allocation;
  o.output_dir = "/tmp/pinpool-bench-pipeline";  // only names outputs: nothing is written
  o.quiet = true;
  const auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  const auto plan = pp::plan_frames(o);
  pp::run_report report;
  for (auto _ : state) {
    report = pp::run_pipeline(o, be, plan, {});
    state.SetIterationTime(report.seconds);
  }
  std::uint64_t allocations = 0;
  for (const auto& p : report.pools) allocations += p.backend_allocations;
  state.counters["frames_per_second"] = report.frames_per_second();
  state.counters["backend_allocations"] = static_cast<double>(allocations);
  state.counters["frames"] = static_cast<double>(report.frames_ok);
  if (report.frames_failed != 0) state.SkipWithError("frames failed");
}

void sizes_and_streams(benchmark::internal::Benchmark* b) {
  for (auto [w, h] : {std::pair{1280, 720}, std::pair{1920, 1080}, std::pair{3840, 2160}}) {
    for (int streams : {1, 2, 4}) b->Args({w, h, streams});
  }
  b->ArgNames({"width", "height", "streams"})->UseManualTime()->Iterations(1)->Unit(
      benchmark::kMillisecond);
}

BENCHMARK_CAPTURE(pipeline_case, pooled, false)->Apply(sizes_and_streams);
BENCHMARK_CAPTURE(pipeline_case, per_frame_allocation, true)->Apply(sizes_and_streams);

}  // namespace

BENCHMARK_MAIN();
