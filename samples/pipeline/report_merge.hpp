#pragma once
// Rank 0 of a multi-rank run merges every rank's report (ranks.hpp names the files) into one:
// frames, failures and throughput per rank and in total, and whether every input of the plan
// was accounted for (written or failed) exactly once.
//
// Why rank 0 waits for files rather than a separate merge command: the run then ends with the
// merged report, under mpirun and srun alike, with no MPI link and no second step to script;
// the shared output directory the ranks write to anyway is the only channel. The wait is
// bounded (--merge-timeout) and a rank that never reports is named, not waited on forever.

#include "frame_plan.hpp"
#include "run_report.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace pinpool::pipeline {

struct merge_outcome {
  std::string json;                      ///< the merged report
  std::vector<int> missing_ranks;        ///< ranks whose report never came (or was not of this run)
  std::vector<std::string> unaccounted;  ///< inputs of the plan no rank wrote or failed
  std::vector<std::string> repeated;     ///< inputs accounted for more often than planned
  std::size_t frames_ok = 0;
  std::size_t frames_failed = 0;
  /// @brief Every rank reported, every input accounted for exactly once, no frame failed.
  bool clean() const {
    return missing_ranks.empty() && unaccounted.empty() && repeated.empty() && frames_failed == 0;
  }
};

/// @brief Waits until every rank's report (rank_report_path(merged_path, r), r in [0, ranks))
/// exists and belongs to this run (`self.run_id`, `self.ranks`), at most `timeout`, polling;
/// then merges those that came. `plan` is the whole single-process plan.
/// @note Reads files only; a report still being written is never seen half-written (each rank
/// renames its report into place).
merge_outcome merge_rank_reports(const std::vector<frame_source>& plan, const rank_identity& self,
                                 const std::string& merged_path, std::chrono::seconds timeout);

}  // namespace pinpool::pipeline
