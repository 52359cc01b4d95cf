#pragma once
/// @file kernels.hpp
/// @brief Everything of pinpool::kernels: views, stages, Gaussian parameters, the CPU launchers
/// and their worker pool, and (builds with CUDA) the CUDA launchers.

#include <pinpool/kernels/cpu.hpp>
#include <pinpool/kernels/gaussian.hpp>
#include <pinpool/kernels/image_view.hpp>
#include <pinpool/kernels/parallel_for.hpp>
#include <pinpool/kernels/stage.hpp>

#ifdef PINPOOL_KERNELS_HAS_CUDA
#include <pinpool/kernels/cuda.hpp>
#include <pinpool/kernels/cuda_timing.hpp>
#endif
