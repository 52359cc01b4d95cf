// The CUDA launchers: argument checks on the host, then one thread per pixel (2-D grid, rows
// grid-strided) calling the shared bodies of pixel_ops.hpp. Equalisation uses CUB for the
// histogram and its scan, with temporaries from a pinpool device pool.

#include "cuda_support.hpp"
#include "launcher_support.hpp"
#include "pixel_ops.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/cub_temp_storage.hpp>
#include <pinpool/kernels/cuda.hpp>

#include <cub/device/device_histogram.cuh>
#include <cub/device/device_scan.cuh>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace pinpool::kernels {
namespace {

// ---- per-pixel operations (device functors over the shared bodies) ------------------------

struct gray_op {
  const_image_view src;
  image_view dst;
  __device__ void operator()(int x, int y) const {
    const std::uint8_t* in = src.data + static_cast<std::size_t>(y) * src.pitch;
    dst.data[static_cast<std::size_t>(y) * dst.pitch + x] =
        detail::gray_pixel(in + static_cast<std::size_t>(x) * src.channels, src.channels);
  }
};

struct blur_vertical_op {
  const_image_view src;
  std::uint16_t* tmp;
  detail::gaussian_taps taps;
  __device__ void operator()(int x, int y) const {
    tmp[static_cast<std::size_t>(y) * src.width + x] =
        detail::blur_vertical_at(src.data, src.pitch, src.height, x, y, taps);
  }
};

struct blur_horizontal_op {
  const std::uint16_t* tmp;
  image_view dst;
  detail::gaussian_taps taps;
  __device__ void operator()(int x, int y) const {
    dst.data[static_cast<std::size_t>(y) * dst.pitch + x] =
        detail::blur_horizontal_at(tmp, dst.width, x, y, taps);
  }
};

struct sobel_op {
  const_image_view src;
  image_view dst;
  __device__ void operator()(int x, int y) const {
    dst.data[static_cast<std::size_t>(y) * dst.pitch + x] =
        detail::sobel_at(src.data, src.pitch, src.width, src.height, x, y);
  }
};

struct apply_lut_op {
  const_image_view src;
  image_view dst;
  const std::uint8_t* lut;
  __device__ void operator()(int x, int y) const {
    const std::uint8_t v = src.data[static_cast<std::size_t>(y) * src.pitch + x];
    dst.data[static_cast<std::size_t>(y) * dst.pitch + x] = detail::apply_lut(lut, v);
  }
};

template <class Op>
__global__ void per_pixel_kernel(int width, int height, Op op) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (x >= width) return;
  for (int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y); y < height;
       y += static_cast<int>(gridDim.y * blockDim.y)) {
    op(x, y);
  }
}

/// LUT of the equalisation from the 256-bin cdf: one block of 256 threads.
__global__ void equalize_lut_kernel(const unsigned* cdf, std::uint8_t* lut) {
  __shared__ unsigned first;
  if (threadIdx.x == 0) first = detail::first_nonzero(cdf);
  __syncthreads();
  const int i = static_cast<int>(threadIdx.x);
  lut[i] = detail::equalize_lut_at(i, cdf[i], first, cdf[255]);
}

// ---- host side --------------------------------------------------------------------------------

using detail::cuda_stream_of;
using detail::device_scope;

void check_device_pool(const char* who, const pool& p) {
  if (p.options().kind != memory_kind::device) {
    throw std::invalid_argument(std::string("pinpool::kernels::") + who +
                                ": device_pool must be a memory_kind::device pool");
  }
}

template <class Op>
void launch_per_pixel(int width, int height, cudaStream_t stream, const Op& op) {
  constexpr unsigned block_x = 32, block_y = 8, max_grid_y = 65535;
  const dim3 block(block_x, block_y);
  const unsigned rows = (static_cast<unsigned>(height) + block_y - 1) / block_y;
  const dim3 grid((static_cast<unsigned>(width) + block_x - 1) / block_x,
                  std::min(rows, max_grid_y));
  per_pixel_kernel<<<grid, block, 0, stream>>>(width, height, op);
  PINPOOL_CUDA_TRY(cudaGetLastError());
}

constexpr int histogram_bins = 256;

}  // namespace

void gray_cuda(const_image_view src, image_view dst, stream_ref s) {
  detail::check_gray_args("gray_cuda", src, dst);
  const cudaStream_t stream = cuda_stream_of("gray_cuda", s);
  const device_scope on(s.device());
  launch_per_pixel(src.width, src.height, stream, gray_op{src, dst});
}

void blur_cuda(const_image_view src, image_view dst, float sigma, void* scratch, stream_ref s) {
  detail::check_mono_args("blur_cuda", src, dst);
  detail::check_not_null("blur_cuda", "scratch", scratch);
  const detail::gaussian_taps taps = detail::make_gaussian_taps("blur_cuda", sigma);
  const cudaStream_t stream = cuda_stream_of("blur_cuda", s);
  const device_scope on(s.device());
  auto* tmp = static_cast<std::uint16_t*>(scratch);
  launch_per_pixel(src.width, src.height, stream, blur_vertical_op{src, tmp, taps});
  launch_per_pixel(src.width, src.height, stream, blur_horizontal_op{tmp, dst, taps});
}

void blur_cuda(const_image_view src, image_view dst, float sigma, pool& device_pool, stream_ref s) {
  detail::check_mono_args("blur_cuda", src, dst);
  check_device_pool("blur_cuda", device_pool);
  (void)detail::make_gaussian_taps("blur_cuda", sigma);  // check everything before acquiring
  (void)cuda_stream_of("blur_cuda", s);
  buffer scratch = device_pool.acquire(blur_scratch_bytes(src.width, src.height), s);
  blur_cuda(src, dst, sigma, scratch.data(), s);
}  // scratch goes back to the pool on `s`, after the blur

void sobel_cuda(const_image_view src, image_view dst, stream_ref s) {
  detail::check_mono_args("sobel_cuda", src, dst);
  const cudaStream_t stream = cuda_stream_of("sobel_cuda", s);
  const device_scope on(s.device());
  launch_per_pixel(src.width, src.height, stream, sobel_op{src, dst});
}

void equalize_cuda(const_image_view src, image_view dst, pool& device_pool, stream_ref s) {
  detail::check_mono_args("equalize_cuda", src, dst);
  check_device_pool("equalize_cuda", device_pool);
  detail::check_equalize_size("equalize_cuda", src);  // CUB's offsets are int
  const cudaStream_t stream = cuda_stream_of("equalize_cuda", s);
  const device_scope on(s.device());

  // The tables [histogram 256 x u32][cdf 256 x u32][lut 256 x u8] in one pool chunk; CUB's
  // temporaries through pinpool::cub_temp_storage (size query, acquire on `s`, run, release on
  // `s`). Everything goes back to the pool stream-ordered: no cudaMalloc, no synchronisation.
  constexpr std::size_t counts_bytes = histogram_bins * sizeof(unsigned);
  buffer tables = device_pool.acquire(2 * counts_bytes + histogram_bins, s);
  auto* base = static_cast<unsigned char*>(tables.data());
  auto* hist = reinterpret_cast<unsigned*>(base);
  auto* cdf = reinterpret_cast<unsigned*>(base + counts_bytes);
  auto* lut = reinterpret_cast<std::uint8_t*>(base + 2 * counts_bytes);
  auto histogram = [&](void* temp, std::size_t& bytes) {
    return cub::DeviceHistogram::HistogramEven(temp, bytes, src.data, hist, histogram_bins + 1, 0,
                                               histogram_bins, src.width, src.height, src.pitch,
                                               stream);
  };
  auto cumulate = [&](void* temp, std::size_t& bytes) {
    return cub::DeviceScan::InclusiveSum(temp, bytes, hist, cdf, histogram_bins, stream);
  };
  PINPOOL_CUDA_TRY(pinpool::cub_temp_storage(device_pool, s, histogram));
  PINPOOL_CUDA_TRY(pinpool::cub_temp_storage(device_pool, s, cumulate));
  equalize_lut_kernel<<<1, histogram_bins, 0, stream>>>(cdf, lut);
  PINPOOL_CUDA_TRY(cudaGetLastError());
  launch_per_pixel(src.width, src.height, stream, apply_lut_op{src, dst, lut});
}  // the tables go back to the pool on `s`, after the work enqueued above

}  // namespace pinpool::kernels
