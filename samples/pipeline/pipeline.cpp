#include "pipeline.hpp"
#include "stage_launcher.hpp"

#include <pinpool/detail/nvtx.hpp>
#include <pinpool/io/image_io.hpp>
#include <pinpool/pool.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace pinpool::pipeline {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// One frame between submission and its write. Owned by the pipeline from submission; the
/// writer thread that writes it deletes it.
struct frame_job {
  const frame_source* source = nullptr;
  int slot = 0;  // the stream it runs on
  int width = 0;
  int height = 0;
  int channels = 0;
  buffer out;                                  // pinned: filled by the copy back
  std::vector<std::string> step_names;         // copy in, stages..., copy out
  std::vector<clock_type::time_point> stamps;  // stamps[i]..stamps[i+1] = step i; sized up front
  std::size_t stamped = 0;                     // stamps enqueued so far
  std::uint64_t nvtx_step = 0;                 // the NVTX range of the step under way
};

class frame_pipeline {
 public:
  frame_pipeline(const options& o, std::shared_ptr<backend> be, const progress_fn& progress,
                 std::size_t total);
  ~frame_pipeline();
  void process(const frame_source& src);
  run_report finish(double seconds);

 private:
  int wait_free_slot();
  void free_slot(int slot);
  device_image read_frame(const frame_source& src, stream_ref s, frame_job& job);
  device_image run_stages(device_image cur, stream_ref s, frame_job& job);
  void stamp(stream_ref s, frame_job* job, const char* next_step);
  void writer_loop();
  void write_frame(frame_job& job);
  void add_failure(const std::string& input, const std::string& error);
  std::uint64_t backend_allocations() const;

  const options& opt_;
  std::shared_ptr<backend> backend_;
  pool pinned_;
  pool device_;
  stage_launcher launcher_;
  std::vector<stream> streams_;
  progress_fn progress_;
  std::size_t total_;

  std::mutex mutex_;  // guards everything below
  std::condition_variable slot_cv_;
  std::condition_variable ready_cv_;
  std::vector<bool> slot_busy_;
  std::deque<frame_job*> ready_;  // announced by host functions, waiting for a writer
  bool stopping_ = false;
  std::size_t submitted_ = 0;
  std::size_t done_ = 0;
  std::uint64_t warm_allocations_ = 0;
  run_report report_;
  std::map<std::string, stage_timing> timings_;
  std::vector<std::thread> writers_;
};

// Per-frame allocation (the benchmarks' baseline): a slab per buffer, no thread caches, and
// frame_pipeline::process trims after each frame, so every buffer is a backend allocation.
pool_options pool_opts(memory_kind kind, const char* name, bool per_frame_allocation) {
  pool_options o;
  o.kind = kind;
  o.name = name;
  if (per_frame_allocation) {
    o.slab_bytes = o.alignment;
    o.thread_cache = false;
  }
  return o;
}

frame_pipeline::frame_pipeline(const options& o, std::shared_ptr<backend> be,
                               const progress_fn& progress, std::size_t total)
    : opt_(o),
      backend_(std::move(be)),
      pinned_(backend_, pool_opts(memory_kind::pinned_host, "pinned", o.per_frame_allocation)),
      device_(backend_, pool_opts(memory_kind::device, "device", o.per_frame_allocation)),
      launcher_(make_stage_launcher(*backend_, device_)),
      progress_(progress),
      total_(total),
      slot_busy_(static_cast<std::size_t>(o.streams), false) {
  for (int i = 0; i < o.streams; ++i) streams_.push_back(backend_->create_stream());
  const unsigned writers = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < writers; ++i) {
    writers_.emplace_back([this, i] {
      detail::nvtx_name_this_thread(("pinpool-writer-" + std::to_string(i)).c_str());
      writer_loop();
    });
  }
  report_.backend = backend_->name();
  report_.streams = o.streams;
  for (kernels::stage st : o.stages) report_.stage_chain.emplace_back(kernels::to_string(st));
}

frame_pipeline::~frame_pipeline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_cv_.notify_all();
  for (std::thread& t : writers_) t.join();
}

// Host wait: a stream whose previous frame has been written (one frame in flight per stream).
int frame_pipeline::wait_free_slot() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    for (std::size_t i = 0; i < slot_busy_.size(); ++i) {
      if (!slot_busy_[i]) {
        slot_busy_[i] = true;
        return static_cast<int>(i);
      }
    }
    slot_cv_.wait(lock);
  }
}

void frame_pipeline::free_slot(int slot) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    slot_busy_[static_cast<std::size_t>(slot)] = false;
  }
  slot_cv_.notify_all();
}

// Enqueues a host function marking a step boundary on `s`: a timestamp (the vector never grows
// while stream work may write it), the end of the previous step's NVTX range and the start of
// `next_step`'s (start/end ranges: CUDA may run host functions on any thread).
void frame_pipeline::stamp(stream_ref s, frame_job* job, const char* next_step) {
  const std::size_t i = job->stamped++;
  s.launch_host_func([job, i, next_step] {
    job->stamps[i] = clock_type::now();
    if (i > 0) detail::nvtx_end(job->nvtx_step);
    if (next_step != nullptr) job->nvtx_step = detail::nvtx_start(next_step);
  });
}

// Decodes (or generates) into a pinned chunk the host fills, then copies it to the device on
// `s`; the pinned chunk is released on `s` behind the copy.
device_image frame_pipeline::read_frame(const frame_source& src, stream_ref s, frame_job& job) {
  const auto t0 = clock_type::now();
  std::optional<detail::nvtx_range> decoding(std::in_place, "decode");
  io::image_info info{opt_.width, opt_.height, 3, io::format::pnm};
  if (src.synthetic < 0) info = io::probe(src.input, opt_.max_pixels);
  device_image img{{}, info.width, info.height, info.channels};
  buffer staging = pinned_.acquire(img.bytes());
  if (src.synthetic < 0) {
    io::decode(src.input, static_cast<std::uint8_t*>(staging.data()), img.bytes(), opt_.max_pixels);
  } else {
    io::generate_test_pattern(static_cast<std::uint8_t*>(staging.data()), img.width, img.height,
                              src.synthetic);
  }
  decoding.reset();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    timings_["decode"].seconds += seconds_between(t0, clock_type::now());
    ++timings_["decode"].frames;
  }
  stamp(s, &job, "copy in");
  img.mem = device_.acquire(img.bytes(), s);
  s.memcpy_async(img.mem.data(), staging.data(), img.bytes());
  staging.set_stream(s);
  job.step_names.emplace_back("copy in");
  return img;
}

// Each stage writes a new 1-channel image; the previous one is released on `s` (same-stream
// reuse makes the next frame's chunks free of waits). Colour input is converted to grey first.
device_image frame_pipeline::run_stages(device_image cur, stream_ref s, frame_job& job) {
  const kernels::stage_params params{opt_.sigma};
  auto apply = [&](kernels::stage st) {
    device_image next{device_.acquire(cur.bytes() / cur.channels, s), cur.width, cur.height, 1};
    launcher_.launch(st, s, cur, next, params);
    cur = std::move(next);
  };
  for (kernels::stage st : opt_.stages) {
    const kernels::stage_info& row = kernels::stage_info_of(st);
    stamp(s, &job, row.name);
    if (row.needs_grey && cur.channels != 1) apply(kernels::stage::gray);
    apply(st);
    job.step_names.emplace_back(row.name);
  }
  return cur;
}

void frame_pipeline::process(const frame_source& src) {
  const int slot = wait_free_slot();
  stream_ref s = streams_[static_cast<std::size_t>(slot)];
  auto job = std::make_unique<frame_job>();
  job->source = &src;
  job->slot = slot;
  job->stamps.resize(opt_.stages.size() + 3);
  try {
    device_image result = run_stages(read_frame(src, s, *job), s, *job);
    job->width = result.width;
    job->height = result.height;
    job->channels = result.channels;
    stamp(s, job.get(), "copy out");
    job->out = pinned_.acquire(result.bytes(), s);
    s.memcpy_async(job->out.data(), result.mem.data(), result.bytes());
    job->step_names.emplace_back("copy out");
    stamp(s, job.get(), nullptr);
  } catch (const std::exception& e) {
    add_failure(src.input, e.what());
    try {
      s.synchronize();  // queued timestamps still point at the job
    } catch (const std::exception&) {
    }
    free_slot(slot);
    return;
  }
  frame_job* raw = job.release();
  s.launch_host_func([this, raw] {  // no CUDA call here: hand the frame to a writer thread
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.push_back(raw);
    }
    ready_cv_.notify_one();
  });
  if (opt_.per_frame_allocation) {  // the baseline: wait for the frame, free its buffers
    s.synchronize();
    pinned_.trim();
    device_.trim();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (++submitted_ == streams_.size()) warm_allocations_ = backend_allocations();
}

void frame_pipeline::writer_loop() {
  for (;;) {
    frame_job* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (ready_.empty()) return;
      job = ready_.front();
      ready_.pop_front();
    }
    write_frame(*job);
    const int slot = job->slot;
    delete job;  // releases the output chunk on its stream
    free_slot(slot);
  }
}

// Runs on a writer thread once the frame's stream work has completed.
void frame_pipeline::write_frame(frame_job& job) {
  const auto t0 = clock_type::now();
  std::optional<detail::nvtx_range> writing(std::in_place, "encode+write");
  std::string error;
  try {
    if (opt_.write_outputs) {
      io::write_png(job.source->output, static_cast<const std::uint8_t*>(job.out.data()), job.width,
                    job.height, job.channels, static_cast<std::size_t>(job.width) * job.channels);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  writing.reset();
  const double encode = seconds_between(t0, clock_type::now());
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t i = 0; i + 1 < job.stamped; ++i) {
    stage_timing& t = timings_[job.step_names[i]];
    t.seconds += seconds_between(job.stamps[i], job.stamps[i + 1]);
    ++t.frames;
  }
  timings_["encode+write"].seconds += encode;
  ++timings_["encode+write"].frames;
  if (error.empty()) {
    ++report_.frames_ok;
  } else {
    report_.failures.push_back({job.source->input, error});
    ++report_.frames_failed;
  }
  if (progress_) progress_(++done_, total_);
}

void frame_pipeline::add_failure(const std::string& input, const std::string& error) {
  std::lock_guard<std::mutex> lock(mutex_);
  report_.failures.push_back({input, error});
  ++report_.frames_failed;
  if (progress_) progress_(++done_, total_);
}

std::uint64_t frame_pipeline::backend_allocations() const {
  return pinned_.stats().backend_allocations + device_.stats().backend_allocations;
}

run_report frame_pipeline::finish(double seconds) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    slot_cv_.wait(lock, [&] {
      return std::none_of(slot_busy_.begin(), slot_busy_.end(), [](bool b) { return b; });
    });
  }
  for (stream& s : streams_) s.synchronize();
  std::lock_guard<std::mutex> lock(mutex_);
  report_.seconds = seconds;
  report_.pools = {pinned_.stats(), device_.stats()};
  if (submitted_ >= streams_.size()) {
    report_.steady_state_backend_allocations = backend_allocations() - warm_allocations_;
  }
  std::vector<std::string> order{"decode", "copy in"};
  for (const std::string& s : report_.stage_chain) order.push_back(s);
  order.insert(order.end(), {"copy out", "encode+write"});
  for (const std::string& name : order) {
    auto it = timings_.find(name);
    if (it != timings_.end())
      report_.stages.push_back({name, it->second.seconds, it->second.frames});
  }
  return report_;
}

}  // namespace

run_report run_pipeline(const options& o, std::shared_ptr<backend> be,
                        const std::vector<frame_source>& plan, const progress_fn& progress) {
  const auto t0 = clock_type::now();
  frame_pipeline p(o, std::move(be), progress, plan.size());
  for (const frame_source& src : plan) p.process(src);
  return p.finish(seconds_between(t0, clock_type::now()));
}

}  // namespace pinpool::pipeline
