/* pinpool_torch.h: the PyTorch plugin's C entry points (libpinpool_torch.so).
 *
 * The signatures `torch.cuda.memory.CUDAPluggableAllocator(path, "pinpool_alloc", "pinpool_free")`
 * loads. One pinpool device pool per CUDA device, created on the first allocation for that
 * device; configured by the PINPOOL_TORCH_* environment variables, read at the first call (see
 * torch_allocator.hpp and README "Adopting pinpool in existing code").
 *
 * Neither function throws or blocks on the GPU. A failure (bad configuration, no CUDA device, a
 * device out of range, the cap reached, the runtime out of memory, a pointer pinpool does not
 * hold out) is one line on stderr naming the call and the reason; then alloc returns NULL (a free
 * does nothing), or the process aborts with PINPOOL_TORCH_ON_FAILURE=abort. */
#ifndef PINPOOL_TORCH_H
#define PINPOOL_TORCH_H

#include <sys/types.h> /* ssize_t */

#ifdef __cplusplus
#define PINPOOL_TORCH_NOEXCEPT noexcept
extern "C" {
#else
#define PINPOOL_TORCH_NOEXCEPT
#endif

struct CUstream_st; /* cudaStream_t */

/* `size` bytes of device memory on CUDA device `device`, safe for work enqueued on `stream`
 * from now on (as cudaMallocAsync; the stream is the caller's, never destroyed by pinpool; it
 * must be a stream of `device`, or the legacy default stream, NULL). 0 bytes: NULL. Aligned to
 * 256 bytes. Does not synchronise. */
void* pinpool_alloc(ssize_t size, int device, struct CUstream_st* stream) PINPOOL_TORCH_NOEXCEPT;

/* As cudaFreeAsync on `stream`: `ptr` (from pinpool_alloc on `device`) is reused only after the
 * work enqueued on `stream` so far. NULL: nothing. Any thread may call it. `size` is not used
 * (pinpool knows each chunk's size). */
void pinpool_free(void* ptr, ssize_t size, int device,
                  struct CUstream_st* stream) PINPOOL_TORCH_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* PINPOOL_TORCH_H */
