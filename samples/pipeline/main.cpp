// pinpool-pipeline: the sample multi-stream image pipeline. See --help.
#include "frame_plan.hpp"
#include "options.hpp"
#include "pipeline.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/error.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace {

namespace pp = pinpool::pipeline;

// Writes the report to a temporary name, then renames it: no partial report is ever left.
bool write_report(const std::string& path, const std::string& json) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << json;
    if (!out.flush()) return std::filesystem::remove(tmp), false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
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
  try {
    o = pp::parse_options(argc, argv);
    if (o.help) {
      std::cout << pp::usage_text();
      return 0;
    }
    pp::prepare_output_dir(o.output_dir);
    be = pinpool::make_backend(o.backend);
  } catch (const std::exception& e) {  // usage_error, or --backend cuda without a device
    std::fprintf(stderr, "pinpool-pipeline: %s\n", e.what());
    return 2;
  }
  const auto plan = pp::plan_frames(o);
  if (plan.empty()) {
    std::fprintf(stderr, "pinpool-pipeline: no image files found in the inputs given\n");
    return 1;
  }
  const bool progress = !o.quiet && isatty(STDERR_FILENO) != 0;
  const pp::run_report report = pp::run_pipeline(o, be, plan, make_progress(progress));
  for (const pp::failure& f : report.failures) {
    std::fprintf(stderr, "pinpool-pipeline: %s: %s\n", f.input.c_str(), f.error.c_str());
  }
  if (!o.quiet) std::cout << report.summary_table();
  if (!o.report_path.empty() && !write_report(o.report_path, report.to_json())) {
    std::fprintf(stderr, "pinpool-pipeline: cannot write the report %s\n", o.report_path.c_str());
    return 1;
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
