// Linked into the README's runnable snippets: NVTX initialises itself on its first call with
// plain stores and fences that ThreadSanitizer cannot see, and pinpool's CPU-stream threads name
// themselves through NVTX as they start. Make the first call here, before main, on one thread.

#ifdef PINPOOL_HAS_NVTX
#include <nvtx3/nvToolsExt.h>

namespace {

struct nvtx_initialised_first {
  nvtx_initialised_first() { nvtxInitialize(nullptr); }
} const nvtx_first;

}  // namespace
#endif
