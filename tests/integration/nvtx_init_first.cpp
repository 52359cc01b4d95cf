// NVTX initialises itself on its first call and publishes its function table with plain stores
// and fences, which ThreadSanitizer cannot see. pinpool's CPU-stream threads name themselves
// through NVTX as they start, so the process's first NVTX call may race another thread's: make
// it here, before main, while there is one thread.

#ifdef PINPOOL_HAS_NVTX
#include <nvtx3/nvToolsExt.h>

namespace {

struct nvtx_initialised_first {
  nvtx_initialised_first() { nvtxInitialize(nullptr); }
} const nvtx_first;

}  // namespace
#endif
