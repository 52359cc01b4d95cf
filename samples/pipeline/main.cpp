// pinpool-pipeline: the sample multi-stream image pipeline. See --help.
#include "devices.hpp"
#include "frame_plan.hpp"
#include "options.hpp"
#include "pipeline.hpp"
#include "ranks.hpp"
#include "report_merge.hpp"

#include <pinpool/backend.hpp>
#include <pinpool/error.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

/// What a run needs once its command line and environment are checked.
struct run_setup {
  pp::options o;
  std::shared_ptr<pinpool::backend> be;
  std::vector<pp::frame_source> plan;   // the whole run's frames (every rank plans the same)
  std::vector<pp::frame_source> share;  // this rank's
  pp::rank_identity rank;
  std::string merged_report;  // the report of the whole run ("" : none)
  std::string own_report;     // this process's report ("" : none)
  bool multi() const { return rank.ranks > 1; }
};

// With several ranks: each rank's report beside the merged one, and a report left by an earlier
// run removed first (rank 0 never merges it: it checks the run id too).
void choose_reports(run_setup& s) {
  s.merged_report = pp::merged_report_path(s.o, s.rank);
  s.own_report = s.multi() ? pp::rank_report_path(s.merged_report, s.rank.rank) : s.merged_report;
  if (s.multi()) {
    std::remove(s.own_report.c_str());
    if (s.rank.rank == 0) std::remove(s.merged_report.c_str());
  }
  if (!s.own_report.empty()) check_report_path(s.own_report);
  if (s.multi() && s.rank.rank == 0) check_report_path(s.merged_report);
}

// The devices: --devices, else (several ranks) local rank mod the backend's device count.
void choose_devices(run_setup& s) {
  if (s.o.devices.empty() && s.multi()) {
    s.o.devices = {s.rank.local_rank % std::max(1, s.be->device_count())};
  }
  pp::check_devices(pp::devices_of(s.o), s.o.streams, *s.be);
}

// @throws pp::usage_error (or cuda_error for --backend cuda without a device).
run_setup prepare(int argc, char** argv) {
  run_setup s;
  s.o = pp::parse_options(argc, argv);
  if (s.o.help) return s;
  s.rank = pp::resolve_rank(s.o, [](const char* name) { return std::getenv(name); });
  s.plan = pp::plan_frames(s.o);
  pp::prepare_output_dir(s.o.output_dir);
  choose_reports(s);
  s.be = pinpool::make_backend(s.o.backend);
  choose_devices(s);
  s.share = pp::share_of(s.plan, s.rank);
  return s;
}

void note_renamed(const std::vector<pp::frame_source>& share) {
  for (const pp::frame_source& src : share) {
    if (!pp::is_renamed(src)) continue;
    std::fprintf(stderr,
                 "pinpool-pipeline: note: %s is written as %s (another input has the same "
                 "name)\n",
                 src.input.c_str(), src.output.c_str());
  }
}

// Runs this rank's share. A stream failure with several ranks still leaves a report (every
// frame of the share failed, with the cause), so rank 0 need not wait for it in vain.
pp::run_report run_share(const run_setup& s) {
  const bool progress = !s.o.quiet && isatty(STDERR_FILENO) != 0;
  try {
    pp::run_report r = pp::run_pipeline(s.o, s.be, s.share, make_progress(progress));
    r.rank = s.rank;
    return r;
  } catch (const pp::pipeline_failure& e) {
    if (!s.multi()) throw;
    pp::run_report r;
    r.backend = s.be->name();
    r.rank = s.rank;
    r.frames_planned = r.frames_failed = s.share.size();
    for (const pp::frame_source& src : s.share) r.failures.push_back({src.input, e.what()});
    return r;
  }
}

// Rank 0: waits for every rank's report, writes the merged one. Returns the exit status.
int merge_reports(const run_setup& s) {
  const pp::merge_outcome m = pp::merge_rank_reports(
      s.plan, s.rank, s.merged_report, std::chrono::seconds(s.o.merge_timeout_seconds));
  for (const int r : m.missing_ranks) {
    std::fprintf(stderr,
                 "pinpool-pipeline: rank 0: no report from rank %d after %d s (--merge-timeout): "
                 "expected %s; is %s shared by every rank, and were all %d ranks started?\n",
                 r, s.o.merge_timeout_seconds, pp::rank_report_path(s.merged_report, r).c_str(),
                 s.o.output_dir.c_str(), s.rank.ranks);
  }
  for (const std::string& input : m.unaccounted) {
    std::fprintf(stderr, "pinpool-pipeline: rank 0: %s: no rank wrote or failed it\n",
                 input.c_str());
  }
  for (const std::string& input : m.repeated) {
    std::fprintf(stderr, "pinpool-pipeline: rank 0: %s: accounted for more than once\n",
                 input.c_str());
  }
  const std::string error = write_report(s.merged_report, m.json);
  if (!error.empty()) {
    std::fprintf(stderr, "pinpool-pipeline: cannot write the merged report %s: %s\n",
                 s.merged_report.c_str(), error.c_str());
    return 1;
  }
  if (!s.o.quiet) {
    std::printf("merged report %s: %d rank(s), %zu frame(s) ok, %zu failed\n",
                s.merged_report.c_str(), s.rank.ranks, m.frames_ok, m.frames_failed);
  }
  return m.clean() ? 0 : 1;
}

int run(int argc, char** argv) {
  run_setup s;
  try {
    s = prepare(argc, argv);
    if (s.o.help) {
      std::cout << pp::usage_text();
      return 0;
    }
  } catch (const std::exception& e) {  // usage_error, or --backend cuda without a device
    std::fprintf(stderr, "pinpool-pipeline: %s\n", e.what());
    return 2;
  }
  if (s.plan.empty()) {
    std::fprintf(stderr, "pinpool-pipeline: no image files found in the inputs given\n");
    return 2;
  }
  if (!s.o.quiet) note_renamed(s.share);
  if (!s.o.quiet && s.multi()) {
    std::fprintf(stderr, "pinpool-pipeline: rank %d of %d (%s) on %s: %zu of %zu frame(s)\n",
                 s.rank.rank, s.rank.ranks, s.rank.source.c_str(), s.rank.host.c_str(),
                 s.share.size(), s.plan.size());
  }
  const pp::run_report report = run_share(s);
  for (const pp::failure& f : report.failures) {
    std::fprintf(stderr, "pinpool-pipeline: %s: %s\n", f.input.c_str(), f.error.c_str());
  }
  if (!s.o.quiet) std::cout << report.summary_table();
  if (!s.own_report.empty()) {
    const std::string error = write_report(s.own_report, report.to_json());
    if (!error.empty()) {
      std::fprintf(stderr, "pinpool-pipeline: --report %s: cannot write the report: %s\n",
                   s.own_report.c_str(), error.c_str());
      return 1;
    }
  }
  const int status = report.frames_failed == 0 ? 0 : 1;
  if (!s.multi()) return status;
  // The run's outcome is rank 0's exit status. The other ranks' failed frames are in their
  // reports (and so in the merged one); were they to exit 1, mpirun would abort the whole job,
  // rank 0 and its merge included.
  if (s.rank.rank != 0) return 0;
  return std::max(status, merge_reports(s));
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
