#include "ranks.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <unistd.h>

namespace pinpool::pipeline {
namespace {

/// The variables one launcher sets: rank, size, local rank (nullptr: none).
struct launcher_vars {
  const char* rank;
  const char* size;
  const char* local_rank;
  const char* source;
};

constexpr std::array<launcher_vars, 3> launchers{{
    {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_RANK/SIZE"},
    {"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "PMI_RANK/PMI_SIZE"},
    {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_PROCID/SLURM_NTASKS"},
}};

// The integer in `text`, named `name` in the error. @throws usage_error when it is not one in
// [lo, hi].
int env_integer(const char* name, const char* text, int lo, int hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
    throw usage_error(std::string(name) + "='" + text + "': expected an integer in [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int>(v);
}

// Rank, size and local rank from the first launcher that set rank and size, if any.
std::optional<rank_identity> from_launcher(const env_lookup& env) {
  for (const launcher_vars& l : launchers) {
    const char* rank = env(l.rank);
    const char* size = env(l.size);
    if (rank == nullptr || size == nullptr) continue;
    rank_identity r;
    r.ranks = env_integer(l.size, size, 1, max_ranks);
    r.rank = env_integer(l.rank, rank, 0, max_ranks - 1);
    const char* local = env(l.local_rank);
    r.local_rank = local != nullptr ? env_integer(l.local_rank, local, 0, max_ranks - 1) : r.rank;
    r.source = l.source;
    return r;
  }
  return std::nullopt;
}

std::string run_id_of(const env_lookup& env) {
  for (const char* name : {"PINPOOL_RUN_ID", "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid"}) {
    if (const char* v = env(name)) return v;
  }
  const char* job = env("SLURM_JOB_ID");
  const char* step = env("SLURM_STEP_ID");
  if (job == nullptr) return {};
  return std::string(job) + "." + (step != nullptr ? step : "");
}

std::string host_name() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return {};
  return name.data();
}

}  // namespace

rank_identity resolve_rank(const options& o, const env_lookup& env) {
  rank_identity r = from_launcher(env).value_or(rank_identity{0, 1, 0, "single process", {}, {}});
  if (o.ranks > 0 || o.rank >= 0) {
    if (o.ranks > 0) r.ranks = o.ranks;
    if (o.rank >= 0) r.rank = r.local_rank = o.rank;
    r.source = "--rank/--ranks";
  }
  if (r.rank >= r.ranks) {
    throw usage_error("rank " + std::to_string(r.rank) + " (from " + r.source +
                      ") is not below the number of ranks, " + std::to_string(r.ranks));
  }
  r.run_id = run_id_of(env);
  r.host = host_name();
  return r;
}

std::vector<frame_source> share_of(const std::vector<frame_source>& plan, const rank_identity& r) {
  std::vector<frame_source> share;
  for (auto i = static_cast<std::size_t>(r.rank); i < plan.size();
       i += static_cast<std::size_t>(r.ranks)) {
    share.push_back(plan[i]);
  }
  return share;
}

std::string merged_report_path(const options& o, const rank_identity& r) {
  if (!o.report_path.empty() || r.ranks == 1) return o.report_path;
  return (std::filesystem::path(o.output_dir) / "pinpool-report.json").string();
}

std::string rank_report_path(const std::string& merged, int rank) {
  std::filesystem::path p(merged);
  const std::string ext = p.has_extension() ? p.extension().string() : ".json";
  p.replace_filename(p.stem().string() + ".rank" + std::to_string(rank) + ext);
  return p.string();
}

}  // namespace pinpool::pipeline
