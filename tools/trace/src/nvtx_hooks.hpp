#pragma once
// Attaching the collector to an NVTX instance (internal). Both entry points may be called
// several times in one process (once per NVTX instance: each shared object that includes the
// NVTX headers has its own) and from any thread. Includers choose NVTX_NO_IMPL or not.

#include <nvtx3/nvToolsExt.h>
#include <nvtx3/nvToolsExtMem.h>

namespace pinpool::trace::detail {

/// @brief InitializeInjectionNvtx2: fills the core and domain (CORE, CORE2) function tables of
/// the calling NVTX instance. @return 1 on success, 0 if the instance offers no callbacks table.
int attach_core(NvtxGetExportTableFunc_t get_export_table);

/// @brief InitializeInjectionNvtxExtension: fills the memory extension's slots; other
/// extensions are left to NVTX (their calls stay no-ops). @return 1, or 0 for a null module.
int attach_extension(nvtxExtModuleInfo_t* module);

}  // namespace pinpool::trace::detail
