#pragma once
/// @file stage.hpp
/// @brief The stage table: every image kernel as one row (name, parameter check, scratch size,
/// CPU launcher, CUDA launcher). Command lines, reports and the sample pipeline go through it.
///
/// Adding a kernel means its per-pixel body (src/pixel_ops.hpp), its two launchers (cpu.hpp and
/// cuda.hpp), an enumerator of `stage` and one row of the table (src/stage.cpp). Nothing that
/// runs stages switches over them.

#include <pinpool/kernels/image_view.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pinpool {
class pool;
class stream_ref;
}  // namespace pinpool

namespace pinpool::kernels {

/// @brief One image kernel (see cpu.hpp for what each computes).
enum class stage { gray, blur, sobel, equalize };

/// @brief The parameters a stage may read; each row's `validate` says which it needs.
struct stage_params {
  float sigma = 1.0f;  ///< blur: Gaussian sigma (see `blur_radius`)
};

/// @brief One row of the stage table: what callers need to run a stage without naming it.
///
/// Every function pointer is non-null, except `cuda` in builds without CUDA. The launchers
/// check their images as the launchers of cpu.hpp / cuda.hpp do (std::invalid_argument).
struct stage_info {
  stage id;
  /// Lower case, as on command lines and in reports ("gray").
  const char* name;
  /// True: the source must have 1 channel (callers convert colour with `gray` first). False:
  /// 1, 3 or 4 channels.
  bool needs_grey;
  /// Bytes of scratch memory the launchers need for a width x height image; 0 for none.
  /// @throws std::invalid_argument unless width >= 1 and height >= 1 (stages with scratch).
  std::size_t (*scratch_bytes)(int width, int height);
  /// @throws std::invalid_argument naming the parameter when `p` is unusable for this stage.
  void (*validate)(const stage_params& p);
  /// The CPU launcher: runs on the calling thread (and the kernels' worker pool) and returns
  /// when `dst` is written. `scratch`: `scratch_bytes` bytes of host memory (may be null when 0),
  /// aligned for float, owned by the caller, overwritten.
  void (*cpu)(const_image_view src, image_view dst, const stage_params& p, void* scratch);
  /// The CUDA launcher: enqueues on `s` without synchronising (see cuda.hpp). `scratch`:
  /// `scratch_bytes` bytes of device memory (may be null when 0) that no other work uses until the
  /// stage on `s` has run; any other temporary comes from `device_pool` on `s`. Null in
  /// builds without CUDA.
  void (*cuda)(const_image_view src, image_view dst, const stage_params& p, void* scratch,
               pool& device_pool, stream_ref s);
};

/// @brief The rows of the stage table, iterable (`for (const stage_info& row : stage_table())`).
struct stage_rows {
  const stage_info* first;
  const stage_info* last;
  const stage_info* begin() const noexcept { return first; }
  const stage_info* end() const noexcept { return last; }
  std::size_t size() const noexcept { return static_cast<std::size_t>(last - first); }
};

/// @brief Every stage, one row each, in the order of `stage`. The rows live as long as the
/// program (constant data).
stage_rows stage_table() noexcept;

/// @brief The row of `s`.
/// @throws std::invalid_argument when `s` has no row (a value outside the enumeration).
const stage_info& stage_info_of(stage s);

/// @brief The row named `name` (exact, lower case).
/// @throws std::invalid_argument "pinpool::kernels: unknown stage 'NAME' (choose from gray,
/// blur, ...)" when no row has that name.
const stage_info& stage_named(std::string_view name);

/// @brief The names of every row in table order, joined by `separator`:
/// `stage_names(", ")` is "gray, blur, sobel, equalize".
std::string stage_names(std::string_view separator);

/// @brief The row's name ("gray", "blur", ...); "unknown" for a value without a row.
const char* to_string(stage s) noexcept;

/// @brief The stage named `name` (exact, lower case, as `to_string` spells it); empty otherwise.
std::optional<stage> parse_stage(std::string_view name) noexcept;

}  // namespace pinpool::kernels
