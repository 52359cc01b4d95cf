#pragma once
// Control API of the CPU emulation of the CUDA runtime (tests only).
//
// cuda_emulation.cpp defines, with the exact signatures of <cuda_runtime_api.h>, the runtime
// entry points the CUDA backend calls; a test binary that links it instead of libcudart runs the
// backend on the CPU (device_memory.cpp and chaos.cpp hold two of its parts). Modelled: N devices
// (env PINPOOL_EMU_DEVICES, default 2), a thread-local current device, streams as worker threads
// with a FIFO (real asynchrony), events, a per-thread last error, device memory the host cannot
// touch, page-aligned host memory for cudaHostAlloc, and host memory registered with
// cudaHostRegister (pinned for copies until cudaHostUnregister; never unmapped by the emulation).
//
// Emulated entry points: cudaGetDeviceCount, cudaGetDevice, cudaSetDevice, cudaDeviceSynchronize,
// cudaGetLastError, cudaPeekAtLastError, cudaGetErrorName, cudaGetErrorString, cudaMalloc,
// cudaFree, cudaHostAlloc, cudaFreeHost, cudaHostRegister, cudaHostUnregister,
// cudaStreamCreateWithFlags, cudaStreamDestroy,
// cudaStreamSynchronize, cudaStreamGetDevice, cudaStreamGetId, cudaMemcpyAsync, cudaLaunchHostFunc,
// cudaEventCreateWithFlags, cudaEventDestroy, cudaEventRecord, cudaEventQuery,
// cudaEventSynchronize, cudaStreamWaitEvent, cudaStreamBeginCapture, cudaStreamEndCapture,
// cudaStreamIsCapturing, cudaStreamGetCaptureInfo, cudaThreadExchangeStreamCaptureMode,
// cudaGraphInstantiate, cudaGraphLaunch, cudaGraphDestroy, cudaGraphExecDestroy,
// cudaDeviceCanAccessPeer, cudaDeviceEnablePeerAccess; plus the _ptsz names that
// per-thread-default-stream builds (-DCUDA_API_PER_THREAD_DEFAULT_STREAM) reference for the
// stream-taking ones. Every call is counted by name (counters::calls; a _ptsz call counts under the
// plain name).
//
// Rule checks: each violation is printed on stderr and appended to a list (see violations()):
// an event recorded on a stream of another device; cudaFree/cudaFreeHost of memory that a queued,
// unfinished cudaMemcpyAsync on a stream the free does not synchronise (another device's) reads
// or writes (the real free is then deferred until the copy ran); a copy touching freed memory or
// running past the end of an allocation (it stops where the memory ends); freeing a pointer that
// was not allocated (or twice); cudaFree of cudaHostAlloc memory or cudaFreeHost of cudaMalloc
// memory, or either of cudaHostRegister memory, or cudaHostUnregister of anything else
// (refused, not freed); any runtime call from inside a cudaLaunchHostFunc callback (except
// cudaGetErrorName/String; the call returns cudaErrorNotPermitted without acting); use of a
// destroyed stream or event (cudaErrorInvalidResourceHandle); a blocking call (cudaFree,
// cudaFreeHost, a host-synchronous cudaMemcpyAsync) that would wait forever on a GPU: reported
// after set_blocking_timeout() (10 s), then the call goes on.
//
// Runtime rules modelled (issue 10), and how:
// - Device memory the host cannot touch: cudaMalloc returns a PROT_NONE view of a memfd; the
//   emulated copies use a second, read/write view of it. A host read or write of device memory
//   (the test's thread, a host function, anywhere) faults; a SIGSEGV handler prints "pinpool-emu:
//   rule violation: host access to device memory at 0x... (allocation 0x... of N bytes from
//   cudaMalloc)" and aborts, as the process would crash on a GPU (tests: EXPECT_DEATH). A fault
//   at any other address goes to the previous handler. cudaHostAlloc memory stays host memory.
// - Chaos scheduling: with a seed (env PINPOOL_EMU_CHAOS=<seed>, or set_chaos()), each stream
//   sleeps 0-2 ms before each copy, host function and event signal (host functions another
//   0-2 ms), drawn from a PRNG per stream seeded with (seed, cudaStreamGetId), so independent
//   streams interleave differently per seed and a missing dependency shows as wrong data.
// - cudaFree and cudaFreeHost synchronise the device first: all queued work of the streams of
//   the memory's device (cudaFree) or of the current device (cudaFreeHost) runs, destroyed
//   streams' work included.
//   cudaHostUnregister is modelled as cudaFreeHost is (the current device synchronised first):
//   the emulation's choice, the conservative one, not a documented guarantee.
// - cudaMemcpyAsync and host synchronisation, after the runtime's "API synchronization
//   behavior": pageable to device reads the source into a staging buffer before returning (the
//   caller may reuse it at once; the copy stays asynchronous); device to pageable, and host to
//   host in any combination of pageable and pinned memory, return only after the copy ran (in
//   stream order: after the stream's earlier work). Device<->pinned and device<->device are
//   asynchronous.
// - The legacy stream: cudaStreamLegacy, and the null handle in plain calls, name one stream
//   per device, shared by all threads; cudaStreamPerThread, and the null handle in _ptsz calls,
//   a stream per (thread, device) that goes with its thread. Work on the legacy stream waits for
//   all earlier work of the device's blocking streams (cudaStreamDefault flag, and per-thread
//   streams), and work on a blocking stream waits for the legacy stream's earlier work;
//   cudaStreamNonBlocking streams (the CUDA backend's) take no part.
// - cudaStreamGetId: unique for the process's lifetime, also when a handle value is reused.
// - Events across devices: cudaStreamWaitEvent on an event of another device is allowed;
//   cudaEventRecord on a stream of another device is a violation.
// - Sticky errors per device context (set_sticky_error(device)): every call made while the
//   current device is faulted, and every call on a stream of a faulted device, fails with
//   cudaErrorIllegalAddress, which cudaGetLastError does not clear. Host functions already queued
//   on a faulted device's streams are not called (their user data leaks, as on CUDA).
// - Host functions run on their stream's worker thread. Opt-in (serialize_host_functions()):
//   on one callback thread per device, one at a time, as CUDA may serialise host functions of
//   independent streams (CUDA 13 on an H100 does: a host function blocked on one stream held
//   back another stream's); a host function that waits for another one of the same device then
//   deadlocks, as it may on a GPU. Not the default because the shared pool suite relies on
//   concurrent host functions (pool_suite.hpp, below_the_cap_streams_wait_on_each_other_only_
//   when_asked: a's host function waits for a gate while b's must run): a gap.
// - cudaErrorCudartUnloading: every call made after exit() began (an atexit flag registered when
//   the emulation starts, as the runtime registers its teardown), or under simulate_unloading().
//   Destroy and free calls then release nothing.
//
// - Stream capture and graphs (issue 12): between cudaStreamBeginCapture and
//   cudaStreamEndCapture a stream's copies and host functions are captured, not run; a stream
//   that waits on an event recorded in the capture joins it, and every joined stream's work must
//   be joined back into the origin (else EndCapture fails, cudaErrorStreamCaptureUnjoined). Event
//   records and waits inside a capture are dependencies (vector clocks); EndCapture gives a graph
//   of the captured nodes in submission order, cudaGraphInstantiate an executable copy, and
//   cudaGraphLaunch runs the nodes in that order on its stream (a replay counts no
//   cudaMemcpyAsync; a replayed copy whose memory was freed since is a violation and skipped).
//   What breaks a capture on a GPU fails and invalidates it (EndCapture then fails,
//   cudaErrorStreamCaptureInvalidated; cudaStreamIsCapturing says Invalidated), each a
//   violation: waiting on an event recorded outside it (cudaErrorStreamCaptureIsolation);
//   synchronising or querying a capturing stream; querying or synchronising an event last
//   recorded in the capture (cudaErrorCapturedEvent, from any thread in any mode); EndCapture on
//   a stream that joined it rather than the origin (cudaErrorStreamCaptureUnmatched); and the
//   potentially unsafe calls (cudaMalloc, cudaHostAlloc, cudaFree, cudaFreeHost,
//   cudaDeviceSynchronize, cudaStreamSynchronize, cudaStreamQuery, cudaEventQuery,
//   cudaEventSynchronize) when the calling thread's mode (cudaThreadExchangeStreamCaptureMode)
//   forbids them: global (the default) by its own non-relaxed captures and any thread's global
//   ones, thread-local by its own, relaxed never. Once invalidated, a capture takes no more work:
//   copies, host functions, event records and waits on its streams fail,
//   cudaErrorStreamCaptureInvalidated. Querying, synchronising or waiting on (from a stream not
//   capturing) an event whose capture was invalidated or has ended is cudaErrorInvalidValue.
//   EndCapture of a global or thread-local capture from another thread fails
//   (cudaErrorStreamCaptureWrongThread) and ends the capture all the same, without a graph.
//   Copies with pageable (unregistered) host memory are captured and replayed like any other.
//   As on CUDA 13 (checked on an H100), cudaErrorNotReady from cudaStreamQuery/cudaEventQuery
//   does not become the thread's last error.
//
// Gaps (not modelled): kernels; in graphs: replays run the nodes one after another on the launch
// stream (real graphs may run independent branches concurrently), launching into a capturing
// stream (child graphs), external event nodes (cudaEventWaitExternal), graph updates, and
// cudaStreamGetCaptureInfo beyond the status and the capture's id (a counter: no graph, no
// dependencies); cudaMalloc/cudaHostAlloc do not synchronise; peer access is recorded
// (cudaDeviceEnablePeerAccess) but not checked (copies between devices need none on CUDA
// either, only kernels would: any device memory may be copied on any device's stream); event
// handles are never reused; event timing; cudaMemcpy (synchronous), cudaMallocAsync and memory
// pools; in the sticky-error state, queued copies still run, and destroy and free calls still
// release their resource (and return the error); chaos delays the start of each task, not the
// progress of a copy (a copy is one memmove); the callback thread per device is this
// emulation's choice, not a documented guarantee.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
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
  /// Every entry point by name ("cudaEventRecord", "cudaMemcpyAsync", ...; _ptsz calls under the
  /// plain name), control calls excluded.
  std::map<std::string, std::uint64_t, std::less<>> calls;

  /// @brief Calls of `entry_point` (0 if never called).
  std::uint64_t count(const std::string& entry_point) const;
};

/// @brief PINPOOL_EMU_DEVICES, or 2 when unset.
int default_device_count();

/// @brief Sets the device count (0 emulates a machine without GPU: cudaGetDeviceCount fails with
/// cudaErrorNoDevice), clears counters, violations, injected faults, the sticky errors, the
/// unloading flag and the blocking timeout, and makes device 0 current for the calling thread.
/// Destroys the calling thread's per-thread streams and the legacy streams. Keeps the chaos seed.
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
/// @brief Allocations (cudaMalloc/cudaHostAlloc) and registrations (cudaHostRegister) not yet
/// freed (cudaFree/cudaFreeHost/cudaHostUnregister).
std::size_t live_allocations();
/// @brief Live streams, implicit ones included.
std::size_t live_streams();

/// @brief Whether cudaDeviceEnablePeerAccess(peer) succeeded with `device` current.
bool peer_access_enabled(int device, int peer);
/// @brief What cudaDeviceCanAccessPeer answers for two distinct devices (default true; reset()
/// restores it); false makes cudaDeviceEnablePeerAccess fail with cudaErrorPeerAccessUnsupported.
void set_peer_access_capable(bool capable);

/// @brief The `n`th cudaMalloc/cudaHostAlloc call from now (1 = the next) fails with
/// cudaErrorMemoryAllocation (not sticky). 0 cancels.
void fail_nth_allocation(unsigned n);
/// @brief The `n`th cudaHostRegister call from now (1 = the next) fails with
/// cudaErrorNotSupported (not sticky), as on systems that refuse to register host memory. 0
/// cancels.
void fail_nth_host_register(unsigned n);
/// @brief The `n`th cudaEventCreateWithFlags/cudaEventRecord call from now fails with
/// cudaErrorLaunchOutOfResources (recoverable). 0 cancels.
void fail_nth_event_call(unsigned n);
/// @brief The `n`th cudaStreamCreateWithFlags call from now fails likewise. 0 cancels.
void fail_nth_stream_call(unsigned n);
/// @brief Faults `device`'s context (-1: the calling thread's current device): from now on, until
/// reset(), every call made with it current, and every call on one of its streams, returns
/// cudaErrorIllegalAddress (a sticky error, which cudaGetLastError does not clear), and its
/// streams' queued host functions are not called.
void set_sticky_error(int device = -1);

/// @brief Chaos scheduling: a non-zero seed delays each stream task by 0-2 ms drawn from a PRNG
/// per stream (host functions by up to 4 ms); 0 turns it off. Starts as PINPOOL_EMU_CHAOS.
void set_chaos(std::uint64_t seed);
std::uint64_t chaos_seed();

/// @brief While true, every runtime call returns cudaErrorCudartUnloading, as calls made during
/// process exit do (which the emulation also models). reset() clears it.
void simulate_unloading(bool unloading);

/// @brief How long a blocking call waits for stream work before it reports the deadlock a GPU
/// would hang in (a violation) and goes on. reset() restores 10 s.
void set_blocking_timeout(std::chrono::milliseconds timeout);

/// @brief true: host functions run on one callback thread per device, one at a time (as CUDA
/// may run them); false (the default, restored by reset()): on their stream's worker thread.
void serialize_host_functions(bool on);

}  // namespace pinpool_emu
