// pinpool-pipeline: the sample multi-stream image pipeline. See --help.
#include "frame_plan.hpp"
#include "options.hpp"
#include "pipeline.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/error.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace {

namespace pp = pinpool::pipeline;

// Writes the report to a temporary name, then renames it: no partial report is ever left.
// Returns "" or the reason it failed (strerror).
std::string write_report(const std::string& path, const std::string& json) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return std::strerror(errno);
  const bool written = std::fwrite(json.data(), 1, json.size(), f) == json.size();
  int err = written ? 0 : errno;
  if (std::fclose(f) != 0 && err == 0) err = errno;
  if (err == 0 && std::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err == 0) return {};
  std::remove(tmp.c_str());
  return std::strerror(err != 0 ? err : EIO);
}

// Checks, before any frame, that the report can be written where asked: its temporary file can
// be created (and is removed again) and the path is not a directory.
// @throws pp::usage_error naming the path and the system's reason.
void check_report_path(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw pp::usage_error("--report " + path +
                          ": cannot write the report: " + std::strerror(EISDIR));
  }
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    throw pp::usage_error("--report " + path +
                          ": cannot write the report: " + std::strerror(errno));
  }
  std::fclose(f);
  std::remove(tmp.c_str());
}

pp::progress_fn make_progress(bool enabled) {
  if (!enabled) return {};
  return [](std::size_t done, std::size_t total) {
    std::fprintf(stderr, "\r[%zu/%zu] frames", done, total);
    if (done == total) std::fputc('\n', stderr);
  };
}

int run(int argc, char** argv) {
  pp::options o;
  std::shared_ptr<pinpool::backend> be;
  std::vector<pp::frame_source> plan;
  try {
    o = pp::parse_options(argc, argv);
    if (o.help) {
      std::cout << pp::usage_text();
      return 0;
    }
    plan = pp::plan_frames(o);
    pp::prepare_output_dir(o.output_dir);
    if (!o.report_path.empty()) check_report_path(o.report_path);
    be = pinpool::make_backend(o.backend);
  } catch (const std::exception& e) {  // usage_error, or --backend cuda without a device
    std::fprintf(stderr, "pinpool-pipeline: %s\n", e.what());
    return 2;
  }
  if (plan.empty()) {
    std::fprintf(stderr, "pinpool-pipeline: no image files found in the inputs given\n");
    return 2;
  }
  if (!o.quiet) {
    for (const pp::frame_source& src : plan) {
      if (!pp::is_renamed(src)) continue;
      std::fprintf(stderr,
                   "pinpool-pipeline: note: %s is written as %s (another input has the same "
                   "name)\n",
                   src.input.c_str(), src.output.c_str());
    }
  }
  const bool progress = !o.quiet && isatty(STDERR_FILENO) != 0;
  const pp::run_report report = pp::run_pipeline(o, be, plan, make_progress(progress));
  for (const pp::failure& f : report.failures) {
    std::fprintf(stderr, "pinpool-pipeline: %s: %s\n", f.input.c_str(), f.error.c_str());
  }
  if (!o.quiet) std::cout << report.summary_table();
  if (!o.report_path.empty()) {
    const std::string error = write_report(o.report_path, report.to_json());
    if (!error.empty()) {
      std::fprintf(stderr, "pinpool-pipeline: --report %s: cannot write the report: %s\n",
                   o.report_path.c_str(), error.c_str());
      return 1;
    }
  }
  return report.frames_failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pinpool-pipeline: fatal: %s\n", e.what());
    return 1;
  }
}
