// pinpool-pipeline end to end on the CPU backend: outputs equal a sequential reference, stream
// count does not change results, bad inputs are reported per file, steady state allocates
// nothing, a device fault fails the run (naming the frame and step) instead of hanging it, and
// the CLI's exit codes.
#include "frame_plan.hpp"
#include "options.hpp"
#include "pipeline.hpp"

#include <pinpool/error.hpp>
#include <pinpool/io/image_io.hpp>
#include <pinpool/kernels/kernels.hpp>
#include <pinpool/pinpool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace pp = pinpool::pipeline;
using bytes = std::vector<std::uint8_t>;

struct temp_dir {
  fs::path path;
  temp_dir() {
    char tmpl[] = "/tmp/pinpool-pipeline-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() { fs::remove_all(path); }
};

bytes read_png(const fs::path& p, int* width = nullptr, int* height = nullptr) {
  const auto info = pinpool::io::probe(p.string(), 1u << 30);
  bytes out(static_cast<std::size_t>(info.width) * info.height * info.channels);
  pinpool::io::decode(p.string(), out.data(), out.size(), 1u << 30);
  if (width) *width = info.width;
  if (height) *height = info.height;
  return out;
}

// The default chain gray, blur(1.5), sobel applied to one frame by plain sequential calls.
bytes sequential_reference(const bytes& rgb, int w, int h, float sigma) {
  namespace k = pinpool::kernels;
  bytes grey(static_cast<std::size_t>(w) * h), blurred(grey.size()), edges(grey.size());
  std::vector<float> scratch(k::blur_scratch_bytes(w, h) / sizeof(float) + 1);
  const std::size_t pitch = static_cast<std::size_t>(w);
  k::gray_cpu({rgb.data(), w, h, 3, pitch * 3}, {grey.data(), w, h, 1, pitch});
  k::blur_cpu({grey.data(), w, h, 1, pitch}, {blurred.data(), w, h, 1, pitch}, sigma,
              scratch.data());
  k::sobel_cpu({blurred.data(), w, h, 1, pitch}, {edges.data(), w, h, 1, pitch});
  return edges;
}

pp::run_report run(const pp::options& o) {
  pp::prepare_output_dir(o.output_dir);
  return pp::run_pipeline(o, pinpool::make_backend(pinpool::backend_kind::cpu), pp::plan_frames(o),
                          {});
}

pp::options synthetic(const fs::path& out, int streams, int frames = 6) {
  pp::options o;
  o.output_dir = out.string();
  o.streams = streams;
  o.frames = frames;
  o.width = 320;
  o.height = 181;
  return o;
}

TEST(pipeline, outputs_equal_a_sequential_reference) {
  temp_dir dir;
  const auto o = synthetic(dir.path, 3);
  const auto report = run(o);
  EXPECT_EQ(report.frames_ok, 6u);
  EXPECT_EQ(report.frames_failed, 0u);
  for (int f = 0; f < 6; ++f) {
    bytes rgb(static_cast<std::size_t>(o.width) * o.height * 3);
    pinpool::io::generate_test_pattern(rgb.data(), o.width, o.height, f);
    char name[32];
    std::snprintf(name, sizeof name, "frame_%04d.png", f);
    int w = 0, h = 0;
    const bytes got = read_png(dir.path / name, &w, &h);
    ASSERT_EQ(w, o.width);
    ASSERT_EQ(h, o.height);
    EXPECT_EQ(got, sequential_reference(rgb, o.width, o.height, o.sigma)) << name;
  }
}

// --format and --png-level change the file, never the pixels: PGM and every PNG level decode
// to the sequential reference exactly, JPEG within a tolerance; host thread counts change
// nothing either.
TEST(pipeline, output_formats_and_png_levels_hold_the_same_pixels) {
  temp_dir dir;
  struct variant {
    const char* name;
    pinpool::io::format fmt;
    int png_level;
    int threads;
    const char* ext;
  };
  for (const variant& v : {variant{"png0", pinpool::io::format::png, 0, 1, ".png"},
                           variant{"png9", pinpool::io::format::png, 9, 3, ".png"},
                           variant{"pgm", pinpool::io::format::pnm, 1, 2, ".pgm"},
                           variant{"jpeg", pinpool::io::format::jpeg, 1, 0, ".jpg"}}) {
    auto o = synthetic(dir.path / v.name, 2, 3);
    o.output_format = v.fmt;
    o.write.png_level = v.png_level;
    o.threads = v.threads;
    const auto report = run(o);
    ASSERT_EQ(report.frames_ok, 3u) << v.name;
    for (int f = 0; f < 3; ++f) {
      bytes rgb(static_cast<std::size_t>(o.width) * o.height * 3);
      pinpool::io::generate_test_pattern(rgb.data(), o.width, o.height, f);
      const bytes want = sequential_reference(rgb, o.width, o.height, o.sigma);
      char name[32];
      std::snprintf(name, sizeof name, "frame_%04d%s", f, v.ext);
      const bytes got = read_png(dir.path / v.name / name);
      ASSERT_EQ(got.size(), want.size()) << v.name << " " << name;
      if (v.fmt != pinpool::io::format::jpeg) {
        EXPECT_EQ(got, want) << v.name << " " << name;
        continue;
      }
      double sum = 0;
      for (std::size_t i = 0; i < got.size(); ++i) sum += std::abs(int{got[i]} - int{want[i]});
      EXPECT_LT(sum / static_cast<double>(got.size()), 6.0) << name;  // edges: JPEG's worst case
    }
  }
}

TEST(pipeline, one_and_four_streams_give_identical_outputs) {
  temp_dir one, four;
  auto a = synthetic(one.path, 1, 9);
  auto b = synthetic(four.path, 4, 9);
  a.stages = b.stages = {pinpool::kernels::stage::gray, pinpool::kernels::stage::equalize,
                         pinpool::kernels::stage::blur, pinpool::kernels::stage::sobel};
  ASSERT_EQ(run(a).frames_ok, 9u);
  ASSERT_EQ(run(b).frames_ok, 9u);
  for (const auto& entry : fs::directory_iterator(one.path)) {
    if (entry.path().extension() != ".png") continue;
    EXPECT_EQ(read_png(entry.path()), read_png(four.path / entry.path().filename()))
        << entry.path().filename();
  }
}

TEST(pipeline, steady_state_makes_no_backend_allocation) {
  temp_dir dir;
  const auto report = run(synthetic(dir.path, 3, 24));
  EXPECT_EQ(report.frames_ok, 24u);
  EXPECT_EQ(report.steady_state_backend_allocations, 0u);
  ASSERT_EQ(report.pools.size(), 2u);
  for (const auto& p : report.pools) {
    EXPECT_GT(p.hits, 0u) << p.name;
    EXPECT_EQ(p.bytes_in_use, 0u) << p.name;
  }
  const std::string js = report.to_json();
  for (const char* key :
       {"\"backend\":\"cpu\"", "\"frames_ok\":24", "\"frames_failed\":0", "\"failures\":[]",
        "\"pool\":[{", "\"stages\":[{", "\"steady_state_backend_allocations\":0",
        "\"seconds\":", "\"frames_per_second\":"}) {
    EXPECT_NE(js.find(key), std::string::npos) << key;
  }
}

TEST(pipeline, per_stage_timings_keep_their_names_order_and_counts) {
  temp_dir dir;
  auto o = synthetic(dir.path, 2, 5);
  o.stages = {pinpool::kernels::stage::gray, pinpool::kernels::stage::equalize,
              pinpool::kernels::stage::sobel};
  const auto report = run(o);
  ASSERT_EQ(report.frames_ok, 5u);
  std::vector<std::string> names;
  for (const auto& st : report.stages) {
    names.push_back(st.name);
    EXPECT_EQ(st.frames, 5u) << st.name;
    EXPECT_GE(st.seconds, 0.0) << st.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"decode", "copy in", "gray", "equalize", "sobel",
                                             "copy out", "encode+write", "wait: free stream",
                                             "wait: host (decode)", "wait: host (encode)"}));
  EXPECT_EQ(report.host_threads,
            static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const std::string js = report.to_json();
  EXPECT_NE(js.find("\"stages\":[{\"name\":\"decode\",\"seconds\":"), std::string::npos) << js;
}

// ---- a device fault ---------------------------------------------------------------------------

/// The CPU backend with a device fault as CUDA has one: when a stream reaches the copy chosen to
/// fault, that copy runs for `fault_after` and then the "context" has an error. From then on
/// every call fails (sticky, as cudaErrorIllegalAddress), and host functions, those queued
/// before and those enqueued after, are never called (CUDA does not call them once the context
/// has an error). The CPU backend alone keeps calling them, so it cannot show a pipeline whose
/// liveness depends on one.
class device_fault_backend final : public pinpool::backend {
 public:
  device_fault_backend(unsigned faulting_copy, std::chrono::milliseconds fault_after)
      : inner_(pinpool::make_backend(pinpool::backend_kind::cpu)),
        faulting_copy_(faulting_copy),
        fault_after_(fault_after) {}

  bool faulted() const { return faulted_.load(); }
  unsigned dropped_host_functions() const { return dropped_.load(); }

  pinpool::backend_kind kind() const noexcept override { return inner_->kind(); }
  const char* name() const noexcept override { return "cpu"; }
  int device_count() const noexcept override { return inner_->device_count(); }

  pinpool::slab allocate(const pinpool::slab_request& r) override {
    check("allocate");
    return inner_->allocate(r);
  }
  void deallocate(const pinpool::slab& s) noexcept override { inner_->deallocate(s); }
  void* create_native_stream(int device) override {
    check("create_stream");
    return inner_->create_native_stream(device);
  }
  void destroy_native_stream(void* handle, int device) noexcept override {
    inner_->destroy_native_stream(handle, device);
  }
  void memcpy_async(pinpool::stream_ref s, void* dst, const void* src, std::size_t n) override {
    check("memcpy_async");
    if (++copies_ == faulting_copy_) {  // runs a while, then breaks the context
      inner_->launch_host_func(inner(s), [this] {
        std::this_thread::sleep_for(fault_after_);
        faulted_ = true;
      });
      return;
    }
    inner_->memcpy_async(inner(s), dst, src, n);
  }
  void launch_host_func(pinpool::stream_ref s, std::function<void()> fn) override {
    check("launch_host_func");
    inner_->launch_host_func(inner(s), [this, fn = std::move(fn)] {
      if (faulted_) {
        ++dropped_;
        return;
      }
      fn();
    });
  }
  void synchronize(pinpool::stream_ref s) override {
    check("synchronize");
    inner_->synchronize(inner(s));
    check("synchronize");
  }
  std::uint64_t stream_id(void* handle, int device) noexcept override {
    return inner_->stream_id(handle, device);
  }
  int stream_device(void* handle) override { return inner_->stream_device(handle); }
  void* create_event(int device) override {
    check("create_event");
    return inner_->create_event(device);
  }
  void destroy_event(void* e, int device) noexcept override { inner_->destroy_event(e, device); }
  void record_event(void* e, int device, pinpool::stream_ref s) override {
    check("record_event");
    inner_->record_event(e, device, inner(s));
  }
  bool event_done(void* e, int device) override {
    check("event_done");
    return inner_->event_done(e, device);
  }
  void stream_wait_event(pinpool::stream_ref s, void* e, int device) override {
    check("stream_wait_event");
    inner_->stream_wait_event(inner(s), e, device);
  }
  void synchronize_event(void* e, int device) override {
    check("synchronize_event");
    inner_->synchronize_event(e, device);
    check("synchronize_event");
  }

 private:
  pinpool::stream_ref inner(const pinpool::stream_ref& s) const {
    return {*inner_, s.native_handle(), s.device(), s.id()};
  }
  void check(const char* call) const {
    if (faulted_) {
      throw pinpool::backend_error(std::string("injected device fault (sticky) in ") + call);
    }
  }

  std::shared_ptr<pinpool::backend> inner_;
  const unsigned faulting_copy_;
  const std::chrono::milliseconds fault_after_;
  std::atomic<unsigned> copies_{0};
  std::atomic<bool> faulted_{false};
  std::atomic<unsigned> dropped_{0};
};

struct fault_outcome {
  std::string error;  // what() of the pipeline_failure; empty if none was thrown
  std::string other;  // any other exception, or "returned a report"
  double seconds = 0;
};

/// Runs the pipeline on a thread and waits at most 60 s for it. A run that does not end is a
/// hang: the test fails and the process exits at once (its threads cannot be stopped).
fault_outcome run_with_fault(const pp::options& o, std::shared_ptr<device_fault_backend> be) {
  auto plan = std::make_shared<std::vector<pp::frame_source>>(pp::plan_frames(o));
  auto opts = std::make_shared<pp::options>(o);
  std::promise<fault_outcome> promise;
  std::future<fault_outcome> future = promise.get_future();
  std::thread([opts, plan, be, p = std::move(promise)]() mutable {
    fault_outcome r;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      pp::run_pipeline(*opts, be, *plan, {});
      r.other = "returned a report";
    } catch (const pp::pipeline_failure& e) {
      r.error = e.what();
    } catch (const std::exception& e) {
      r.other = e.what();
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    p.set_value(std::move(r));
  }).detach();
  if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "the pipeline hung after a device fault (no result in 60 s)";
    std::fprintf(stderr, "FAILED: the pipeline hung after a device fault; exiting\n");
    std::fflush(nullptr);
    std::_Exit(1);
  }
  return future.get();
}

// One stream: frames 0 and 1 are written; the copy in of frame 2 (the 5th copy) faults while
// frame 2's hand-off and the wait for a free stream are already queued behind it.
TEST(pipeline_fault, a_device_fault_fails_the_run_naming_the_frame_and_step) {
  temp_dir dir;
  auto o = synthetic(dir.path, 1, 6);
  auto be = std::make_shared<device_fault_backend>(5, std::chrono::milliseconds(200));
  const fault_outcome r = run_with_fault(o, be);
  EXPECT_TRUE(be->faulted());
  EXPECT_GT(be->dropped_host_functions(), 0u) << "the fault dropped no host function";
  EXPECT_EQ(r.other, "");
  EXPECT_NE(r.error.find("frame 'synthetic frame 2' on stream 0 failed in step 'copy in'"),
            std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("injected device fault"), std::string::npos) << r.error;
  EXPECT_LT(r.seconds, 30.0);
  EXPECT_TRUE(fs::exists(dir.path / "frame_0000.png"));
  EXPECT_TRUE(fs::exists(dir.path / "frame_0001.png"));
  EXPECT_FALSE(fs::exists(dir.path / "frame_0002.png"));
}

// Three streams, a fault in frame 4's copy out (the 10th copy) while frames are in flight on
// every stream: the run ends with one failure naming a frame (whichever stream noticed first),
// and the frames after the fault are not written.
TEST(pipeline_fault, a_device_fault_with_frames_on_every_stream_ends_the_run) {
  temp_dir dir;
  auto o = synthetic(dir.path, 3, 60);
  o.stages = {pinpool::kernels::stage::gray, pinpool::kernels::stage::blur};
  o.threads = 1;  // frames enqueued in input order: the 10th copy is frame 4's copy out
  auto be = std::make_shared<device_fault_backend>(10, std::chrono::milliseconds(0));
  const fault_outcome r = run_with_fault(o, be);
  EXPECT_TRUE(be->faulted());
  EXPECT_EQ(r.other, "");
  EXPECT_NE(r.error.find("frame 'synthetic frame "), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("injected device fault"), std::string::npos) << r.error;
  EXPECT_LT(r.seconds, 30.0);
  EXPECT_FALSE(fs::exists(dir.path / "frame_0004.png"));
  EXPECT_FALSE(fs::exists(dir.path / "frame_0059.png"));
}

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream(p, std::ios::binary) << content;
}

// A directory of good and bad files: each bad one is reported with its reason, gets no output,
// and every good one is still processed.
TEST(pipeline, bad_inputs_are_reported_per_file_and_the_rest_is_processed) {
  temp_dir in, out;
  bytes grey(40 * 30, 99);
  pinpool::io::write_png((in.path / "good1.png").string(), grey.data(), 40, 30, 1, 40);
  bytes rgb(17 * 9 * 3, 7);
  pinpool::io::write_png((in.path / "good2.png").string(), rgb.data(), 17, 9, 3, 17 * 3);
  write_file(in.path / "empty.png", "");
  write_file(in.path / "text.jpg", "this is not an image at all");
  write_file(in.path / "anim.pgm", "GIF89a\x01\x00\x01\x00");
  std::string png;
  {
    std::ifstream f(in.path / "good1.png", std::ios::binary);
    png.assign(std::istreambuf_iterator<char>(f), {});
  }
  write_file(in.path / "truncated.png", png.substr(0, png.size() / 2));
  // A decompression-bomb header: a valid PNG of 40x30 whose IHDR claims 100000x100000.
  std::string bomb = png;
  const char huge[8] = {0, 1, static_cast<char>(0x86), static_cast<char>(0xa0),
                        0, 1, static_cast<char>(0x86), static_cast<char>(0xa0)};
  bomb.replace(16, 8, huge, 8);
  write_file(in.path / "bomb.png", bomb);

  pp::options o;
  o.inputs = {in.path.string(), (in.path / "missing.png").string()};
  o.output_dir = out.path.string();
  o.max_pixels = 1'000'000;
  const auto report = run(o);
  EXPECT_EQ(report.frames_ok, 2u);
  EXPECT_EQ(report.frames_failed, 6u);
  auto reason = [&](const std::string& file) {
    for (const auto& f : report.failures) {
      if (fs::path(f.input).filename() == file) return f.error;
    }
    return std::string("<not reported>");
  };
  EXPECT_NE(reason("empty.png").find("empty"), std::string::npos) << reason("empty.png");
  EXPECT_NE(reason("text.jpg").find("not an image"), std::string::npos) << reason("text.jpg");
  EXPECT_NE(reason("anim.pgm").find("unsupported"), std::string::npos) << reason("anim.pgm");
  EXPECT_NE(reason("truncated.png").find("truncated"), std::string::npos)
      << reason("truncated.png");
  EXPECT_NE(reason("bomb.png").find("max-pixels"), std::string::npos) << reason("bomb.png");
  EXPECT_NE(reason("missing.png").find("cannot open"), std::string::npos) << reason("missing.png");
  EXPECT_TRUE(fs::exists(out.path / "good1.png"));
  EXPECT_TRUE(fs::exists(out.path / "good2.png"));
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(out.path)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 2u) << "no output (and no partial file) for a failed input";
  EXPECT_EQ(read_png(out.path / "good1.png").size(), 40u * 30u);
}

// ---- the CLI ------------------------------------------------------------------------------

struct cli_result {
  int status;
  std::string output;  // stdout and stderr
};

cli_result cli(const std::string& args) {
  const std::string cmd = std::string(PINPOOL_PIPELINE_EXE) + " " + args + " 2>&1";
  cli_result r{-1, {}};
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

TEST(pipeline_cli, help_usage_errors_and_exit_codes) {
  temp_dir dir;
  const auto help = cli("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("--stages"), std::string::npos);
  const auto unknown = cli("--frobnicate");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.output.find("unknown flag '--frobnicate'"), std::string::npos);
  EXPECT_EQ(cli("--stages gray,sharpen").status, 2);
  EXPECT_EQ(cli("--sigma -1").status, 2);
  EXPECT_EQ(cli("--streams 0").status, 2);
  write_file(dir.path / "file", "x");
  const auto unwritable = cli("--output " + (dir.path / "file" / "sub").string());
  EXPECT_EQ(unwritable.status, 2) << unwritable.output;
  EXPECT_NE(unwritable.output.find("--output"), std::string::npos);

  const auto out = dir.path / "out";
  const auto ok = cli("--quiet --frames 3 --width 64 --height 48 --backend cpu --output " +
                      out.string() + " --report " + (dir.path / "r.json").string());
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_TRUE(fs::exists(out / "frame_0002.png"));
  EXPECT_TRUE(fs::exists(dir.path / "r.json"));

  const auto bad = cli("--quiet --backend cpu --output " + out.string() + " --input " +
                       (dir.path / "nope.png").string());
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("nope.png: cannot open"), std::string::npos) << bad.output;
}

TEST(pipeline_cli, output_flags_are_checked_and_named_in_their_errors) {
  for (const auto& [args, message] :
       {std::pair{"--png-level 10", "--png-level: expected an integer in [0, 9], got '10'"},
        std::pair{"--png-level -1", "--png-level: expected an integer in [0, 9], got '-1'"},
        std::pair{"--png-level fast", "--png-level: expected an integer in [0, 9], got 'fast'"},
        std::pair{"--format gif", "--format: expected png, jpeg (jpg) or pnm (pgm), got 'gif'"},
        std::pair{"--jpeg-quality 0", "--jpeg-quality: expected an integer in [1, 100], got '0'"},
        std::pair{"--threads -1", "--threads: expected an integer in [0, 256], got '-1'"},
        std::pair{"--png-level", "--png-level: missing value"}}) {
    const auto r = cli(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << ": " << r.output;
  }
  const auto help = cli("--help");
  for (const char* flag : {"--png-level N", "--format F", "--jpeg-quality Q", "--threads N"}) {
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  }
  for (const auto& [args, file] :
       {std::pair{"--format jpeg", "frame_0001.jpg"}, std::pair{"--format jpg", "frame_0001.jpg"},
        std::pair{"--format pnm", "frame_0001.pgm"}, std::pair{"--format pgm", "frame_0001.pgm"},
        std::pair{"--format png --png-level 0", "frame_0001.png"}}) {
    temp_dir dir;
    const auto r = cli(std::string("--quiet --backend cpu --frames 2 --width 40 --height 30 ") +
                       args + " --output " + dir.path.string());
    EXPECT_EQ(r.status, 0) << args << ": " << r.output;
    EXPECT_EQ(read_png(dir.path / file).size(), 40u * 30u) << args;
  }
}

// The summary shows where the time goes per frame: decode, the stream steps, encode, the waits,
// and how busy the host threads and the streams were.
TEST(pipeline_cli, the_summary_breaks_the_time_down_per_frame) {
  temp_dir dir;
  const auto r = cli("--backend cpu --frames 4 --width 64 --height 48 --threads 2 --output " +
                     dir.path.string());
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* part :
       {"2 host thread(s)", "where the time goes", "ms/frame", "decode", "copy in", "gray", "blur",
        "sobel", "copy out", "encode+write", "wait: free stream", "wait: host (decode)",
        "wait: host (encode)", "host threads busy", "streams busy", " bound"}) {
    EXPECT_NE(r.output.find(part), std::string::npos) << part << " not in:\n" << r.output;
  }
}

// A directory with no image file is a usage error naming the directory and what was looked for,
// found before any output is written.
TEST(pipeline_cli, an_input_directory_without_images_is_a_usage_error) {
  temp_dir dir;
  const fs::path in = dir.path / "holiday";
  fs::create_directories(in / "nested");
  write_file(in / "notes.txt", "not an image");
  write_file(in / "nested" / "deep.png", "a file in a subdirectory is not looked at");
  const fs::path out = dir.path / "out";
  const auto r = cli("--quiet --backend cpu --input " + in.string() + " --output " + out.string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--input " + in.string() + ": no image files"), std::string::npos)
      << r.output;
  for (const char* ext : {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pnm"}) {
    EXPECT_NE(r.output.find(ext), std::string::npos) << ext << " not named: " << r.output;
  }
  EXPECT_FALSE(fs::exists(out)) << "nothing is created for a usage error";

  pp::options o;
  o.inputs = {in.string()};
  EXPECT_THROW(pp::plan_frames(o), pp::usage_error);
}

// An unwritable --report is found before the first frame, with the system's reason: no frame
// is processed, no output written.
TEST(pipeline_cli, an_unwritable_report_path_is_a_usage_error_before_any_frame) {
  temp_dir dir;
  const fs::path out = dir.path / "out";
  const std::string frames = "--quiet --frames 2 --width 32 --height 16 --backend cpu --output " +
                             out.string() + " --report ";
  const fs::path missing_dir = dir.path / "no-such-dir" / "r.json";
  const auto r = cli(frames + missing_dir.string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--report " + missing_dir.string() +
                          ": cannot write the report: No such file or directory"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(out / "frame_0000.png")) << "a frame was processed first";

  const auto is_dir = cli(frames + dir.path.string());
  EXPECT_EQ(is_dir.status, 2) << is_dir.output;
  EXPECT_NE(is_dir.output.find(": cannot write the report: Is a directory"), std::string::npos)
      << is_dir.output;
  EXPECT_FALSE(fs::exists(out / "frame_0000.png"));

  const fs::path good = dir.path / "r.json";
  const auto ok = cli(frames + good.string());
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_TRUE(fs::exists(good));
  EXPECT_FALSE(fs::exists(dir.path / "r.json.tmp")) << "the check left its temporary";
}

// Inputs with the same base name: each gets its own output, the report maps every input to the
// file written for it, and stderr notes the renamed ones.
TEST(pipeline_cli, inputs_with_the_same_name_are_mapped_to_their_outputs_in_the_report) {
  temp_dir dir;
  const fs::path a = dir.path / "a", b = dir.path / "b", out = dir.path / "out";
  fs::create_directories(a);
  fs::create_directories(b);
  const bytes pixels(3 * 8 * 5, 120);
  pinpool::io::write_png((a / "x.png").string(), pixels.data(), 8, 4, 3, 3 * 8);  // 8x4
  pinpool::io::write_png((b / "x.png").string(), pixels.data(), 5, 8, 3, 3 * 5);  // 5x8
  const fs::path report_path = dir.path / "r.json";
  const auto r =
      cli("--backend cpu --stages gray --input " + a.string() + " --input " + b.string() +
          " --output " + out.string() + " --report " + report_path.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("note: " + (b / "x.png").string() + " is written as " +
                          (out / "x_2.png").string()),
            std::string::npos)
      << r.output;
  std::string json;
  {
    std::ifstream f(report_path, std::ios::binary);
    json.assign(std::istreambuf_iterator<char>(f), {});
  }
  for (const auto& [input, output] :
       {std::pair{a / "x.png", out / "x.png"}, std::pair{b / "x.png", out / "x_2.png"}}) {
    const std::string entry =
        "{\"input\":\"" + input.string() + "\",\"output\":\"" + output.string() + "\"}";
    EXPECT_NE(json.find(entry), std::string::npos) << entry << " not in " << json;
  }
  // The mapping is right: x_2.png is b/x.png's (5x8) frame.
  int w = 0, h = 0;
  read_png(out / "x.png", &w, &h);
  EXPECT_EQ(std::pair(w, h), std::pair(8, 4));
  read_png(out / "x_2.png", &w, &h);
  EXPECT_EQ(std::pair(w, h), std::pair(5, 8));
}

// A full output device (RLIMIT_FSIZE, SIGXFSZ ignored): the frames that do not fit fail with
// a per-file error and leave no file or temporary behind; the ones that fit are written.
TEST(pipeline_cli, a_full_output_device_fails_per_file_and_leaves_no_partial_file) {
  temp_dir in, out;
  std::uint32_t seed = 12345;
  for (int i = 0; i < 3; ++i) {
    bytes noise(400 * 400);
    for (auto& v : noise)
      v = static_cast<std::uint8_t>((seed = seed * 1664525u + 1013904223u) >> 24);
    pinpool::io::write_png((in.path / ("big" + std::to_string(i) + ".png")).string(), noise.data(),
                           400, 400, 1, 400);
    bytes flat(16 * 16, 50);
    pinpool::io::write_png((in.path / ("small" + std::to_string(i) + ".png")).string(), flat.data(),
                           16, 16, 1, 16);
  }
  const std::string cmd = "sh -c \"trap '' XFSZ; ulimit -f 64; exec " +
                          std::string(PINPOOL_PIPELINE_EXE) + " --quiet --backend cpu --input " +
                          in.path.string() + " --output " + out.path.string() + "\" 2>&1";
  std::string output;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  const int raw = pclose(p);
  ASSERT_TRUE(WIFEXITED(raw)) << output;
  EXPECT_EQ(WEXITSTATUS(raw), 1) << output;
  std::vector<std::string> written;
  for (const auto& e : fs::directory_iterator(out.path)) written.push_back(e.path().filename());
  std::sort(written.begin(), written.end());
  EXPECT_EQ(written, (std::vector<std::string>{"small0.png", "small1.png", "small2.png"}))
      << output;
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(output.find("big" + std::to_string(i) + ".png: cannot write"), std::string::npos)
        << output;
  }
}

}  // namespace
