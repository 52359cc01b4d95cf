#pragma once
// What a pipeline run did: frames, failures, pools, per-stage time. Printed as a table and
// written as JSON.

#include <pinpool/pool_stats.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace pinpool::pipeline {

struct failure {
  std::string input;
  std::string error;
};

/// @brief A frame written: its input and the file written for it.
struct written_output {
  std::string input;
  std::string output;
};

/// @brief Time of one step summed over frames (steps of different frames overlap). The steps:
/// "decode" and "encode+write" (host threads), "copy in", the stages and "copy out" (streams),
/// and the waits: "wait: free stream" (a frame waited for a stream whose last frame was
/// written), "wait: host (decode)" and "wait: host (encode)" (a frame waited for a host thread).
struct stage_timing {
  std::string name;
  double seconds = 0;
  std::uint64_t frames = 0;
};

/// @brief One device's share of a run (--devices): its streams, host threads and frames written.
struct device_report {
  int device = 0;
  int streams = 0;
  int host_threads = 0;
  std::size_t frames_ok = 0;
};

/// @brief Which process of a multi-process run wrote a report (ranks.hpp).
struct rank_identity {
  int rank = 0;
  int ranks = 1;
  int local_rank = 0;
  std::string source;  ///< where rank and size came from ("OMPI_COMM_WORLD_*", "--rank", ...)
  std::string run_id;  ///< the launch's identity (PMIX_NAMESPACE, SLURM_JOB_ID.STEP, ...)
  std::string host;
};

struct run_report {
  std::string backend;
  int streams = 0;
  int host_threads = 0;  ///< threads that decode, enqueue and write frames
  std::vector<std::string> stage_chain;
  std::size_t frames_planned = 0;  ///< frames this run was given (its rank's share)
  std::size_t frames_ok = 0;
  std::size_t frames_failed = 0;
  std::vector<failure> failures;
  /// Per device, in --devices order: streams are spread round-robin over them.
  std::vector<device_report> devices;
  std::string pinned_pool = "shared";  ///< --pinned-pool
  rank_identity rank;
  /// Every frame written, in the order written: input -> output file (x.jpg and y/x.jpg are
  /// written as x.png and x_2.png; this says which is which). With --no-write the output is "".
  std::vector<written_output> outputs;
  std::vector<pool_stats> pools;
  std::vector<stage_timing> stages;
  /// Backend allocations of all pools after each stream's first frame was submitted.
  std::uint64_t steady_state_backend_allocations = 0;
  double seconds = 0;
  double frames_per_second() const { return seconds > 0 ? frames_ok / seconds : 0; }

  std::string to_json() const;
  /// @brief Summed seconds of the step `name` (0 when absent).
  double step_seconds(const std::string& name) const;
  /// @brief The human summary: frames, seconds, frames/s, where the time goes per frame (host
  /// work, stream work, waits), how busy the host threads and the streams were, pool figures.
  std::string summary_table() const;
};

}  // namespace pinpool::pipeline
