// Suite 3, second half: the CPU launchers of the image kernels at 720p / 1080p / 4K on 2 threads,
// to put next to OpenCV's CPU functions on the same frames (bench/opencv_kernels.py, same sizes,
// ops and thread count).
#include <pinpool/kernels/kernels.hpp>

#include <benchmark/benchmark.h>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

namespace k = pinpool::kernels;

struct frame {
  int width, height;
  std::vector<std::uint8_t> rgb, grey, out;
  std::vector<std::uint8_t> scratch;
  frame(int w, int h)
      : width(w),
        height(h),
        rgb(static_cast<std::size_t>(w) * h * 3),
        grey(static_cast<std::size_t>(w) * h),
        out(grey.size()),
        scratch(k::blur_scratch_bytes(w, h)) {
    std::mt19937 rng(7);  // noise: the same kind of input bench/opencv_kernels.py uses
    for (auto& v : rgb) v = static_cast<std::uint8_t>(rng());
    for (auto& v : grey) v = static_cast<std::uint8_t>(rng());
  }
  k::const_image_view rgb_view() const {
    return {rgb.data(), width, height, 3, static_cast<std::size_t>(width) * 3};
  }
  k::const_image_view grey_view() const {
    return {grey.data(), width, height, 1, static_cast<std::size_t>(width)};
  }
  k::image_view out_view() {
    return {out.data(), width, height, 1, static_cast<std::size_t>(width)};
  }
};

template <class Op>
void kernel_case(benchmark::State& state, Op op) {
  frame f(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) {
    op(f);
    benchmark::DoNotOptimize(f.out.data());
    benchmark::ClobberMemory();
  }
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Args({1280, 720})->Args({1920, 1080})->Args({3840, 2160});
  b->ArgNames({"width", "height"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK_CAPTURE(kernel_case, gray, [](frame& f) {
  k::gray_cpu(f.rgb_view(), f.out_view());
})->Apply(sizes);
BENCHMARK_CAPTURE(kernel_case, blur, [](frame& f) {
  k::blur_cpu(f.grey_view(), f.out_view(), 1.5f, f.scratch.data());
})->Apply(sizes);
BENCHMARK_CAPTURE(kernel_case, sobel, [](frame& f) {
  k::sobel_cpu(f.grey_view(), f.out_view());
})->Apply(sizes);
BENCHMARK_CAPTURE(kernel_case, equalize, [](frame& f) {
  k::equalize_cpu(f.grey_view(), f.out_view());
})->Apply(sizes);

}  // namespace

// Two threads (the kernels' worker pool reads PINPOOL_KERNELS_THREADS when first used), as
// bench/opencv_kernels.py gives OpenCV, unless the environment already says otherwise.
int main(int argc, char** argv) {
  setenv("PINPOOL_KERNELS_THREADS", "2", 0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
