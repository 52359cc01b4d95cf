// libpinpool_trace.so end to end: runs NVTX-instrumented programs with NVTX_INJECTION64_PATH and
// PINPOOL_TRACE_OUT, then reads the Chrome trace JSON they leave. Paths of the programs come
// from CMake (PINPOOL_TRACE_LIB, PINPOOL_NVTX_DEMO, PINPOOL_PIPELINE_EXE).

#include <pinpool/detail/json_reader.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using pinpool::detail::json;

struct run_result {
  int pid = 0;
  int exit_code = -1;
  std::string stderr_text;
};

/// A fresh directory under the temp dir, removed at the end of the test.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "pinpool-trace-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs `argv` in `cwd` with this process's environment, minus the variables the trace tool
/// reads, plus `env`. Its stderr goes to cwd/stderr.txt.
run_result run(const std::vector<std::string>& argv, const fs::path& cwd,
               const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string var = *e;
    const std::string key = var.substr(0, var.find('='));
    if (key == "NVTX_INJECTION64_PATH" || key == "PINPOOL_TRACE_OUT" || key == "PINPOOL_QUIET") {
      continue;
    }
    vars.push_back(var);
  }
  for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);
  const std::string err_path = (cwd / "stderr.txt").string();
  const std::string dir = cwd.string();

  run_result r;
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::dup2(fd, 2) < 0 || ::chdir(dir.c_str()) != 0) ::_exit(126);
    ::execve(argp[0], argp.data(), envp.data());
    ::_exit(127);
  }
  if (pid < 0) return r;
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.pid = pid;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.stderr_text = read_file(err_path);
  return r;
}

/// The parts of a trace the tests look at.
struct trace {
  json doc;
  std::map<double, std::string> thread_names;  // tid -> name (metadata)
  std::string process_name;

  explicit trace(const std::string& text) : doc(json::parse(text)) {
    for (const json& e : events()) {
      if (e.get_string("ph") != "M") continue;
      if (e.get_string("name") == "thread_name") {
        thread_names[e["tid"].number()] = e["args"].get_string("name");
      } else if (e.get_string("name") == "process_name") {
        process_name = e["args"].get_string("name");
      }
    }
  }
  const std::vector<json>& events() const { return doc["traceEvents"].array(); }
  std::vector<const json*> find(const std::string& ph, const std::string& name) const {
    std::vector<const json*> out;
    for (const json& e : events()) {
      if (e.get_string("ph") == ph && e.get_string("name") == name) out.push_back(&e);
    }
    return out;
  }
  /// The tid named `name` (-1 if none).
  double tid_of(const std::string& name) const {
    for (const auto& [tid, n] : thread_names) {
      if (n == name) return tid;
    }
    return -1;
  }
  /// The one "X" event called `name` on thread `tid`.
  const json& range_on(const std::string& name, double tid) const {
    const json* found = nullptr;
    for (const json* e : find("X", name)) {
      if ((*e)["tid"].number() == tid) {
        if (found != nullptr) throw std::runtime_error("two ranges " + name);
        found = e;
      }
    }
    if (found == nullptr) throw std::runtime_error("no range " + name);
    return *found;
  }
  /// Values of a counter track in time order.
  std::vector<double> counter(const std::string& track) const {
    std::vector<double> values;
    for (const json* e : find("C", track)) values.push_back((*e)["args"]["bytes"].number());
    return values;
  }
};

/// Whether `inner` lies within `outer` on the time axis (timestamps are exact: integer
/// nanoseconds written as microseconds with three decimals).
bool within(const json& inner, const json& outer) {
  const double a = outer["ts"].number(), b = a + outer["dur"].number();
  const double x = inner["ts"].number(), y = x + inner["dur"].number();
  return a <= x && y <= b + 1e-6;
}

std::vector<std::pair<std::string, std::string>> injected(const std::string& out) {
  return {{"NVTX_INJECTION64_PATH", PINPOOL_TRACE_LIB}, {"PINPOOL_TRACE_OUT", out}};
}

TEST(TraceTool, RecordsRangesMarksThreadNamesAndMemoryCounters) {
  temp_dir dir;
  const run_result r = run({PINPOOL_NVTX_DEMO}, dir.path(), injected("demo.json"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("pinpool-trace: "), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("-> demo.json"), std::string::npos) << r.stderr_text;
  ASSERT_TRUE(fs::exists(dir.path() / "demo.json"));
  const trace t(read_file(dir.path() / "demo.json"));

  EXPECT_EQ(t.process_name, "pinpool_nvtx_demo");
  const double main_tid = t.tid_of("demo-main");
  const double a = t.tid_of("worker-a");
  const double b = t.tid_of("worker-b");
  ASSERT_GE(main_tid, 0);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_NE(a, b);
  EXPECT_NE(a, main_tid);
  EXPECT_EQ(main_tid, r.pid);  // the main thread's id is the process id

  for (const double tid : {a, b}) {
    const json& outer = t.range_on("outer", tid);
    const json& inner = t.range_on("inner", tid);
    const json& plain = t.range_on("default-domain", tid);
    EXPECT_EQ(outer.get_string("cat"), "demo");
    EXPECT_EQ(plain.get_string("cat"), "nvtx");
    EXPECT_EQ(outer["args"].get_number("depth", -1), 0);
    EXPECT_EQ(inner["args"].get_number("depth", -1), 1);
    EXPECT_EQ(plain["args"].get_number("depth", -1), 0);  // depth counts within a domain
    EXPECT_EQ(outer["args"].get_string("kind"), "push_pop");
    EXPECT_EQ(outer["args"].get_string("category"), "io");
    EXPECT_EQ(outer["args"].get_string("color"), "#ff8800");
    EXPECT_EQ(outer["args"].get_number("payload"), 42);
    EXPECT_TRUE(within(inner, outer));
    EXPECT_TRUE(within(plain, outer));
    EXPECT_GE(plain["ts"].number(), inner["ts"].number() + inner["dur"].number());
    EXPECT_GE(inner["dur"].number(), 1000.0);  // the demo sleeps 2 ms inside
  }
  // worker-a ran (and ended) before worker-b started.
  EXPECT_LE(t.range_on("outer", a)["ts"].number() + t.range_on("outer", a)["dur"].number(),
            t.range_on("outer", b)["ts"].number());

  const json& handoff = t.range_on("handoff", main_tid);
  EXPECT_EQ(handoff["args"].get_string("kind"), "start_end");
  EXPECT_EQ(handoff["args"].get_number("end_tid"), a);
  EXPECT_TRUE(within(t.range_on("outer", a), handoff));

  const auto checkpoints = t.find("i", "checkpoint");
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ((*checkpoints[0])["tid"].number(), main_tid);
  EXPECT_EQ((*checkpoints[0]).get_string("cat"), "demo");
  EXPECT_EQ((*checkpoints[0])["args"].get_number("payload"), 7);
  EXPECT_EQ(t.find("i", "wide-mark-\xc3\xa9").size(), 1u);
  EXPECT_EQ(t.range_on("registered-range", main_tid).get_string("cat"), "demo");

  EXPECT_EQ(t.counter("demo: bytes in use"), (std::vector<double>{0, 4096, 12288, 8192, 9216, 0}));
  EXPECT_EQ(t.counter("demo: heap bytes"), (std::vector<double>{1 << 20, 0}));

  // Events come in time order after the metadata.
  double last = -1;
  for (const json& e : t.events()) {
    if (e.get_string("ph") == "M") continue;
    EXPECT_GE(e["ts"].number(), last);
    last = e["ts"].number();
  }
}

TEST(TraceTool, OutputPathPatternAndDefault) {
  temp_dir dir;
  run_result r = run({PINPOOL_NVTX_DEMO}, dir.path(), injected("out-%p.json"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_TRUE(fs::exists(dir.path() / ("out-" + std::to_string(r.pid) + ".json")));

  r = run({PINPOOL_NVTX_DEMO}, dir.path(), {{"NVTX_INJECTION64_PATH", PINPOOL_TRACE_LIB}});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_TRUE(fs::exists(dir.path() / ("pinpool-trace-" + std::to_string(r.pid) + ".json")));

  r = run({PINPOOL_NVTX_DEMO}, dir.path(),
          {{"NVTX_INJECTION64_PATH", PINPOOL_TRACE_LIB},
           {"PINPOOL_TRACE_OUT", "quiet.json"},
           {"PINPOOL_QUIET", "1"}});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_TRUE(fs::exists(dir.path() / "quiet.json"));
  EXPECT_EQ(r.stderr_text.find("pinpool-trace"), std::string::npos) << r.stderr_text;
}

TEST(TraceTool, UnwritablePathIsReportedAndTheProgramStillSucceeds) {
  temp_dir dir;
  const run_result r = run({PINPOOL_NVTX_DEMO}, dir.path(), injected("no-such-dir/trace.json"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.stderr_text.find("pinpool-trace: cannot write no-such-dir/trace.json"),
            std::string::npos)
      << r.stderr_text;
}

TEST(TraceTool, WithoutInjectionNothingIsWritten) {
  temp_dir dir;
  const run_result r = run({PINPOOL_NVTX_DEMO}, dir.path(), {{"PINPOOL_TRACE_OUT", "never.json"}});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_FALSE(fs::exists(dir.path() / "never.json"));
}

#ifdef PINPOOL_PIPELINE_EXE
// The sample pipeline on the CPU backend: its per-frame ranges on the threads that run them,
// its named threads, and the pools' bytes in use from the memory API.
TEST(TraceTool, TracesTheSamplePipeline) {
  temp_dir dir;
  const run_result r = run({PINPOOL_PIPELINE_EXE, "--backend", "cpu", "--frames", "6", "--width",
                            "64", "--height", "48", "--streams", "2", "--output", "out", "--quiet"},
                           dir.path(), injected("pipeline.json"));
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const trace t(read_file(dir.path() / "pipeline.json"));

  for (const char* step :
       {"decode", "copy in", "gray", "blur", "sobel", "copy out", "encode+write"}) {
    const auto ranges = t.find("X", step);
    EXPECT_EQ(ranges.size(), 6u) << step;
    for (const json* e : ranges) EXPECT_EQ(e->get_string("cat"), "pinpool") << step;
  }
  // Stage ranges run on CPU-stream worker threads, encoding on writer threads.
  const auto named = [&](const json& e, const std::string& prefix) {
    const auto it = t.thread_names.find(e["tid"].number());
    return it != t.thread_names.end() && it->second.rfind(prefix, 0) == 0;
  };
  for (const json* e : t.find("X", "blur")) EXPECT_TRUE(named(*e, "cpu-stream-"));
  for (const json* e : t.find("X", "encode+write")) EXPECT_TRUE(named(*e, "pinpool-writer-"));

  const std::vector<double> in_use = t.counter("pinpool: bytes in use");
  ASSERT_FALSE(in_use.empty());
  EXPECT_GT(*std::max_element(in_use.begin(), in_use.end()), 0);
  EXPECT_EQ(in_use.back(), 0);  // every chunk came back
  EXPECT_FALSE(t.find("X", "pinpool::grow").empty());
}
#endif

}  // namespace
