// The stage table. Each row adapts a stage's CPU and CUDA launchers (cpu.hpp, cuda.hpp) to the
// table's uniform signatures; without PINPOOL_CUDA the CUDA column is null and no CUDA header
// is included.

#include "launcher_support.hpp"

#include <pinpool/kernels/cpu.hpp>
#include <pinpool/kernels/gaussian.hpp>
#include <pinpool/kernels/stage.hpp>

#ifdef PINPOOL_KERNELS_HAS_CUDA
#include <pinpool/kernels/cuda.hpp>
#endif

#include <iterator>
#include <stdexcept>
#include <string>

namespace pinpool::kernels {
namespace {

std::size_t no_scratch(int, int) {
  return 0;
}
void no_parameters(const stage_params&) {}
void check_sigma(const stage_params& p) {
  const std::string problem = detail::sigma_problem(p.sigma);
  if (!problem.empty()) throw std::invalid_argument("pinpool::kernels: stage blur: " + problem);
}

/// A CPU launcher that takes only the images.
template <void (*launch)(const_image_view, image_view)>
void cpu_images_only(const_image_view src, image_view dst, const stage_params&, void*) {
  launch(src, dst);
}

void blur_cpu_row(const_image_view src, image_view dst, const stage_params& p, void* scratch) {
  blur_cpu(src, dst, p.sigma, scratch);
}

#ifdef PINPOOL_KERNELS_HAS_CUDA
/// A CUDA launcher that takes only the images and the stream.
template <void (*launch)(const_image_view, image_view, stream_ref)>
void cuda_images_only(const_image_view src, image_view dst, const stage_params&, void*, pool&,
                      stream_ref s) {
  launch(src, dst, s);
}

void blur_cuda_row(const_image_view src, image_view dst, const stage_params& p, void* scratch,
                   pool&, stream_ref s) {
  blur_cuda(src, dst, p.sigma, scratch, s);
}

void equalize_cuda_row(const_image_view src, image_view dst, const stage_params&, void*,
                       pool& device_pool, stream_ref s) {
  equalize_cuda(src, dst, device_pool, s);
}

#define PINPOOL_CUDA_LAUNCHER(fn) fn
#else
#define PINPOOL_CUDA_LAUNCHER(fn) nullptr
#endif

// One row per stage: id, name, needs_grey, scratch_bytes, validate, cpu, cuda.
constexpr stage_info table[] = {
    {stage::gray, "gray", false, no_scratch, no_parameters, cpu_images_only<gray_cpu>,
     PINPOOL_CUDA_LAUNCHER(cuda_images_only<gray_cuda>)},
    {stage::blur, "blur", true, blur_scratch_bytes, check_sigma, blur_cpu_row,
     PINPOOL_CUDA_LAUNCHER(blur_cuda_row)},
    {stage::sobel, "sobel", true, no_scratch, no_parameters, cpu_images_only<sobel_cpu>,
     PINPOOL_CUDA_LAUNCHER(cuda_images_only<sobel_cuda>)},
    {stage::equalize, "equalize", true, no_scratch, no_parameters, cpu_images_only<equalize_cpu>,
     PINPOOL_CUDA_LAUNCHER(equalize_cuda_row)},
};

#undef PINPOOL_CUDA_LAUNCHER

const stage_info* find_row(stage s) noexcept {
  for (const stage_info& row : stage_table()) {
    if (row.id == s) return &row;
  }
  return nullptr;
}

const stage_info* find_row(std::string_view name) noexcept {
  for (const stage_info& row : stage_table()) {
    if (name == row.name) return &row;
  }
  return nullptr;
}

}  // namespace

stage_rows stage_table() noexcept {
  return {std::begin(table), std::end(table)};
}

const stage_info& stage_info_of(stage s) {
  if (const stage_info* row = find_row(s)) return *row;
  throw std::invalid_argument("pinpool::kernels: no stage with value " +
                              std::to_string(static_cast<int>(s)));
}

const stage_info& stage_named(std::string_view name) {
  if (const stage_info* row = find_row(name)) return *row;
  throw std::invalid_argument("pinpool::kernels: unknown stage '" + std::string(name) +
                              "' (choose from " + stage_names(", ") + ")");
}

std::string stage_names(std::string_view separator) {
  std::string text;
  for (const stage_info& row : stage_table()) {
    if (!text.empty()) text += separator;
    text += row.name;
  }
  return text;
}

const char* to_string(stage s) noexcept {
  const stage_info* row = find_row(s);
  return row != nullptr ? row->name : "unknown";
}

std::optional<stage> parse_stage(std::string_view name) noexcept {
  if (const stage_info* row = find_row(name)) return row->id;
  return std::nullopt;
}

}  // namespace pinpool::kernels
