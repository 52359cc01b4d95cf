#pragma once
/// @file cuda.hpp
/// @brief The CUDA launchers of the image kernels (builds with PINPOOL_CUDA=ON only). They
/// compute what the CPU launchers of cpu.hpp compute, with the same per-pixel code.
///
/// Every launcher checks its arguments on the host (same rules and std::invalid_argument as the
/// CPU launchers, plus: `s` must be a stream of a CUDA backend), makes `s.device()` current for
/// the call, enqueues its kernels on `s` and returns without synchronising. The images must be
/// device-accessible memory of that device and stay valid until the work on `s` has run.
/// Launch failures throw pinpool::cuda_error; faults inside the kernels surface at the next
/// synchronisation, as usual in CUDA.
///
/// Temporaries never come from cudaMalloc: they are chunks acquired from the `device_pool`
/// argument with `pool.acquire(bytes, s)` and released on `s` before the launcher returns
/// (stream-ordered: they go back to the pool once the enqueued work has run, and later work on
/// `s` may reuse them at once).

#ifndef PINPOOL_KERNELS_HAS_CUDA
#error "pinpool/kernels/cuda.hpp needs pinpool::kernels built with PINPOOL_CUDA=ON"
#endif

#include <pinpool/kernels/gaussian.hpp>
#include <pinpool/kernels/image_view.hpp>
#include <pinpool/pool.hpp>
#include <pinpool/stream.hpp>

namespace pinpool::kernels {

/// @brief `gray_cpu` on the device: enqueued on `s`.
void gray_cuda(const_image_view src, image_view dst, stream_ref s);

/// @brief `blur_cpu` on the device: enqueued on `s`.
/// @param scratch `blur_scratch_bytes(width, height)` bytes of device memory, not used by other
/// work until the blur on `s` has run.
void blur_cuda(const_image_view src, image_view dst, float sigma, void* scratch, stream_ref s);

/// @brief As above, with the scratch acquired from `device_pool` (memory_kind::device) on `s`.
void blur_cuda(const_image_view src, image_view dst, float sigma, pool& device_pool, stream_ref s);

/// @brief `sobel_cpu` on the device: enqueued on `s`.
void sobel_cuda(const_image_view src, image_view dst, stream_ref s);

/// @brief `equalize_cpu` on the device: cub::DeviceHistogram::HistogramEven, then
/// cub::DeviceScan::InclusiveSum of the histogram, a 256-thread kernel for the LUT and one
/// applying it, all enqueued on `s`. CUB's temporary storage and the histogram/cdf/LUT (about
/// 2.3 KB plus CUB's needs) are one chunk from `device_pool` (memory_kind::device).
/// @throws std::invalid_argument also for more than `equalize_max_pixels` (2^31 - 1) pixels:
/// CUB is instantiated with `int` offsets.
void equalize_cuda(const_image_view src, image_view dst, pool& device_pool, stream_ref s);

}  // namespace pinpool::kernels
