// libpinpool_trace.so: NVTX's dynamic injection entry points. NVTX loads the library named by
// NVTX_INJECTION64_PATH on the program's first NVTX call; the trace is written when the program
// exits (std::exit or a return from main) to PINPOOL_TRACE_OUT.
//
//   PINPOOL_TRACE_OUT  output path; "%p" is replaced by the process id.
//                      Default: pinpool-trace-%p.json in the working directory.
//   PINPOOL_QUIET=1    no summary line on stderr.

#define NVTX_NO_IMPL
#include "collector.hpp"
#include "nvtx_hooks.hpp"

#include <pinpool/trace/recorder.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unistd.h>

namespace {

using pinpool::trace::detail::collector;

pid_t owner_pid = 0;

std::string output_pattern() {
  const char* env = std::getenv("PINPOOL_TRACE_OUT");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string("pinpool-trace-%p.json");
}

std::string expand(std::string pattern, pid_t pid) {
  const std::string id = std::to_string(pid);
  for (std::size_t at = pattern.find("%p"); at != std::string::npos;
       at = pattern.find("%p", at + id.size())) {
    pattern.replace(at, 2, id);
  }
  return pattern;
}

bool quiet() {
  const char* env = std::getenv("PINPOOL_QUIET");
  return env != nullptr && std::strcmp(env, "0") != 0 && *env != '\0';
}

void write_trace() {
  collector& c = collector::instance();
  const std::string pattern = output_pattern();
  const pid_t pid = ::getpid();
  // A forked child inherits this handler: it writes only when the path names its own pid.
  if (pid != owner_pid && pattern.find("%p") == std::string::npos) return;
  c.stop();  // from now on NVTX calls (threads still running) are ignored
  const pinpool::trace::trace_snapshot s = c.snapshot();
  const std::string json = pinpool::trace::to_chrome_json(s);
  const std::string path = expand(pattern, pid);
  std::FILE* f = std::fopen(path.c_str(), "w");
  bool ok = f != nullptr && std::fwrite(json.data(), 1, json.size(), f) == json.size();
  if (f != nullptr && std::fclose(f) != 0) ok = false;
  if (!ok) {
    std::fprintf(stderr, "pinpool-trace: cannot write %s: %s\n", path.c_str(),
                 std::strerror(errno));
  } else if (!quiet()) {
    std::fprintf(stderr, "pinpool-trace: %zu ranges, %zu marks, %zu counter samples -> %s\n",
                 s.ranges.size(), s.marks.size(), s.counters.size(), path.c_str());
  }
}

void arrange_write() {
  static std::once_flag once;
  std::call_once(once, [] {
    owner_pid = ::getpid();
    collector::instance().keep_memory_events(false);  // the JSON needs only the counters
    std::atexit(write_trace);
  });
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int InitializeInjectionNvtx2(
    NvtxGetExportTableFunc_t get_export_table) {
  arrange_write();
  return pinpool::trace::detail::attach_core(get_export_table);
}

extern "C" __attribute__((visibility("default"))) int InitializeInjectionNvtxExtension(
    nvtxExtModuleInfo_t* module) {
  arrange_write();
  return pinpool::trace::detail::attach_extension(module);
}
