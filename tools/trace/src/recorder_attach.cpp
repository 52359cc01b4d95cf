// recorder::attach: the one recorder call that needs NVTX's implementation (this binary's NVTX
// instance) rather than the tool's view of it.

#include <pinpool/trace/recorder.hpp>

#include <nvtx3/nvToolsExt.h>
#include <nvtx3/nvToolsExtMem.h>

namespace pinpool::trace {

bool recorder::attach() {
  nvtxInitialize(nullptr);
  // Any memory-extension call initialises the extension; this one is not recorded.
  nvtxMemPermissionsUnbind(nullptr, NVTX_MEM_PERMISSIONS_BIND_SCOPE_UNKNOWN);
  return attached();
}

}  // namespace pinpool::trace
