#include "devices.hpp"
#include "pipeline.hpp"
#include "stage_launcher.hpp"

#include <pinpool/detail/nvtx.hpp>
#include <pinpool/io/image_io.hpp>
#include <pinpool/pool.hpp>
#include <pinpool/pool_group.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pinpool::pipeline {
namespace {

using clock_type = std::chrono::steady_clock;

/// How long a wait for stream work goes without asking the streams themselves. Host functions
/// announce finished frames at once, but CUDA never calls them once the context has an error:
/// they are a shortcut, never what a wait depends on.
constexpr std::chrono::milliseconds poll_interval{20};

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The waits the summary shows beside the work (names of run_report::stages).
constexpr const char* wait_free_stream = "wait: free stream";
constexpr const char* wait_host_decode = "wait: host (decode)";
constexpr const char* wait_host_encode = "wait: host (encode)";

/// One frame between submission and its write (or its failure). Owned by its slot.
struct frame_job {
  const frame_source* source = nullptr;
  std::size_t lane = 0;  // the device (index of frame_pipeline::lanes_) of its stream
  int width = 0;
  int height = 0;
  int channels = 0;
  buffer out;                           // pinned: filled by the copy back
  std::vector<std::string> step_names;  // copy in, stages..., copy out: step i is marks i..i+1
  bool failed = false;                  // already reported (enqueueing failed): nothing to write
};

enum class phase {
  idle,       // no frame
  claimed,    // a frame is assigned: waiting for a host thread to decode and enqueue it
  enqueuing,  // a host thread decodes it and enqueues its work on the stream
  running,    // the frame's work is on the stream
  ready,      // the stream has run it: waiting for a writer
  writing,    // a writer has it
};

/// The state host functions may touch: shared with them, so a host function that runs late
/// (or never: CUDA drops them after a fault) neither touches a destroyed pipeline nor keeps a
/// frame or a buffer alive. Everything of the pipeline that threads share is guarded by `mutex`.
struct shared_state {
  explicit shared_state(std::size_t slots)
      : phases(slots, phase::idle), tickets(slots, 0), announced(slots, 0), ready_at(slots) {}
  std::mutex mutex;
  std::condition_variable changed;  // a slot changed phase, or the pipeline is stopping
  std::vector<phase> phases;
  std::vector<std::uint64_t> tickets;    // per slot: the frame in it (a late announcement is stale)
  std::vector<std::uint64_t> announced;  // per slot: the last ticket a host function announced
  std::vector<clock_type::time_point> ready_at;  // per slot: when its frame became ready

  /// Under `mutex`: the frame of `slot` has been run by its stream.
  void make_ready(std::size_t slot) {
    phases[slot] = phase::ready;
    ready_at[slot] = clock_type::now();
  }

  /// A host function's announcement: the stream has run frame `ticket` of `slot`. One that
  /// comes before the host thread enqueueing the frame has marked it running is kept for it.
  void announce(std::size_t slot, std::uint64_t ticket) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (tickets[slot] != ticket) return;
      announced[slot] = ticket;
      if (phases[slot] != phase::running) return;
      make_ready(slot);
    }
    changed.notify_all();
  }
};

/// A backend event (owned).
class done_event {
 public:
  done_event(backend& be, int device) : be_(be), device_(device), event_(be.create_event(device)) {}
  ~done_event() { be_.destroy_event(event_, device_); }
  done_event(const done_event&) = delete;
  done_event& operator=(const done_event&) = delete;
  void record(stream_ref s) { be_.record_event(event_, device_, s); }
  bool done() { return be_.event_done(event_, device_); }

 private:
  backend& be_;
  int device_;
  void* event_;
};

/// One device's part of the run: its pools and launcher, and (in frame_pipeline) its streams,
/// the slots with this lane, and its host threads, which take only this lane's frames.
struct device_lane {
  int device = 0;
  pool* pinned = nullptr;
  pool* device_pool = nullptr;
  stage_launcher launcher;
  device_report report;  // frames_ok guarded by shared_state::mutex
};

/// One stream and what it carries: one frame at a time.
struct slot_state {
  std::size_t lane = 0;
  std::unique_ptr<frame_clock> clock;
  std::unique_ptr<done_event> done;  // recorded after the frame's work
  std::unique_ptr<frame_job> job;
  const frame_source* claimed = nullptr;  // the frame assigned to the slot, not yet enqueued
  clock_type::time_point claimed_at;
  std::uint64_t claim_order = 0;  // frames are enqueued in the order they were claimed
};

class frame_pipeline {
 public:
  frame_pipeline(const options& o, std::shared_ptr<backend> be, progress_fn progress,
                 std::size_t total);
  ~frame_pipeline();
  /// Assigns `src` to a free stream; a host thread decodes and enqueues it. False once a stream
  /// failed: submit nothing more.
  bool process(const frame_source& src);
  /// @throws pipeline_failure when a stream failed.
  run_report finish(double seconds);

 private:
  using lock_type = std::unique_lock<std::mutex>;
  int wait_free_slot();
  device_image read_frame(const frame_source& src, stream_ref s, frame_job& job, frame_clock& c);
  device_image run_stages(device_image cur, stream_ref s, frame_job& job, frame_clock& c);
  void enqueue(const frame_source& src, stream_ref s, frame_job& job, frame_clock& c);
  void start_frame(std::size_t slot);
  template <class Done>
  void wait(lock_type& lock, Done done);
  void poll(lock_type& lock);
  void stream_failed(lock_type& lock, std::size_t slot, const std::string& cause);
  void host_loop(std::size_t lane);
  void start_host_threads();
  void trim_pools();
  std::optional<std::size_t> first_claimed(std::size_t lane) const;
  std::optional<std::size_t> first_ready(std::size_t lane) const;
  void write_slot(lock_type& lock, std::size_t slot);
  void write_frame(frame_job& job);
  void add_time_locked(const char* name, double seconds);
  void add_failure_locked(const std::string& input, const std::string& error);
  std::uint64_t backend_allocations() const;

  const options& opt_;
  std::shared_ptr<backend> backend_;
  std::unique_ptr<pool> shared_pinned_;  // --pinned-pool shared; else pinned pools in group_
  std::unique_ptr<pool_group> group_;    // a device pool per device (and pinned: per-device)
  std::vector<device_lane> lanes_;       // one per device, in --devices order
  std::shared_ptr<shared_state> shared_;
  std::vector<stream> streams_;
  std::vector<slot_state> slots_;  // one per stream; destroyed before the streams
  progress_fn progress_;
  std::size_t total_;

  // Guarded by shared_->mutex:
  bool stopping_ = false;
  std::string failure_;  // the first stream failure: the run stops
  std::size_t submitted_ = 0;
  std::uint64_t claims_ = 0;
  std::size_t done_ = 0;
  std::uint64_t warm_allocations_ = 0;
  run_report report_;
  std::map<std::string, stage_timing> timings_;

  std::vector<std::thread> host_threads_;  // decode, enqueue and write frames
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
  } else {
    // The first slab up front: host threads acquire concurrently from the first frame on, and two
    // first acquisitions racing on an empty pool would each grow it (the second slab unused).
    o.initial_bytes = o.first_slab_bytes;
  }
  return o;
}

// The pinned pool every device shares (--pinned-pool shared), or none.
std::unique_ptr<pool> make_shared_pinned(const options& o, const std::shared_ptr<backend>& be) {
  if (o.pinned_pool != pinned_pool_mode::shared) return nullptr;
  return std::make_unique<pool>(
      be, pool_opts(memory_kind::pinned_host, "pinned", o.per_frame_allocation));
}

// A device pool per device, and with --pinned-pool per-device a pinned pool per device too.
std::unique_ptr<pool_group> make_group(const options& o, const std::shared_ptr<backend>& be) {
  std::vector<memory_kind> kinds{memory_kind::device};
  if (o.pinned_pool == pinned_pool_mode::per_device) kinds.push_back(memory_kind::pinned_host);
  return std::make_unique<pool_group>(
      be, devices_of(o), kinds, pool_opts(memory_kind::device, "pipeline", o.per_frame_allocation));
}

frame_pipeline::frame_pipeline(const options& o, std::shared_ptr<backend> be, progress_fn progress,
                               std::size_t total)
    : opt_(o),
      backend_(backend_for_devices(std::move(be), devices_of(o))),
      shared_pinned_(make_shared_pinned(o, backend_)),
      group_(make_group(o, backend_)),
      shared_(std::make_shared<shared_state>(static_cast<std::size_t>(o.streams))),
      progress_(std::move(progress)),
      total_(total) {
  for (const int d : group_->devices()) {
    pool& device_pool = group_->get(d, memory_kind::device);
    pool* pinned =
        shared_pinned_ ? shared_pinned_.get() : &group_->get(d, memory_kind::pinned_host);
    lanes_.push_back({d, pinned, &device_pool, make_stage_launcher(*backend_, device_pool), {}});
    lanes_.back().report.device = d;
  }
  const std::size_t marks = opt_.stages.size() + 3;  // before copy in, each stage, copy out; end
  for (int i = 0; i < o.streams; ++i) {              // round-robin over the devices
    slot_state sl;
    sl.lane = static_cast<std::size_t>(i) % lanes_.size();
    device_lane& lane = lanes_[sl.lane];
    streams_.push_back(backend_->create_stream(lane.device));
    ++lane.report.streams;
    sl.clock = lane.launcher.make_clock(streams_.back(), marks);
    sl.done = std::make_unique<done_event>(*backend_, lane.device);
    slots_.push_back(std::move(sl));
  }
  start_host_threads();
  report_.backend = backend_->name();
  report_.streams = o.streams;
  report_.pinned_pool = o.pinned_pool == pinned_pool_mode::shared ? "shared" : "per-device";
  for (kernels::stage st : o.stages) report_.stage_chain.emplace_back(kernels::to_string(st));
}

// --threads (default one per core) split between the devices, at least one each: a device's
// host threads decode, enqueue and write only the frames on its streams.
void frame_pipeline::start_host_threads() {
  const unsigned total = opt_.threads > 0 ? static_cast<unsigned>(opt_.threads)
                                          : std::max(1U, std::thread::hardware_concurrency());
  const auto lanes = static_cast<unsigned>(lanes_.size());
  unsigned index = 0;
  for (unsigned l = 0; l < lanes; ++l) {
    const unsigned threads = std::max(1U, total / lanes + (l < total % lanes ? 1U : 0U));
    lanes_[l].report.host_threads = static_cast<int>(threads);
    for (unsigned t = 0; t < threads; ++t, ++index) {
      host_threads_.emplace_back([this, index, l] {
        // Named as when they only wrote frames (tools and tests/nvtx look for the name).
        detail::nvtx_name_this_thread(("pinpool-writer-" + std::to_string(index)).c_str());
        host_loop(l);
      });
    }
  }
  report_.host_threads = static_cast<int>(index);
}

// After a stream failure frames may be left on the streams: their buffers go back to the pools
// here (a release the backend cannot record quarantines the chunk), before the streams go.
frame_pipeline::~frame_pipeline() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    stopping_ = true;
  }
  shared_->changed.notify_all();
  for (std::thread& t : host_threads_) t.join();
  for (slot_state& sl : slots_) sl.job.reset();
}

// Waits, under `lock`, until `done()`; polls the streams whenever woken and every
// poll_interval, so neither a missing host function nor a failed stream can block it.
template <class Done>
void frame_pipeline::wait(lock_type& lock, Done done) {
  for (;;) {
    poll(lock);
    if (done()) return;
    shared_->changed.wait_for(lock, poll_interval);
  }
}

// Asks the backend about every running frame: its done event has completed (the frame is
// ready), or the query failed (the stream failed: a CUDA context error answers every query).
// Each query is made with `lock` released: the frame's host function (announce) takes the lock,
// and under compute-sanitizer a runtime call can wait for a host function that is running, so a
// query under the lock deadlocked (memcheck and synccheck on an H100, 3 runs in 12). The answer
// counts only if the slot still runs the same frame (its ticket) when the lock is retaken.
void frame_pipeline::poll(lock_type& lock) {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (shared_->phases[i] != phase::running) continue;
    const std::uint64_t ticket = shared_->tickets[i];
    bool ready = false;
    std::string error;
    lock.unlock();
    try {
      ready = slots_[i].done->done();
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    if (shared_->phases[i] != phase::running || shared_->tickets[i] != ticket) continue;
    if (!error.empty()) {
      stream_failed(lock, i, error);
    } else if (ready) {
      shared_->make_ready(i);
      shared_->changed.notify_all();
    }
  }
}

// The frame of `slot` cannot finish: its stream failed. Records the first such failure (the
// run stops) and the frame's, and empties the slot.
void frame_pipeline::stream_failed(lock_type& lock, std::size_t slot, const std::string& cause) {
  std::unique_ptr<frame_job> job = std::move(slots_[slot].job);
  std::string what = "pinpool-pipeline: ";
  if (job) {
    what += "frame '" + job->source->input + "' on stream " + std::to_string(slot) + " failed";
    // Mark i precedes step i: a stream that passed p marks of the frame was in step p - 1.
    const std::optional<std::size_t> passed = slots_[slot].clock->marks_passed();
    if (!passed) {
      what += " (in which step is unknown: a device reports faults asynchronously)";
    } else if (*passed == 0) {
      what += " before its first step";
    } else if (*passed < slots_[slot].clock->marks() && *passed <= job->step_names.size()) {
      what += " in step '" + job->step_names[*passed - 1] + "'";
    }  // else it passed every mark: the cause names what failed (e.g. "stage blur: ...")
  } else {
    what += "stream " + std::to_string(slot) + " failed";
  }
  what += ": " + cause;
  if (failure_.empty()) failure_ = what;
  if (job && !job->failed) add_failure_locked(job->source->input, what);
  shared_->phases[slot] = phase::idle;
  lock.unlock();
  job.reset();  // its buffers go back to the pools (stream-ordered where the backend still can)
  lock.lock();
  shared_->changed.notify_all();
}

// A stream whose previous frame has been written (one frame in flight per stream); -1 once a
// stream failed.
int frame_pipeline::wait_free_slot() {
  lock_type lock(shared_->mutex);
  int slot = -1;
  wait(lock, [&] {
    if (!failure_.empty()) return true;
    auto it = std::find(shared_->phases.begin(), shared_->phases.end(), phase::idle);
    if (it == shared_->phases.end()) return false;
    slot = static_cast<int>(it - shared_->phases.begin());
    return true;
  });
  return failure_.empty() ? slot : -1;
}

// Decodes (or generates) into a pinned chunk the host fills, then copies it to the device on
// `s`; the pinned chunk is released on `s` behind the copy.
device_image frame_pipeline::read_frame(const frame_source& src, stream_ref s, frame_job& job,
                                        frame_clock& c) {
  const auto t0 = clock_type::now();
  std::optional<detail::nvtx_range> decoding(std::in_place, "decode");
  io::image_info info{opt_.width, opt_.height, 3, io::format::pnm};
  if (src.synthetic < 0) info = io::probe(src.input, opt_.max_pixels);
  device_image img{{}, info.width, info.height, info.channels};
  device_lane& lane = lanes_[job.lane];
  buffer staging = lane.pinned->acquire(img.bytes());
  if (src.synthetic < 0) {
    io::decode(src.input, static_cast<std::uint8_t*>(staging.data()), img.bytes(), opt_.max_pixels);
  } else {
    io::generate_test_pattern(static_cast<std::uint8_t*>(staging.data()), img.width, img.height,
                              src.synthetic);
  }
  decoding.reset();
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    timings_["decode"].seconds += seconds_between(t0, clock_type::now());
    ++timings_["decode"].frames;
  }
  c.mark("copy in");
  job.step_names.emplace_back("copy in");
  img.mem = lane.device_pool->acquire(img.bytes(), s);
  s.memcpy_async(img.mem.data(), staging.data(), img.bytes());
  staging.set_stream(s);
  return img;
}

// Each stage writes a new 1-channel image; the previous one is released on `s` (same-stream
// reuse makes the next frame's chunks free of waits). Colour input is converted to grey first.
device_image frame_pipeline::run_stages(device_image cur, stream_ref s, frame_job& job,
                                        frame_clock& c) {
  const kernels::stage_params params{opt_.sigma};
  device_lane& lane = lanes_[job.lane];
  auto apply = [&](kernels::stage st) {
    device_image next{lane.device_pool->acquire(cur.bytes() / cur.channels, s), cur.width,
                      cur.height, 1};
    lane.launcher.launch(st, s, cur, next, params);
    cur = std::move(next);
  };
  for (kernels::stage st : opt_.stages) {
    const kernels::stage_info& row = kernels::stage_info_of(st);
    c.mark(row.name);
    job.step_names.emplace_back(row.name);
    if (row.needs_grey && cur.channels != 1) apply(kernels::stage::gray);
    apply(st);
  }
  return cur;
}

void frame_pipeline::enqueue(const frame_source& src, stream_ref s, frame_job& job,
                             frame_clock& c) {
  device_image result = run_stages(read_frame(src, s, job, c), s, job, c);
  job.width = result.width;
  job.height = result.height;
  job.channels = result.channels;
  c.mark("copy out");
  job.step_names.emplace_back("copy out");
  job.out = lanes_[job.lane].pinned->acquire(result.bytes(), s);
  s.memcpy_async(job.out.data(), result.mem.data(), result.bytes());
  c.mark(nullptr);
}

bool frame_pipeline::process(const frame_source& src) {
  const auto t0 = clock_type::now();
  const int found = wait_free_slot();
  if (found < 0) return false;
  const auto slot = static_cast<std::size_t>(found);
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    add_time_locked(wait_free_stream, seconds_between(t0, clock_type::now()));
    slots_[slot].claimed = &src;
    slots_[slot].claimed_at = clock_type::now();
    slots_[slot].claim_order = ++claims_;
    shared_->phases[slot] = phase::claimed;
  }
  shared_->changed.notify_all();
  if (opt_.per_frame_allocation) {  // the baseline: wait for the frame, free its buffers
    {
      lock_type lock(shared_->mutex);
      wait(lock, [&] {
        const phase p = shared_->phases[slot];
        return p != phase::claimed && p != phase::enqueuing && p != phase::running;
      });
    }
    trim_pools();
  }
  return true;
}

void frame_pipeline::trim_pools() {
  if (shared_pinned_) shared_pinned_->trim();
  group_->trim();
}

// On a host thread, for the frame claimed in `slot` (phase enqueuing): decodes it, enqueues its
// work on the slot's stream and records the done event; then the slot is running (or ready, when
// the host function already announced the frame).
void frame_pipeline::start_frame(std::size_t slot) {
  slot_state& sl = slots_[slot];
  const frame_source& src = *sl.claimed;
  stream_ref s = streams_[slot];
  auto job = std::make_unique<frame_job>();
  job->source = &src;
  job->lane = sl.lane;
  sl.clock->begin_frame();
  std::string failed_enqueue;
  try {
    enqueue(src, s, *job, *sl.clock);
  } catch (const std::exception& e) {  // an unreadable input, a stage's bad parameter, ...
    failed_enqueue = e.what();
  }
  frame_job& frame = *job;
  std::uint64_t ticket = 0;
  bool all_streams_started = false;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (!failed_enqueue.empty()) {
      add_failure_locked(src.input, failed_enqueue);
      frame.failed = true;  // its slot frees once the stream has run what was enqueued
    }
    sl.job = std::move(job);
    sl.claimed = nullptr;
    ticket = ++shared_->tickets[slot];
  }
  // The frame is done when its event has completed (polled: always answers, failures included);
  // the host function after it only says so sooner. It holds no frame and no buffer. The slot
  // is marked running only after the record, so that no poll queries an unrecorded event.
  try {
    sl.done->record(s);
    s.launch_host_func([shared = shared_, slot, ticket] { shared->announce(slot, ticket); });
  } catch (const std::exception& e) {
    lock_type lock(shared_->mutex);
    stream_failed(lock, slot, e.what());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->announced[slot] == ticket) {
      shared_->make_ready(slot);
    } else {
      shared_->phases[slot] = phase::running;
    }
    all_streams_started = ++submitted_ == streams_.size();
  }
  shared_->changed.notify_all();
  if (all_streams_started) {  // the pools' statistics may query events: not under the lock
    const std::uint64_t n = backend_allocations();
    std::lock_guard<std::mutex> lock(shared_->mutex);
    warm_allocations_ = n;
  }
}

// Under the lock: the claimed slot of `lane` claimed first, or none.
std::optional<std::size_t> frame_pipeline::first_claimed(std::size_t lane) const {
  std::optional<std::size_t> first;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (shared_->phases[i] != phase::claimed || slots_[i].lane != lane) continue;
    if (!first || slots_[i].claim_order < slots_[*first].claim_order) first = i;
  }
  return first;
}

// Under the lock: a ready slot of `lane`, or none.
std::optional<std::size_t> frame_pipeline::first_ready(std::size_t lane) const {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (shared_->phases[i] == phase::ready && slots_[i].lane == lane) return i;
  }
  return std::nullopt;
}

// A host thread of `lane`: writes the lane's frames the streams have run (first: that frees a
// stream), and decodes and enqueues the lane's claimed frames, in the order they were claimed
// (one host thread enqueues frames in input order). After a stream failure, claimed frames are
// dropped unprocessed.
void frame_pipeline::host_loop(std::size_t lane) {
  lock_type lock(shared_->mutex);
  for (;;) {
    std::size_t slot = 0;
    phase found = phase::idle;
    shared_->changed.wait(lock, [&] {
      if (const std::optional<std::size_t> r = first_ready(lane)) {
        slot = *r;
        found = phase::ready;
        return true;
      }
      if (const std::optional<std::size_t> c = first_claimed(lane)) {
        slot = *c;
        found = phase::claimed;
        return true;
      }
      return stopping_;
    });
    if (found == phase::ready) {
      write_slot(lock, slot);
    } else if (found == phase::claimed) {
      if (!failure_.empty()) {
        slots_[slot].claimed = nullptr;
        shared_->phases[slot] = phase::idle;
        shared_->changed.notify_all();
        continue;
      }
      shared_->phases[slot] = phase::enqueuing;
      add_time_locked(wait_host_decode,
                      seconds_between(slots_[slot].claimed_at, clock_type::now()));
      lock.unlock();
      start_frame(slot);
      lock.lock();
    } else {
      return;  // stopping, nothing left to write
    }
  }
}

// Under `lock` (released meanwhile): writes the ready frame of `slot` and frees the slot.
void frame_pipeline::write_slot(lock_type& lock, std::size_t slot) {
  shared_->phases[slot] = phase::writing;
  add_time_locked(wait_host_encode, seconds_between(shared_->ready_at[slot], clock_type::now()));
  frame_job& job = *slots_[slot].job;
  lock.unlock();
  // The stream has run the frame; its synchronize reports what failed on it (a stage that
  // threw, a device fault) and returns at once.
  std::string stream_error;
  std::vector<double> steps;
  try {
    streams_[slot].synchronize();
    if (!job.failed) steps = slots_[slot].clock->step_seconds();
  } catch (const std::exception& e) {
    stream_error = e.what();
  }
  if (stream_error.empty() && !job.failed) write_frame(job);
  lock.lock();
  if (!stream_error.empty()) {
    stream_failed(lock, slot, stream_error);
    return;
  }
  if (!job.failed) {
    for (std::size_t i = 0; i < steps.size() && i < job.step_names.size(); ++i) {
      stage_timing& t = timings_[job.step_names[i]];
      t.seconds += steps[i];
      ++t.frames;
    }
  }
  std::unique_ptr<frame_job> done = std::move(slots_[slot].job);
  lock.unlock();
  done.reset();  // releases the output chunk on its stream
  lock.lock();
  shared_->phases[slot] = phase::idle;
  shared_->changed.notify_all();
}

void frame_pipeline::add_time_locked(const char* name, double seconds) {
  stage_timing& t = timings_[name];
  t.seconds += seconds;
  ++t.frames;
}

// Runs on a host thread once the frame's stream work has completed.
void frame_pipeline::write_frame(frame_job& job) {
  const auto t0 = clock_type::now();
  std::optional<detail::nvtx_range> writing(std::in_place, "encode+write");
  std::string error;
  try {
    if (opt_.write_outputs) {
      io::write_image(job.source->output, static_cast<const std::uint8_t*>(job.out.data()),
                      job.width, job.height, job.channels,
                      static_cast<std::size_t>(job.width) * job.channels, opt_.write);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  writing.reset();
  const double encode = seconds_between(t0, clock_type::now());
  std::lock_guard<std::mutex> lock(shared_->mutex);
  timings_["encode+write"].seconds += encode;
  ++timings_["encode+write"].frames;
  if (error.empty()) {
    ++report_.frames_ok;
    ++lanes_[job.lane].report.frames_ok;
    // --no-write: the input is still accounted for (a multi-rank merge checks every input).
    report_.outputs.push_back({job.source->input, opt_.write_outputs ? job.source->output : ""});
    if (progress_) progress_(++done_, total_);
  } else {
    add_failure_locked(job.source->input, error);
  }
}

void frame_pipeline::add_failure_locked(const std::string& input, const std::string& error) {
  report_.failures.push_back({input, error});
  ++report_.frames_failed;
  if (progress_) progress_(++done_, total_);
}

std::uint64_t frame_pipeline::backend_allocations() const {
  return (shared_pinned_ ? shared_pinned_->stats().backend_allocations : 0) +
         group_->stats().backend_allocations;
}

run_report frame_pipeline::finish(double seconds) {
  lock_type lock(shared_->mutex);
  wait(lock, [&] {
    return std::all_of(shared_->phases.begin(), shared_->phases.end(),
                       [](phase p) { return p == phase::idle; });
  });
  if (failure_.empty()) {
    lock.unlock();
    std::string error;
    for (stream& s : streams_) {
      try {
        s.synchronize();
      } catch (const std::exception& e) {
        if (error.empty()) error = e.what();
      }
    }
    lock.lock();
    if (!error.empty())
      failure_ = "pinpool-pipeline: a stream failed after its last frame: " + error;
  }
  if (!failure_.empty()) throw pipeline_failure(failure_);
  report_.seconds = seconds;
  if (shared_pinned_) report_.pools.push_back(shared_pinned_->stats());
  for (pool_stats& st : group_->stats_by_pool()) report_.pools.push_back(std::move(st));
  for (const device_lane& lane : lanes_) report_.devices.push_back(lane.report);
  if (submitted_ >= streams_.size()) {
    report_.steady_state_backend_allocations = backend_allocations() - warm_allocations_;
  }
  std::vector<std::string> order{"decode", "copy in"};
  for (const std::string& s : report_.stage_chain) order.push_back(s);
  order.insert(order.end(),
               {"copy out", "encode+write", wait_free_stream, wait_host_decode, wait_host_encode});
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
  for (const frame_source& src : plan) {
    if (!p.process(src)) break;
  }
  run_report report = p.finish(seconds_between(t0, clock_type::now()));
  report.frames_planned = plan.size();
  return report;
}

}  // namespace pinpool::pipeline
