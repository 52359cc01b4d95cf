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

struct stage_timing {
  std::string name;
  double seconds = 0;  ///< summed over frames (stages of different frames overlap)
  std::uint64_t frames = 0;
};

struct run_report {
  std::string backend;
  int streams = 0;
  std::vector<std::string> stage_chain;
  std::size_t frames_ok = 0;
  std::size_t frames_failed = 0;
  std::vector<failure> failures;
  /// Every frame written, in the order written: input -> output file (x.jpg and y/x.jpg are
  /// written as x.png and x_2.png; this says which is which).
  std::vector<written_output> outputs;
  std::vector<pool_stats> pools;
  std::vector<stage_timing> stages;
  /// Backend allocations of all pools after each stream's first frame was submitted.
  std::uint64_t steady_state_backend_allocations = 0;
  double seconds = 0;
  double frames_per_second() const { return seconds > 0 ? frames_ok / seconds : 0; }

  std::string to_json() const;
  /// @brief The human summary: frames, seconds, frames/s, time per stage, pool figures.
  std::string summary_table() const;
};

}  // namespace pinpool::pipeline
