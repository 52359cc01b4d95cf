#pragma once
// Control API of the CPU emulation of the CUDA runtime (tests only).
//
// cuda_emulation.cpp defines, with the exact signatures of <cuda_runtime_api.h>, the runtime
// entry points the CUDA backend calls; a test binary that links it instead of libcudart runs the
// backend on the CPU. Modelled: N devices (env PINPOOL_EMU_DEVICES, default 2), a thread-local
// current device, streams as worker threads with a FIFO (real asynchrony), events, a per-thread
// last error, and page-aligned host memory standing in for device/pinned memory.
//
// Emulated entry points: cudaGetDeviceCount, cudaGetDevice, cudaSetDevice, cudaDeviceSynchronize,
// cudaGetLastError, cudaPeekAtLastError, cudaGetErrorName, cudaGetErrorString, cudaMalloc,
// cudaFree, cudaHostAlloc, cudaFreeHost, cudaStreamCreateWithFlags, cudaStreamDestroy,
// cudaStreamSynchronize, cudaStreamGetDevice, cudaStreamGetId, cudaMemcpyAsync, cudaLaunchHostFunc,
// cudaEventCreateWithFlags, cudaEventDestroy, cudaEventRecord, cudaEventQuery,
// cudaEventSynchronize, cudaStreamWaitEvent; plus the _ptsz names that per-thread-default-stream
// builds (-DCUDA_API_PER_THREAD_DEFAULT_STREAM) reference for the stream-taking ones.
//
// The null stream, cudaStreamLegacy and cudaStreamPerThread all name an implicit stream per
// (host thread, current device), created lazily and destroyed when the thread exits.
//
// Rule checks: each violation is printed on stderr and appended to a list (see violations()):
// an event recorded on a stream of another device; cudaFree/cudaFreeHost of memory that a queued,
// unfinished cudaMemcpyAsync reads or writes (the real free is then deferred until the copy ran);
// a copy touching freed memory or running past the end of an allocation; freeing a pointer that
// was not allocated (or twice); cudaFree of cudaHostAlloc memory or cudaFreeHost of cudaMalloc
// memory (refused, not freed); any runtime call from inside a cudaLaunchHostFunc callback (except
// cudaGetErrorName/String; the call returns cudaErrorNotPermitted without acting); use of a
// destroyed stream or event (cudaErrorInvalidResourceHandle).
//
// Like the runtime, cudaStreamDestroy returns at once (queued work still runs) and the handle value
// of a destroyed stream is reused by the next stream created (last freed first); cudaStreamGetId
// stays unique. Differences from the real runtime: in the sticky-error state, destroy and free
// calls still release their resource (and return the error).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pinpool_emu {

/// @brief Calls made since the last reset(), failed ones included.
struct counters {
  std::uint64_t malloc_calls = 0;         ///< cudaMalloc
  std::uint64_t host_alloc_calls = 0;     ///< cudaHostAlloc
  std::uint64_t free_calls = 0;           ///< cudaFree
  std::uint64_t free_host_calls = 0;      ///< cudaFreeHost
  std::uint64_t event_create_calls = 0;   ///< cudaEventCreateWithFlags
  std::uint64_t stream_create_calls = 0;  ///< cudaStreamCreateWithFlags
};

/// @brief PINPOOL_EMU_DEVICES, or 2 when unset.
int default_device_count();

/// @brief Sets the device count (0 emulates a machine without GPU: cudaGetDeviceCount fails with
/// cudaErrorNoDevice), clears counters, violations, injected faults and the sticky error, and
/// makes device 0 current for the calling thread. Destroys the calling thread's implicit streams.
/// Allocations still alive are freed and forgotten (a new machine: memory a test deliberately
/// leaked, such as chunks a pool quarantined, does not fail the next test's leak check); events
/// stay valid.
/// @throws std::logic_error when streams created with cudaStreamCreateWithFlags (or other
/// threads' implicit streams) are still alive.
void reset(int device_count = default_device_count());

/// @brief A copy of the violations recorded so far (oldest first).
std::vector<std::string> violations();
void clear_violations();

counters get_counters();
/// @brief Allocations (cudaMalloc/cudaHostAlloc) not yet freed.
std::size_t live_allocations();
/// @brief Live streams, implicit ones included.
std::size_t live_streams();

/// @brief The `n`th cudaMalloc/cudaHostAlloc call from now (1 = the next) fails with
/// cudaErrorMemoryAllocation (not sticky). 0 cancels.
void fail_nth_allocation(unsigned n);
/// @brief The `n`th cudaEventCreateWithFlags/cudaEventRecord call from now fails with
/// cudaErrorLaunchOutOfResources (recoverable). 0 cancels.
void fail_nth_event_call(unsigned n);
/// @brief The `n`th cudaStreamCreateWithFlags call from now fails likewise. 0 cancels.
void fail_nth_stream_call(unsigned n);
/// @brief From now on every runtime call returns cudaErrorIllegalAddress (a sticky error, which
/// cudaGetLastError does not clear), until reset().
void set_sticky_error();

}  // namespace pinpool_emu
