#pragma once
/// @file parallel_for.hpp
/// @brief `cpu_parallel_for`: the CPU launchers' persistent worker pool.

#include <functional>

namespace pinpool::kernels {

/// @brief Runs `fn(i)` once for every i in [0, count), spread over the kernels' worker pool and
/// the calling thread; returns when every call has returned. No-op when count <= 0.
///
/// The pool is created on first use with N - 1 workers, the caller being the N-th thread, where
/// N is the environment variable PINPOOL_KERNELS_THREADS (1 to 256) when set, else
/// std::thread::hardware_concurrency() (at least 1). It is never destroyed, and no thread is
/// created per call. Any number of threads may
/// call concurrently (each call makes progress on its caller's thread even when the workers are
/// busy with other calls), including from inside `fn` and from a CPU stream's host function.
/// @throws the first exception thrown by `fn`, after every call already started has returned;
/// indices not started yet are skipped.
/// @note Synchronous: writes made by `fn` are visible to the caller when this returns.
void cpu_parallel_for(int count, const std::function<void(int)>& fn);

/// @brief How many threads a `cpu_parallel_for` call can use (workers + the caller), >= 1.
int cpu_concurrency() noexcept;

}  // namespace pinpool::kernels
