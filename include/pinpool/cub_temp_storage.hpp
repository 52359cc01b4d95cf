#pragma once
/// @file cub_temp_storage.hpp
/// @brief `cub_temp_storage`: CUB's two-phase temporary-storage protocol over a pool.
///
/// CUB device algorithms are called twice: once with a null temporary-storage pointer to learn
/// how many bytes they need, then with that much storage to run. `cub_temp_storage` does both,
/// with the storage acquired from a pool on the algorithm's stream and released on it as soon as
/// the algorithm is enqueued (stream-ordered: reused only after the algorithm ran):
///
/// @code
/// cudaError_t err = pinpool::cub_temp_storage(device_pool, s, [&](void* tmp, std::size_t& bytes) {
///   return cub::DeviceScan::InclusiveSum(tmp, bytes, d_in, d_out, n,
///                                        static_cast<cudaStream_t>(s.native_handle()));
/// });
/// @endcode
///
/// Needs no CUB or CUDA header itself: `run` is any callable following the protocol.

#include <pinpool/buffer.hpp>
#include <pinpool/pool.hpp>
#include <pinpool/stream.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>

namespace pinpool {

/// @brief Runs a CUB-style two-phase call with temporary storage from `p`, ordered on `s`.
///
/// Calls `run(nullptr, bytes)` (a size query: must set `bytes` and enqueue nothing), acquires
/// `bytes` (at least 1) with `p.acquire(bytes, s)`, calls `run(storage, bytes)` (must enqueue
/// its work on `s`), then releases the storage on `s`.
///
/// @param run `R(void* temp_storage, std::size_t& temp_storage_bytes)`; R is `void` or a status
/// such as `cudaError_t` whose value-initialised value (0, cudaSuccess) means success.
/// @return the second call's status; a failing size query's status (then nothing is acquired
/// and the second call is not made). Nothing for `void`.
/// @throws what `p.acquire` throws (pool_exhausted, out_of_memory, ...) and what `run` throws.
/// @note Does not synchronise. The storage must be used only by work on `s` (CUB's contract
/// when given that stream). May wait up to the pool's acquire_timeout at its cap.
template <class Run>
auto cub_temp_storage(pool& p, stream_ref s, Run&& run)
    -> decltype(run(static_cast<void*>(nullptr), std::declval<std::size_t&>())) {
  using result = decltype(run(static_cast<void*>(nullptr), std::declval<std::size_t&>()));
  std::size_t bytes = 0;
  if constexpr (std::is_void_v<result>) {
    run(static_cast<void*>(nullptr), bytes);
    buffer storage = p.acquire(bytes == 0 ? 1 : bytes, s);
    run(storage.data(), bytes);
  } else {
    result status = run(static_cast<void*>(nullptr), bytes);
    if (status != result{}) return status;
    buffer storage = p.acquire(bytes == 0 ? 1 : bytes, s);
    return run(storage.data(), bytes);  // `storage` is released on s after this
  }
}

}  // namespace pinpool
