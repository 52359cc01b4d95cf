#pragma once
// Multi-process runs: which rank this process is (from the launcher's environment, no MPI
// link), its share of the frames, and where the per-rank and merged reports go.

#include "frame_plan.hpp"
#include "options.hpp"
#include "run_report.hpp"

#include <functional>
#include <string>
#include <vector>

namespace pinpool::pipeline {

/// @brief Reads an environment variable: nullptr when unset (std::getenv by default; tests pass
/// their own).
using env_lookup = std::function<const char*(const char*)>;

/// @brief This process's rank, the number of ranks, its local rank (on its node) and where they
/// came from. --rank/--ranks override the environment; otherwise the first launcher whose rank
/// and size variables are both set: Open MPI (OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK), PMI
/// (MPICH, Intel MPI: PMI_RANK, PMI_SIZE, MPI_LOCALRANKID), Slurm (SLURM_PROCID, SLURM_NTASKS,
/// SLURM_LOCALID); else rank 0 of 1. A local rank not given is the rank. `run_id` names the
/// launch so rank 0 never merges a report left by an earlier run: PINPOOL_RUN_ID, else
/// PMIX_NAMESPACE, OMPI_MCA_ess_base_jobid, or SLURM_JOB_ID.SLURM_STEP_ID ("" when none).
/// @throws usage_error naming the variable or flag whose value is not a rank, or a rank not
/// below the size.
rank_identity resolve_rank(const options& o, const env_lookup& env);

/// @brief The frames of `plan` that rank `r.rank` processes: round-robin, frame i when
/// i % r.ranks == r.rank. `plan` is the single-process plan (its order and output names), the
/// same on every rank given the same arguments, so ranks never write the same file.
std::vector<frame_source> share_of(const std::vector<frame_source>& plan, const rank_identity& r);

/// @brief The report of the whole run: --report, or with several ranks and no --report,
/// <output>/pinpool-report.json ("" for one rank without --report: no report).
std::string merged_report_path(const options& o, const rank_identity& r);

/// @brief Rank `rank`'s own report beside the merged one: run.json -> run.rank1.json.
std::string rank_report_path(const std::string& merged, int rank);

}  // namespace pinpool::pipeline
