// pinpool-pipeline scaled out on the CPU backend: --devices (emulated devices, each with its own
// streams, host threads and pools) and multi-process runs split by rank (Open MPI's mpirun, or
// Slurm's variables set by the test): outputs byte-identical to a single-process run, every
// input accounted for exactly once in rank 0's merged report, and the errors of bad lists, bad
// ranks and a rank that never reports.
#include "devices.hpp"
#include "frame_plan.hpp"
#include "options.hpp"
#include "pipeline.hpp"
#include "ranks.hpp"

#include <pinpool/detail/json_reader.hpp>
#include <pinpool/io/image_io.hpp>
#include <pinpool/pinpool.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace pp = pinpool::pipeline;
using pinpool::detail::json;

struct temp_dir {
  fs::path path;
  temp_dir() {
    char tmpl[] = "/tmp/pinpool-scale-out-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() { fs::remove_all(path); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The regular files of `dir` (name -> contents), except the reports.
std::map<std::string, std::string> image_files(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && e.path().extension() != ".json") files[name] = read_text(e.path());
  }
  return files;
}

// `count` small PNG inputs of different sizes and contents in `dir`.
void make_inputs(const fs::path& dir, int count) {
  fs::create_directories(dir);
  for (int i = 0; i < count; ++i) {
    const int w = 24 + 5 * i;
    const int h = 16 + 3 * i;
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w) * h * 3);
    pinpool::io::generate_test_pattern(rgb.data(), w, h, i);
    char name[32];
    std::snprintf(name, sizeof name, "in_%02d.png", i);
    pinpool::io::write_png((dir / name).string(), rgb.data(), w, h, 3,
                           static_cast<std::size_t>(w) * 3);
  }
}

struct process_result {
  int status = -1;
  std::string output;
};

FILE* start(const std::string& command) {
  return popen((command + " 2>&1").c_str(), "r");
}

process_result finish(FILE* p) {
  process_result r;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

process_result run_command(const std::string& command) {
  return finish(start(command));
}

const std::string pipeline_exe = PINPOOL_PIPELINE_EXE;
// The launchers' variables cleared, so that a test run under a launcher is still one process.
const std::string clean_env =
    "env -u OMPI_COMM_WORLD_RANK -u OMPI_COMM_WORLD_SIZE -u PMI_RANK -u PMI_SIZE -u SLURM_PROCID "
    "-u SLURM_NTASKS -u PMIX_NAMESPACE -u OMPI_MCA_ess_base_jobid ";

std::string pipeline_args(const fs::path& in, const fs::path& out) {
  return " --quiet --backend cpu --threads 1 --streams 2 --input " + in.string() + " --output " +
         out.string();
}

// Checks rank 0's merged report: `ranks` ranks, every input of `in` written exactly once.
void expect_merged_report(const fs::path& report, const fs::path& in, int ranks) {
  const json merged = json::parse(read_text(report));
  EXPECT_EQ(merged.get_number("ranks"), ranks);
  const json* per_rank = merged.find("per_rank");
  ASSERT_NE(per_rank, nullptr);
  EXPECT_EQ(per_rank->array().size(), static_cast<std::size_t>(ranks));
  std::map<std::string, int> seen;
  for (const json& o : merged.find("outputs")->array()) ++seen[o.get_string("input")];
  std::size_t inputs = 0;
  for (const auto& e : fs::directory_iterator(in)) {
    ++inputs;
    EXPECT_EQ(seen[e.path().string()], 1) << e.path() << " in\n" << read_text(report);
  }
  EXPECT_EQ(seen.size(), inputs);
  EXPECT_EQ(merged.find("total")->get_number("frames_ok"), static_cast<double>(inputs));
  EXPECT_TRUE(merged.find("missing_ranks")->array().empty());
  EXPECT_TRUE(merged.find("accounting")->find("unaccounted")->array().empty());
  EXPECT_TRUE(merged.find("accounting")->find("repeated")->array().empty());
}

// ---- --devices ---------------------------------------------------------------------------------

pp::options synthetic(const fs::path& out, int frames) {
  pp::options o;
  o.output_dir = out.string();
  o.streams = 3;
  o.frames = frames;
  o.width = 96;
  o.height = 61;
  o.threads = 2;
  return o;
}

pp::run_report run(const pp::options& o) {
  pp::prepare_output_dir(o.output_dir);
  return pp::run_pipeline(o, pinpool::make_backend(pinpool::backend_kind::cpu), pp::plan_frames(o),
                          {});
}

TEST(pipeline_devices, two_emulated_devices_write_what_one_device_writes) {
  temp_dir dir;
  const pp::run_report one = run(synthetic(dir.path / "one", 7));
  ASSERT_EQ(one.frames_ok, 7u);
  for (const auto mode : {pp::pinned_pool_mode::shared, pp::pinned_pool_mode::per_device}) {
    const bool shared = mode == pp::pinned_pool_mode::shared;
    const fs::path out = dir.path / (shared ? "shared" : "per-device");
    pp::options o = synthetic(out, 7);
    o.devices = {1, 0};
    o.pinned_pool = mode;
    const pp::run_report two = run(o);
    EXPECT_EQ(two.frames_ok, 7u);
    EXPECT_EQ(image_files(out), image_files(dir.path / "one"));
    ASSERT_EQ(two.devices.size(), 2u);
    // Streams round-robin in --devices order: streams 0 and 2 on device 1, stream 1 on device 0.
    EXPECT_EQ(two.devices[0].device, 1);
    EXPECT_EQ(two.devices[0].streams, 2);
    EXPECT_EQ(two.devices[1].streams, 1);
    EXPECT_EQ(two.devices[0].host_threads + two.devices[1].host_threads, 2);
    EXPECT_GT(two.devices[1].frames_ok, 0u) << "every device got a stream's first frame";
    EXPECT_EQ(two.devices[0].frames_ok + two.devices[1].frames_ok, 7u);
    EXPECT_EQ(two.pools.size(), shared ? 3u : 4u);  // [pinned,] device and pinned per device
    EXPECT_EQ(two.pinned_pool, shared ? "shared" : "per-device");
    EXPECT_EQ(two.steady_state_backend_allocations, 0u);
    const std::string js = two.to_json();
    EXPECT_NE(js.find("\"devices\":[{\"device\":1,\"streams\":2,"), std::string::npos) << js;
  }
}

TEST(pipeline_devices, bad_device_lists_and_modes_are_usage_errors) {
  for (const auto& [args, message] :
       {std::pair{"--devices 0,8",
                  "--devices: device 8 does not exist (the cpu backend emulates "
                  "devices 0..7)"},
        std::pair{"--devices 1,0,1", "--devices: device 1 is listed twice in '1,0,1'"},
        std::pair{"--devices 0,,1", "--devices: expected an integer in [0, 63], got ''"},
        std::pair{"--devices 0,", "--devices: expected a comma-separated list of device ids"},
        std::pair{"--devices gpu0", "--devices: expected an integer in [0, 63], got 'gpu0'"},
        std::pair{"--devices 0,1,2 --streams 2", "--streams 2: fewer streams than the 3 devices"},
        std::pair{"--pinned-pool numa", "--pinned-pool: expected shared or per-device, got 'numa'"},
        std::pair{"--rank 2 --ranks 2", "--rank 2: expected a rank below --ranks 2"},
        std::pair{"--ranks 0", "--ranks: expected an integer in [1, 1048576], got '0'"},
        std::pair{"--merge-timeout 0", "--merge-timeout: expected an integer in [1, 86400]"}}) {
    temp_dir dir;
    const auto r = run_command(clean_env + pipeline_exe + " --quiet --backend cpu --output " +
                               (dir.path / "out").string() + " " + args);
    EXPECT_EQ(r.status, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << ": " << r.output;
  }
  const auto help = run_command(pipeline_exe + " --help");
  for (const char* flag :
       {"--devices LIST", "--pinned-pool M", "--rank R", "--ranks N", "--merge-timeout S"}) {
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  }
}

// ---- ranks
// ---------------------------------------------------------------------------------------

pp::env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(pipeline_ranks, rank_and_size_come_from_flags_then_the_launchers_environment) {
  const pp::options none;
  const pp::rank_identity single = pp::resolve_rank(none, fake_env({}));
  EXPECT_EQ(single.rank, 0);
  EXPECT_EQ(single.ranks, 1);
  const pp::rank_identity ompi =
      pp::resolve_rank(none, fake_env({{"OMPI_COMM_WORLD_RANK", "3"},
                                       {"OMPI_COMM_WORLD_SIZE", "4"},
                                       {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                       {"PMIX_NAMESPACE", "ns7"},
                                       {"SLURM_PROCID", "0"},
                                       {"SLURM_NTASKS", "1"},
                                       {"SLURM_JOB_ID", "9"}}));
  EXPECT_EQ(ompi.rank, 3);
  EXPECT_EQ(ompi.ranks, 4);
  EXPECT_EQ(ompi.local_rank, 1);
  EXPECT_EQ(ompi.run_id, "ns7");
  EXPECT_EQ(ompi.source, "OMPI_COMM_WORLD_RANK/SIZE");
  const pp::rank_identity pmi =
      pp::resolve_rank(none, fake_env({{"PMI_RANK", "1"}, {"PMI_SIZE", "2"}}));
  EXPECT_EQ(pmi.rank, 1);
  EXPECT_EQ(pmi.local_rank, 1) << "no local rank given: the rank";
  const pp::rank_identity slurm = pp::resolve_rank(none, fake_env({{"SLURM_PROCID", "5"},
                                                                   {"SLURM_NTASKS", "8"},
                                                                   {"SLURM_LOCALID", "1"},
                                                                   {"SLURM_JOB_ID", "42"},
                                                                   {"SLURM_STEP_ID", "0"}}));
  EXPECT_EQ(slurm.rank, 5);
  EXPECT_EQ(slurm.ranks, 8);
  EXPECT_EQ(slurm.local_rank, 1);
  EXPECT_EQ(slurm.run_id, "42.0");
  pp::options flags;
  flags.rank = 1;
  flags.ranks = 3;
  const pp::rank_identity over =
      pp::resolve_rank(flags, fake_env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}}));
  EXPECT_EQ(over.rank, 1);
  EXPECT_EQ(over.ranks, 3);
  EXPECT_EQ(over.source, "--rank/--ranks");
  auto refusal = [](const pp::options& o, std::map<std::string, std::string> vars) {
    try {
      pp::resolve_rank(o, fake_env(std::move(vars)));
    } catch (const pp::usage_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(refusal(none, {{"SLURM_PROCID", "x"}, {"SLURM_NTASKS", "2"}}).find("SLURM_PROCID='x'"),
            std::string::npos);
  EXPECT_NE(refusal(none, {{"PMI_RANK", "2"}, {"PMI_SIZE", "2"}}).find("not below"),
            std::string::npos);
  pp::options rank_only;
  rank_only.rank = 1;
  EXPECT_NE(refusal(rank_only, {}).find("rank 1 (from --rank/--ranks) is not below"),
            std::string::npos);
}

TEST(pipeline_ranks, the_split_is_round_robin_and_covers_the_plan_once) {
  std::vector<pp::frame_source> plan;
  for (int i = 0; i < 11; ++i)
    plan.push_back({"in" + std::to_string(i), "out" + std::to_string(i)});
  std::map<std::string, int> seen;
  for (int r = 0; r < 3; ++r) {
    pp::rank_identity id;
    id.rank = r;
    id.ranks = 3;
    const auto share = pp::share_of(plan, id);
    EXPECT_EQ(share.size(), r < 2 ? 4u : 3u);
    for (std::size_t k = 0; k < share.size(); ++k) {
      EXPECT_EQ(share[k].input, plan[r + 3 * k].input);
      ++seen[share[k].input];
    }
  }
  EXPECT_EQ(seen.size(), plan.size());
  for (const auto& [input, n] : seen) EXPECT_EQ(n, 1) << input;
  EXPECT_EQ(pp::rank_report_path("/x/run.json", 1), "/x/run.rank1.json");
  EXPECT_EQ(pp::rank_report_path("/x/run", 0), "/x/run.rank0.json");
}

// Two processes started by the test with Slurm's variables (no launcher needed): the split and
// the merge are those of a real srun.
TEST(pipeline_ranks, two_ranks_from_slurm_variables_write_what_one_process_writes) {
  temp_dir dir;
  const fs::path in = dir.path / "in";
  make_inputs(in, 9);
  const auto single =
      run_command(clean_env + pipeline_exe + pipeline_args(in, dir.path / "single"));
  ASSERT_EQ(single.status, 0) << single.output;
  const fs::path out = dir.path / "slurm";
  std::vector<FILE*> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.push_back(start(clean_env + "SLURM_PROCID=" + std::to_string(r) +
                          " SLURM_NTASKS=2 SLURM_LOCALID=" + std::to_string(r) +
                          " SLURM_JOB_ID=77 SLURM_STEP_ID=0 " + pipeline_exe +
                          pipeline_args(in, out) + " --merge-timeout 60"));
  }
  for (FILE* p : ranks) {
    const process_result r = finish(p);
    EXPECT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(image_files(out), image_files(dir.path / "single"));
  EXPECT_EQ(image_files(out).size(), 9u);
  expect_merged_report(out / "pinpool-report.json", in, 2);
  const json rank1 = json::parse(read_text(out / "pinpool-report.rank1.json"));
  EXPECT_EQ(rank1.get_number("frames_planned"), 4);  // inputs 1, 3, 5, 7
  EXPECT_EQ(rank1.find("rank")->get_string("run_id"), "77.0");
}

TEST(pipeline_ranks, mpirun_two_ranks_write_what_one_process_writes) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "mpirun not found (apt-get install openmpi-bin): the Slurm-variable test "
                    "covers the split without it";
  }
  // As root Open MPI refuses to start without both variables; harmless otherwise.
  const std::string mpirun =
      clean_env +
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 120 "
      "mpirun -np 2 --oversubscribe ";
  const auto probe = run_command(mpirun + "true </dev/null");
  if (probe.status != 0) {
    GTEST_SKIP() << "mpirun cannot start two processes here (exit " << probe.status
                 << "): " << probe.output;
  }
  temp_dir dir;
  const fs::path in = dir.path / "in";
  make_inputs(in, 9);
  const auto single =
      run_command(clean_env + pipeline_exe + pipeline_args(in, dir.path / "single"));
  ASSERT_EQ(single.status, 0) << single.output;
  const fs::path out = dir.path / "mpi";
  const auto mpi =
      run_command(mpirun + pipeline_exe + pipeline_args(in, out) + " --merge-timeout 60 --report " +
                  (out / "run.json").string() + " </dev/null");
  ASSERT_EQ(mpi.status, 0) << mpi.output;
  EXPECT_EQ(image_files(out), image_files(dir.path / "single"));
  expect_merged_report(out / "run.json", in, 2);
  EXPECT_TRUE(fs::exists(out / "run.rank0.json"));
  EXPECT_TRUE(fs::exists(out / "run.rank1.json"));
}

// A bad input on rank 1: rank 1 still exits 0 (mpirun would abort rank 0 otherwise), rank 0's
// merged report lists the failure, and rank 0 exits 1 as a single process would.
TEST(pipeline_ranks, mpirun_a_failed_input_on_rank_1_is_in_rank_0s_merged_report) {
  const std::string mpirun =
      clean_env +
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 120 "
      "mpirun -np 2 --oversubscribe ";
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0 ||
      run_command(mpirun + "true </dev/null").status != 0) {
    GTEST_SKIP() << "mpirun not found or cannot start two processes here";
  }
  temp_dir dir;
  const fs::path in = dir.path / "in";
  make_inputs(in, 3);
  std::ofstream(in / "in_00b.png") << "not a PNG";  // second in the plan: rank 1's
  const fs::path out = dir.path / "out";
  const auto mpi = run_command(mpirun + pipeline_exe + pipeline_args(in, out) +
                               " --merge-timeout 60 </dev/null");
  EXPECT_EQ(mpi.status, 1) << mpi.output;
  const json merged = json::parse(read_text(out / "pinpool-report.json"));
  EXPECT_EQ(merged.find("total")->get_number("frames_ok"), 3);
  ASSERT_EQ(merged.find("failures")->array().size(), 1u) << read_text(out / "pinpool-report.json");
  const json& failed = merged.find("failures")->array()[0];
  EXPECT_EQ(failed.get_string("input"), (in / "in_00b.png").string());
  EXPECT_EQ(failed.get_number("rank"), 1);
  EXPECT_TRUE(merged.find("accounting")->find("unaccounted")->array().empty());
}

// Rank 0 alone: it waits --merge-timeout for rank 1, ignores a report of another run (another
// SLURM_JOB_ID), then writes the merged report naming the rank and the inputs missing.
TEST(pipeline_ranks, rank_0_names_a_rank_that_never_reports) {
  temp_dir dir;
  const fs::path in = dir.path / "in";
  make_inputs(in, 4);
  const fs::path out = dir.path / "out";
  const std::string rank1 = clean_env + "SLURM_PROCID=1 SLURM_NTASKS=2 SLURM_JOB_ID=1 " +
                            pipeline_exe + pipeline_args(in, out);
  ASSERT_EQ(run_command(rank1).status, 0);  // an earlier run's rank 1
  const auto r = run_command(clean_env + "SLURM_PROCID=0 SLURM_NTASKS=2 SLURM_JOB_ID=2 " +
                             pipeline_exe + pipeline_args(in, out) + " --merge-timeout 1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("rank 0: no report from rank 1 after 1 s (--merge-timeout)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find((in / "in_01.png").string() + ": no rank wrote or failed it"),
            std::string::npos)
      << r.output;
  const json merged = json::parse(read_text(out / "pinpool-report.json"));
  ASSERT_EQ(merged.find("missing_ranks")->array().size(), 1u);
  EXPECT_EQ(merged.find("missing_ranks")->array()[0].number(), 1);
  EXPECT_EQ(merged.find("accounting")->find("unaccounted")->array().size(), 2u);
}

TEST(pipeline_ranks, the_report_reader_reads_what_the_report_writes) {
  const json v = json::parse(R"({"a":[1,-2.5e1,true,false,null],"s":"q\"\\\/\n\u00e9x","o":{}})");
  EXPECT_EQ(v.find("a")->array().size(), 5u);
  EXPECT_EQ(v.find("a")->array()[1].number(), -25);
  EXPECT_TRUE(v.find("a")->array()[2].boolean());
  EXPECT_EQ(v.get_string("s"), "q\"\\/\n\xc3\xa9x");
  EXPECT_THROW(json::parse("{\"a\":1,}"), std::runtime_error);
  EXPECT_THROW(json::parse("[1 2]"), std::runtime_error);
  EXPECT_THROW(json::parse("\"open"), std::runtime_error);
}

}  // namespace
