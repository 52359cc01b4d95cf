// pinpool_nvtx_recorder: NVTX's static injection hooks and the recorder API. Linked into a
// binary, this file's definitions of InitializeInjectionNvtx2_fnptr and
// InitializeInjectionNvtxExtension_fnptr replace NVTX's weak null ones, so NVTX attaches the
// collector on the first NVTX call unless NVTX_INJECTION64_PATH names another tool. They live
// in the same object as the recorder API (recorder::attach, in recorder_attach.cpp, calls into
// it too), so the linker always takes this object from the archive.

#define NVTX_NO_IMPL
#include "collector.hpp"
#include "nvtx_hooks.hpp"

#include <pinpool/trace/recorder.hpp>

#include <cstdio>
#include <string>

namespace {

int init_core(NvtxGetExportTableFunc_t get_export_table) {
  return pinpool::trace::detail::attach_core(get_export_table);
}

int init_extension(nvtxExtModuleInfo_t* module) {
  return pinpool::trace::detail::attach_extension(module);
}

}  // namespace

extern "C" {
__attribute__((visibility("default")))
NvtxInitializeInjectionNvtxFunc_t InitializeInjectionNvtx2_fnptr = &init_core;
__attribute__((visibility("default")))
NvtxExtInitializeInjectionFunc_t InitializeInjectionNvtxExtension_fnptr = &init_extension;
}

namespace pinpool::trace {

using detail::collector;

bool recorder::attached() noexcept {
  const collector& c = collector::instance();
  return c.core_attached() && c.memory_attached();
}

trace_snapshot recorder::snapshot() {
  return collector::instance().snapshot();
}

void recorder::clear() {
  collector::instance().clear();
}

std::size_t recorder::bytes_in_use(std::string_view domain) {
  return collector::instance().bytes_in_use(domain);
}

bool recorder::write_chrome_trace(const std::string& path) {
  const std::string json = to_chrome_json(snapshot());
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool written = std::fwrite(json.data(), 1, json.size(), f) == json.size();
  return std::fclose(f) == 0 && written;
}

}  // namespace pinpool::trace
