// Suite rmm: pinpool and RAPIDS RMM 26.10's pools side by side on the emulated CUDA runtime.
//
// Both pools run in this one process against tests/emulation (linked instead of libcudart), so
// every runtime call either makes is counted by entry point (pinpool_emu::get_counters()). RMM's
// pool is header code (stream_ordered_memory_resource) calling the runtime from this translation
// unit; its upstream here is a small resource over the emulated cudaMalloc/cudaFree (or
// cudaHostAlloc/cudaFreeHost for the pinned pool), with initial_pool_size = 0 (a non-zero initial
// pool would be allocated by librmm.so's own, statically linked runtime).
//
// usage: pinpool-bench-rmm [--out FILE.json] [--no-callgrind] [--iterations N]
//        pinpool-bench-rmm --fragmentation-peer <arena|binning>   (one JSON object on stdout)
//        pinpool-bench-rmm --loop <pinpool|rmm> <bytes> <iterations> (the callgrind target)
//
// Workloads (calls per operation over a measured loop after a warm-up):
//   same_stream_<bytes>  acquire on s, release on s (no work between), steady state
//   cross_stream         acquire on A, a 4 KiB copy on A, release on A; the next acquisition on B
//   pinned_staging       pinned chunk acquired by the host, filled, copied on s, released on s
//                        (pinpool also with max_pending_bytes = 4 MiB: pinpool_bounded)
//   pipeline_<n>streams  the sample pipeline's per-frame plan replayed (see pipeline_trace())
//   fragmentation        mixed sizes (256 B..4 MiB), frees out of order, one stream
// Host instructions per same-stream round trip: callgrind on --loop, collecting only inside
// pinpool_bench_rmm_loop and toggling collection off inside every emulated entry point.

#include "emulation/cuda_emulation.hpp"

#include <pinpool/pinpool.hpp>

#include <cuda/memory_resource>
#include <cuda/stream>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <rmm/mr/arena_memory_resource.hpp>
#include <rmm/mr/binning_memory_resource.hpp>
#include <rmm/mr/pool_memory_resource.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

// ---- RMM upstream over the emulated runtime --------------------------------------------------

struct upstream_state {
  bool pinned = false;
  std::size_t live = 0;
  std::size_t peak = 0;
};

/// cudaMalloc/cudaFree (or cudaHostAlloc/cudaFreeHost), counting bytes held: RMM's reserve.
class emu_upstream {
 public:
  explicit emu_upstream(upstream_state* st) : st_(st) {}
  void* allocate_sync(std::size_t bytes, std::size_t /*alignment*/ = 256) {
    void* p = nullptr;
    const cudaError_t e =
        st_->pinned ? cudaHostAlloc(&p, bytes, cudaHostAllocDefault) : cudaMalloc(&p, bytes);
    if (e != cudaSuccess) throw std::bad_alloc();
    st_->live += bytes;
    st_->peak = std::max(st_->peak, st_->live);
    return p;
  }
  void deallocate_sync(void* p, std::size_t bytes, std::size_t /*alignment*/ = 256) noexcept {
    if (st_->pinned) {
      cudaFreeHost(p);
    } else {
      cudaFree(p);
    }
    st_->live -= bytes;
  }
  void* allocate(cuda::stream_ref, std::size_t bytes, std::size_t alignment = 256) {
    return allocate_sync(bytes, alignment);
  }
  void deallocate(cuda::stream_ref, void* p, std::size_t bytes,
                  std::size_t alignment = 256) noexcept {
    deallocate_sync(p, bytes, alignment);
  }
  bool operator==(const emu_upstream& o) const noexcept { return st_ == o.st_; }
  bool operator!=(const emu_upstream& o) const noexcept { return st_ != o.st_; }
  friend void get_property(const emu_upstream&, cuda::mr::device_accessible) noexcept {}
  friend void get_property(const emu_upstream&, cuda::mr::host_accessible) noexcept {}

 private:
  upstream_state* st_;
};

// ---- the two pools behind one interface -----------------------------------------------------

/// One allocator under test. `s` < 0: the host (no stream).
struct peer {
  virtual ~peer() = default;
  virtual void* acquire(std::size_t bytes, cudaStream_t s, bool host) = 0;
  virtual void release(void* p, std::size_t bytes, cudaStream_t s, bool host) = 0;
  virtual std::size_t reserved() const = 0;
  /// false: reading reserved() makes runtime calls (pinpool's stats() settles pending chunks,
  /// querying events), so replay() reads it only after the trace, not after every op.
  virtual bool reserved_is_free() const { return true; }
};

struct pinpool_peer final : peer {
  pinpool::pool pool;
  std::shared_ptr<pinpool::backend> be;
  std::map<void*, pinpool::buffer> live;
  /// The benchmark's streams as pinpool knows them (a stream_ref built from a bare cudaStream_t
  /// would ask the runtime for its device and id on every op: the harness's cost, not the pool's).
  std::vector<std::pair<cudaStream_t, pinpool::stream_ref>> refs;
  pinpool_peer(std::shared_ptr<pinpool::backend> b, pinpool::memory_kind kind,
               const std::vector<pinpool::stream>& streams, bool detect_capture = true,
               bool lazy_release = true,
               pinpool::cross_stream_reuse reuse = pinpool::cross_stream_reuse::at_cap,
               std::size_t max_pending = 0)
      : pool(b, make_options(kind, detect_capture, lazy_release, reuse, max_pending)),
        be(std::move(b)) {
    for (const auto& st : streams) {
      refs.emplace_back(static_cast<cudaStream_t>(st.native_handle()), st.ref());
    }
  }
  static pinpool::pool_options make_options(pinpool::memory_kind kind, bool detect_capture,
                                            bool lazy_release, pinpool::cross_stream_reuse reuse,
                                            std::size_t max_pending) {
    pinpool::pool_options o;
    o.max_pending_bytes = max_pending;
    o.pending_reuse = reuse;
    o.kind = kind;
    o.detect_capture = detect_capture;
    o.lazy_release = lazy_release;
    o.first_slab_bytes = std::size_t{2} << 20;  // geometric slabs, as RMM grows on demand
    o.name = kind == pinpool::memory_kind::device ? "rmm-bench-device" : "rmm-bench-pinned";
    return o;
  }
  void* acquire(std::size_t bytes, cudaStream_t s, bool host) override {
    pinpool::buffer b = host ? pool.acquire(bytes) : pool.acquire(bytes, ref(s));
    void* p = b.data();
    live.emplace(p, std::move(b));
    return p;
  }
  void release(void* p, std::size_t, cudaStream_t s, bool host) override {
    auto it = live.find(p);
    if (!host) it->second.set_stream(ref(s));
    live.erase(it);  // releases (on the buffer's stream, or to the host)
  }
  std::size_t reserved() const override { return pool.stats().bytes_reserved; }
  bool reserved_is_free() const override { return false; }
  pinpool::stream_ref ref(cudaStream_t s) const {
    for (const auto& [h, r] : refs) {
      if (h == s) return r;
    }
    return pinpool::stream_ref{*be, s};
  }
};

/// RMM host use: there is no host acquisition; the block is taken on the default stream and,
/// as RMM orders a reused block only device-side (cudaStreamWaitEvent), the default stream is
/// synchronised before the host touches it. A host release is a release on the default stream.
template <class Resource>
struct rmm_peer final : peer {
  Resource& mr;
  std::function<std::size_t()> reserve;
  rmm_peer(Resource& r, std::function<std::size_t()> f) : mr(r), reserve(std::move(f)) {}
  void* acquire(std::size_t bytes, cudaStream_t s, bool host) override {
    if (host) {
      void* p = mr.allocate(cuda::stream_ref{cudaStreamLegacy}, bytes, 256);
      cudaStreamSynchronize(cudaStreamLegacy);
      return p;
    }
    return mr.allocate(cuda::stream_ref{s}, bytes, 256);
  }
  void release(void* p, std::size_t bytes, cudaStream_t s, bool host) override {
    mr.deallocate(cuda::stream_ref{host ? cudaStreamLegacy : s}, p, bytes, 256);
  }
  std::size_t reserved() const override { return reserve(); }
};

// ---- counting --------------------------------------------------------------------------------

using call_counts = std::map<std::string, double>;

call_counts delta(const pinpool_emu::counters& a, const pinpool_emu::counters& b, double ops) {
  call_counts d;
  for (const auto& [name, n] : b.calls) {
    const double diff = static_cast<double>(n - a.count(name));
    if (diff > 0) d[name] = diff / ops;
  }
  return d;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

struct result {
  std::string workload, peer, unit = "op";
  double ops = 0;
  call_counts calls;
  std::size_t peak_reserved = 0, peak_live = 0;
  bool have_peaks = false;
  std::string note, error;
  std::string json() const {
    std::ostringstream o;
    o << "{\"workload\": \"" << workload << "\", \"peer\": \"" << peer << "\", \"unit\": \"" << unit
      << "\", \"ops\": " << ops;
    if (!error.empty()) o << ", \"error\": \"" << json_escape(error) << "\"";
    o << ", \"calls_per_op\": {";
    bool first = true;
    double total = 0;
    for (const auto& [k, v] : calls) {
      o << (first ? "" : ", ") << "\"" << k << "\": " << v;
      total += v;
      first = false;
    }
    o << "}, \"calls_per_op_total\": " << total;
    if (have_peaks)
      o << ", \"peak_reserved\": " << peak_reserved << ", \"peak_live\": " << peak_live;
    if (!note.empty()) o << ", \"note\": \"" << json_escape(note) << "\"";
    o << "}";
    return o.str();
  }
};

// ---- traces ----------------------------------------------------------------------------------

struct op {
  enum kind_t { acquire, release, copy_in, copy_out, fill, sync } kind;
  int id = 0;    // buffer id (acquire/release; copy: destination id, src = id2)
  int id2 = -1;  // copy source
  bool pinned = false;
  std::size_t bytes = 0;
  int stream = -1;  // -1: host
};

/// The sample pipeline's per-frame plan, derived from samples/pipeline/pipeline.cpp
/// (read_frame, run_stages, enqueue, writer_loop) with its default options: 1920x1080 synthetic
/// RGB frames, stages gray, blur, sobel; one frame in flight per stream, frame f on stream
/// f % streams; the writer synchronises the stream, reads the output and releases it on its
/// stream. Kernels are not run (no work between acquire and release except the two copies).
std::vector<op> pipeline_trace(int streams, int frames) {
  const std::size_t w = 1920, h = 1080, rgb = w * h * 3, grey = w * h;
  std::vector<op> t;
  std::vector<int> out_of_stream(static_cast<std::size_t>(streams), -1);
  int next_id = 0;
  for (int f = 0; f < frames; ++f) {
    const int s = f % streams;
    if (int& out = out_of_stream[static_cast<std::size_t>(s)]; out >= 0) {  // writer
      t.push_back({op::sync, 0, -1, false, 0, s});
      t.push_back({op::release, out, -1, true, grey, s});
      out = -1;
    }
    const int staging = next_id++, img = next_id++;
    t.push_back({op::acquire, staging, -1, true, rgb, -1});  // host acquisition
    t.push_back({op::fill, staging, -1, true, rgb, -1});
    t.push_back({op::acquire, img, -1, false, rgb, s});
    t.push_back({op::copy_in, img, staging, false, rgb, s});
    t.push_back({op::release, staging, -1, true, rgb, s});
    int cur = img;
    std::size_t cur_bytes = rgb;
    for (int stage = 0; stage < 3; ++stage) {  // gray, blur, sobel: each a new 1-channel image
      const int next = next_id++;
      t.push_back({op::acquire, next, -1, false, grey, s});
      t.push_back({op::release, cur, -1, false, cur_bytes, s});
      cur = next;
      cur_bytes = grey;
    }
    const int out = next_id++;
    t.push_back({op::acquire, out, -1, true, grey, s});
    t.push_back({op::copy_out, out, cur, true, grey, s});
    t.push_back({op::release, cur, -1, false, grey, s});
    out_of_stream[static_cast<std::size_t>(s)] = out;
  }
  for (int s = 0; s < streams; ++s) {
    if (const int out = out_of_stream[static_cast<std::size_t>(s)]; out >= 0) {
      t.push_back({op::sync, 0, -1, false, 0, s});
      t.push_back({op::release, out, -1, true, grey, s});
    }
  }
  return t;
}

/// Mixed sizes, frees out of order: up to 64 live allocations of 256 B..4 MiB (log-uniform),
/// each step frees a random live one (out of order) or allocates, one stream.
std::vector<op> fragmentation_trace(int steps) {
  std::mt19937_64 rng(20261126);
  std::uniform_real_distribution<double> log_size(8.0, 22.0);
  std::vector<op> t;
  std::vector<std::pair<int, std::size_t>> live;
  int next_id = 0;
  for (int i = 0; i < steps; ++i) {
    const bool do_free = !live.empty() && (live.size() >= 64 || (rng() % 100) < 45);
    if (do_free) {
      const std::size_t k = rng() % live.size();
      t.push_back({op::release, live[k].first, -1, false, live[k].second, 0});
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
    } else {
      const auto bytes = static_cast<std::size_t>(std::exp2(log_size(rng)));
      live.emplace_back(next_id, bytes);
      t.push_back({op::acquire, next_id++, -1, false, bytes, 0});
    }
  }
  for (const auto& [id, bytes] : live) t.push_back({op::release, id, -1, false, bytes, 0});
  return t;
}

/// Replays `t` through `dev` (device) and `pin` (pinned); returns calls per frame/op, peaks.
/// Counts every op; peak reserved = the largest sum of the peers' reserve seen after an op, or,
/// for pinpool (whose stats() makes runtime calls), its reserve after the trace: pinpool returns
/// no slab unless trim() is called, so that is its peak.
result replay(const std::vector<op>& t, peer& dev, peer* pin, const std::vector<cudaStream_t>& s,
              double units) {
  std::map<int, std::pair<void*, std::size_t>> bufs;
  std::size_t live = 0;
  result r;
  const auto before = pinpool_emu::get_counters();
  for (const op& o : t) {
    peer& p = o.pinned ? *pin : dev;
    const cudaStream_t st = o.stream >= 0 ? s[static_cast<std::size_t>(o.stream)] : nullptr;
    switch (o.kind) {
      case op::acquire:
        bufs[o.id] = {p.acquire(o.bytes, st, o.stream < 0), o.bytes};
        live += o.bytes;
        break;
      case op::release: {
        auto it = bufs.find(o.id);
        p.release(it->second.first, o.bytes, st, o.stream < 0);
        live -= o.bytes;
        bufs.erase(it);
        break;
      }
      case op::fill: {
        auto* b = static_cast<unsigned char*>(bufs[o.id].first);
        std::memset(b, 1, 4096);
        b[o.bytes - 1] = 2;
        break;
      }
      case op::copy_in:
      case op::copy_out:
        cudaMemcpyAsync(bufs[o.id].first, bufs[o.id2].first, o.bytes, cudaMemcpyDefault, st);
        break;
      case op::sync:
        cudaStreamSynchronize(st);
        break;
    }
    r.peak_live = std::max(r.peak_live, live);
    if (dev.reserved_is_free() && (!pin || pin->reserved_is_free())) {
      r.peak_reserved = std::max(r.peak_reserved, dev.reserved() + (pin ? pin->reserved() : 0));
    }
  }
  r.calls = delta(before, pinpool_emu::get_counters(), units);
  r.peak_reserved = std::max(r.peak_reserved, dev.reserved() + (pin ? pin->reserved() : 0));
  r.ops = units;
  r.have_peaks = true;
  return r;
}

// ---- the workloads, run for both peers -------------------------------------------------------

struct environment {
  std::shared_ptr<pinpool::backend> be = pinpool::make_backend(pinpool::backend_kind::cuda);
  std::vector<pinpool::stream> streams;
  std::vector<cudaStream_t> handles;
  environment() {
    for (int i = 0; i < 4; ++i) {
      streams.push_back(be->create_stream());
      handles.push_back(static_cast<cudaStream_t>(streams.back().native_handle()));
    }
  }
};

/// Fresh pools for one workload: pinpool's device and pinned pools, RMM's device and pinned
/// pools (pool_memory_resource over emu_upstream, initial size 0).
struct peers {
  environment& env;
  upstream_state dev_up{false}, pin_up{true};
  std::optional<rmm::mr::pool_memory_resource> rmm_dev, rmm_pin;
  std::unique_ptr<pinpool_peer> pp_dev, pp_pin;
  std::unique_ptr<pinpool_peer> pp_dev_nocapture;  // pool_options::detect_capture = false
  std::unique_ptr<pinpool_peer> pp_dev_eager;      // pool_options::lazy_release = false
  std::unique_ptr<pinpool_peer> pp_dev_always;     // pending_reuse = always (RMM's order)
  std::unique_ptr<peer> r_dev, r_pin;
  explicit peers(environment& e) : env(e) {
    pp_dev = std::make_unique<pinpool_peer>(env.be, pinpool::memory_kind::device, env.streams);
    pp_pin = std::make_unique<pinpool_peer>(env.be, pinpool::memory_kind::pinned_host, env.streams);
    pp_dev_nocapture =
        std::make_unique<pinpool_peer>(env.be, pinpool::memory_kind::device, env.streams, false);
    pp_dev_eager = std::make_unique<pinpool_peer>(env.be, pinpool::memory_kind::device, env.streams,
                                                  true, false);
    pp_dev_always =
        std::make_unique<pinpool_peer>(env.be, pinpool::memory_kind::device, env.streams, true,
                                       true, pinpool::cross_stream_reuse::always);
    rmm_dev.emplace(emu_upstream{&dev_up}, 0);
    rmm_pin.emplace(emu_upstream{&pin_up}, 0);
    r_dev = std::make_unique<rmm_peer<rmm::mr::pool_memory_resource>>(
        *rmm_dev, [this] { return rmm_dev->pool_size(); });
    r_pin = std::make_unique<rmm_peer<rmm::mr::pool_memory_resource>>(
        *rmm_pin, [this] { return rmm_pin->pool_size(); });
  }
  ~peers() {
    for (auto& s : env.streams) s.synchronize();
  }
};

template <class Body>
result measure(const std::string& workload, const std::string& name, int iterations, Body body) {
  for (int i = 0; i < 64; ++i) body(i);  // warm-up: the pools reach steady state
  const auto before = pinpool_emu::get_counters();
  for (int i = 0; i < iterations; ++i) body(64 + i);
  result r;
  r.workload = workload;
  r.peer = name;
  r.ops = iterations;
  r.calls = delta(before, pinpool_emu::get_counters(), iterations);
  return r;
}

void run_in_process(environment& env, int iterations, std::vector<result>& out) {
  const auto& h = env.handles;
  for (std::size_t bytes : {std::size_t{256}, std::size_t{64} << 10, std::size_t{8} << 20}) {
    const std::string w = "same_stream_" + std::to_string(bytes);
    peers p(env);
    for (auto [name, dev] :
         {std::pair<const char*, peer*>{"pinpool", p.pp_dev.get()},
          std::pair<const char*, peer*>{"pinpool_nocapture", p.pp_dev_nocapture.get()},
          std::pair<const char*, peer*>{"rmm_pool", p.r_dev.get()}}) {
      out.push_back(measure(w, name, iterations, [&](int) {
        void* q = dev->acquire(bytes, h[0], false);
        dev->release(q, bytes, h[0], false);
      }));
    }
  }
  {  // cross-stream hand-off: each acquisition follows a release on the other stream
    peers p(env);
    void* src = nullptr;
    cudaHostAlloc(&src, 4096, cudaHostAllocDefault);
    for (auto [name, dev] : {std::pair<const char*, peer*>{"pinpool", p.pp_dev.get()},
                             std::pair<const char*, peer*>{"rmm_pool", p.r_dev.get()}}) {
      result r = measure("cross_stream", name, iterations, [&](int i) {
        cudaStream_t s = h[static_cast<std::size_t>(i % 2)];
        void* q = dev->acquire(std::size_t{64} << 10, s, false);
        cudaMemcpyAsync(q, src, 4096, cudaMemcpyHostToDevice, s);
        dev->release(q, std::size_t{64} << 10, s, false);
      });
      r.note =
          "64 KiB; includes the 4 KiB write (1 cudaMemcpyAsync per op) on the releasing stream";
      out.push_back(r);
      for (auto& s : env.streams) s.synchronize();
    }
    cudaFreeHost(src);
  }
  {  // pinned staging: host acquires, fills, copies on s, releases on s
    peers p(env);
    void* dst = nullptr;
    cudaMalloc(&dst, std::size_t{1} << 20);
    // pinpool_bounded: pool_options::max_pending_bytes = 4 MiB (the host waits for the oldest
    // copy once 4 are in flight, instead of growing).
    pinpool_peer bounded(env.be, pinpool::memory_kind::pinned_host, env.streams, true, true,
                         pinpool::cross_stream_reuse::at_cap, std::size_t{4} << 20);
    for (auto [name, pin] : {std::pair<const char*, peer*>{"pinpool", p.pp_pin.get()},
                             std::pair<const char*, peer*>{"pinpool_bounded", &bounded},
                             std::pair<const char*, peer*>{"rmm_pool", p.r_pin.get()}}) {
      result r = measure("pinned_staging", name, iterations, [&](int) {
        void* q = pin->acquire(std::size_t{1} << 20, nullptr, true);
        static_cast<unsigned char*>(q)[0] = 1;
        cudaMemcpyAsync(dst, q, std::size_t{1} << 20, cudaMemcpyHostToDevice, h[0]);
        pin->release(q, std::size_t{1} << 20, h[0], false);
      });
      r.note = std::string("1 MiB; includes the copy (1 cudaMemcpyAsync per op)") +
               (name == std::string("rmm_pool")
                    ? "; RMM: allocate on the default stream + cudaStreamSynchronize(default) "
                      "before the host writes (RMM orders a reused block only device-side)"
                : name == std::string("pinpool_bounded")
                    ? "; pool_options::max_pending_bytes = 4 MiB (the host waits for the oldest "
                      "copy once 4 MiB are pending, instead of growing)"
                    : "");
      // After the loop (pinpool's stats() queries events, so it is read once, at the end).
      r.peak_reserved = pin->reserved();
      r.peak_live = std::size_t{1} << 20;
      r.have_peaks = true;
      out.push_back(r);
      env.streams[0].synchronize();
    }
    cudaFree(dst);
  }
  for (int n : {1, 4}) {  // the sample pipeline, 8 warm-up frames then 32 counted frames
    const std::string w = "pipeline_" + std::to_string(n) + "streams";
    const auto warm = pipeline_trace(n, 8), trace = pipeline_trace(n, 32);
    const std::string per_frame =
        "per frame: 1920x1080 RGB, stages gray/blur/sobel, derived from "
        "samples/pipeline/pipeline.cpp; peaks over warm-up + counted frames, device + pinned";
    // pinpool as configured, then two variants of its device pool: an event per release
    // (lazy_release off: what lazy fences change) and pending_reuse = always (a chunk pending on
    // another stream is taken behind a device-side wait before the pool grows, RMM's order).
    struct variant {
      const char* name;
      const char* note;
      pinpool_peer* (*device_pool)(peers&);
    };
    const variant variants[] = {
        {"pinpool", "", [](peers& q) { return q.pp_dev.get(); }},
        {"pinpool_eager_events", "; pool_options::lazy_release = false",
         [](peers& q) { return q.pp_dev_eager.get(); }},
        {"pinpool_wait_before_growing",
         "; pool_options::pending_reuse = always (device-side waits before growing)",
         [](peers& q) { return q.pp_dev_always.get(); }}};
    for (const variant& v : variants) {
      peers p(env);
      pinpool_peer& dev = *v.device_pool(p);
      replay(warm, dev, p.pp_pin.get(), h, 8);
      result r = replay(trace, dev, p.pp_pin.get(), h, 32);
      r.workload = w, r.peer = v.name, r.unit = "frame";
      r.note = per_frame + v.note;
      out.push_back(r);
    }
    {
      peers p(env);
      replay(warm, *p.r_dev, p.r_pin.get(), h, 8);
      result r = replay(trace, *p.r_dev, p.r_pin.get(), h, 32);
      r.workload = w, r.peer = "rmm_pool", r.unit = "frame";
      r.note = per_frame;
      out.push_back(r);
    }
  }
  {
    const auto t = fragmentation_trace(4000);
    const double n = static_cast<double>(t.size());
    {
      peers p(env);
      result r = replay(t, *p.pp_dev, nullptr, h, n);
      r.workload = "fragmentation", r.peer = "pinpool";
      out.push_back(r);
    }
    {
      peers p(env);
      result r = replay(t, *p.r_dev, nullptr, h, n);
      r.workload = "fragmentation", r.peer = "rmm_pool";
      out.push_back(r);
    }
  }
}

/// arena/binning run in a child process (their code is in librmm.so: a failure there must not
/// take the suite down). Their runtime calls made inside librmm.so go to its own static runtime
/// and are not counted.
int fragmentation_peer(const std::string& which) {
  environment env;
  const auto t = fragmentation_trace(4000);
  upstream_state up{false};
  result r;
  if (which == "arena") {
    rmm::mr::arena_memory_resource mr(emu_upstream{&up}, std::size_t{256} << 20);
    rmm_peer<rmm::mr::arena_memory_resource> p(mr, [&] { return up.live; });
    r = replay(t, p, nullptr, env.handles, static_cast<double>(t.size()));
    r.note = "arena_size 256 MiB; reserved = bytes held from the upstream";
  } else {
    rmm::mr::binning_memory_resource mr(emu_upstream{&up}, 8, 20);
    rmm_peer<rmm::mr::binning_memory_resource> p(mr, [&] { return up.live; });
    r = replay(t, p, nullptr, env.handles, static_cast<double>(t.size()));
    r.note =
        "bins 2^8..2^20 (fixed_size), larger sizes straight from the upstream; reserved = "
        "bytes held from the upstream; its bins' stream-ordered code is compiled into "
        "librmm.so, whose runtime calls go to librmm.so's own static runtime: not counted "
        "here (without a driver they fail, unchecked)";
  }
  for (auto& s : env.streams) s.synchronize();
  r.workload = "fragmentation";
  r.peer = "rmm_" + which;
  std::printf("%s\n", r.json().c_str());
  return 0;
}

// ---- callgrind -------------------------------------------------------------------------------

/// The measured loop calls the pools directly (no peer interface, no map of live buffers).
struct loop_context {
  pinpool::pool* pp;  // null: RMM
  rmm::mr::pool_memory_resource* rmm;
  std::size_t bytes;
  cudaStream_t s;
  std::optional<pinpool::stream_ref> ref;
};

inline void round_trips(const loop_context* c, long n) {
  if (c->pp != nullptr) {
    for (long i = 0; i < n; ++i) {
      pinpool::buffer b = c->pp->acquire(c->bytes, *c->ref);  // released on s at scope end
    }
  } else {
    for (long i = 0; i < n; ++i) {
      void* q = c->rmm->allocate(cuda::stream_ref{c->s}, c->bytes, 256);
      c->rmm->deallocate(cuda::stream_ref{c->s}, q, c->bytes, 256);
    }
  }
}

}  // namespace

// Only this function is counted (callgrind --toggle-collect), minus the emulated entry points;
// the warm-up runs the same loop uncounted.
extern "C" __attribute__((noinline)) void pinpool_bench_rmm_loop(const loop_context* c, long n) {
  round_trips(c, n);
}
extern "C" __attribute__((noinline)) void pinpool_bench_rmm_warm_up(const loop_context* c) {
  round_trips(c, 64);
}

namespace {

int loop_main(const std::string& which, std::size_t bytes, long n) {
  environment env;
  peers p(env);
  pinpool::pool* pp = which == "pinpool"             ? &p.pp_dev->pool
                      : which == "pinpool_nocapture" ? &p.pp_dev_nocapture->pool
                                                     : nullptr;
  loop_context c{pp, &*p.rmm_dev, bytes, env.handles[0], env.streams[0].ref()};
  pinpool_bench_rmm_warm_up(&c);
  pinpool_bench_rmm_loop(&c, n);
  return 0;
}

const char* const emulated_entry_points[] = {"cudaGetDeviceCount",
                                             "cudaGetDevice",
                                             "cudaSetDevice",
                                             "cudaDeviceSynchronize",
                                             "cudaGetLastError",
                                             "cudaPeekAtLastError",
                                             "cudaGetErrorName",
                                             "cudaGetErrorString",
                                             "cudaMalloc",
                                             "cudaFree",
                                             "cudaHostAlloc",
                                             "cudaFreeHost",
                                             "cudaHostRegister",
                                             "cudaHostUnregister",
                                             "cudaStreamCreateWithFlags",
                                             "cudaStreamDestroy",
                                             "cudaStreamSynchronize",
                                             "cudaStreamGetDevice",
                                             "cudaStreamGetId",
                                             "cudaStreamIsCapturing",
                                             "cudaMemcpyAsync",
                                             "cudaLaunchHostFunc",
                                             "cudaEventCreateWithFlags",
                                             "cudaEventDestroy",
                                             "cudaEventRecord",
                                             "cudaEventQuery",
                                             "cudaEventSynchronize",
                                             "cudaStreamWaitEvent"};

/// Ir per round trip, or -1. Collection is on only inside pinpool_bench_rmm_loop and toggled off
/// inside each emulated entry point (--toggle-collect on both: entering one flips the state).
double callgrind_ir(const std::string& self, const std::string& which, std::size_t bytes, long n,
                    std::string& how) {
  const std::string out = "/tmp/pinpool-bench-rmm.callgrind." + std::to_string(getpid());
  std::string cmd = "valgrind --tool=callgrind --collect-systime=no --callgrind-out-file=" + out +
                    " --toggle-collect=pinpool_bench_rmm_loop";
  for (const char* e : emulated_entry_points) cmd += std::string(" --toggle-collect=") + e;
  how = cmd + " <self> --loop <peer> <bytes> <n>; Ir / n";
  cmd += " " + self + " --loop " + which + " " + std::to_string(bytes) + " " + std::to_string(n) +
         " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return -1;
  std::ifstream in(out);
  std::string line;
  double ir = -1;
  while (std::getline(in, line)) {
    if (line.rfind("totals:", 0) == 0 || line.rfind("summary:", 0) == 0) {
      ir = std::strtod(line.c_str() + line.find(':') + 1, nullptr);
      break;
    }
  }
  std::remove(out.c_str());
  return ir < 0 ? -1 : ir / static_cast<double>(n);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

std::string self_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("pinpool-bench-rmm");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 4 && args[0] == "--loop") {
      return loop_main(args[1], std::stoull(args[2]), std::stol(args[3]));
    }
    if (args.size() == 2 && args[0] == "--fragmentation-peer") return fragmentation_peer(args[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pinpool-bench-rmm: %s\n", e.what());
    return 1;
  }
  std::string out_path = "rmm.json";
  bool callgrind = true;
  int iterations = 1000;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--out" && i + 1 < args.size()) {
      out_path = args[++i];
    } else if (args[i] == "--no-callgrind") {
      callgrind = false;
    } else if (args[i] == "--iterations" && i + 1 < args.size()) {
      iterations = std::stoi(args[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--out FILE.json] [--no-callgrind] [--iterations N]\n"
                   "       %s --fragmentation-peer <arena|binning>\n"
                   "       %s --loop <pinpool|pinpool_nocapture|rmm> <bytes> <iterations>\n",
                   argv[0], argv[0], argv[0]);
      return 2;
    }
  }
  std::vector<result> results;
  {
    environment env;
    run_in_process(env, iterations, results);
  }
  const std::string self = self_path();
  std::vector<std::string> extra;
  for (const char* which : {"arena", "binning"}) {
    const std::string cmd =
        self + " --fragmentation-peer " + which + " 2>/tmp/pinpool-bench-rmm." + which + ".err";
    std::string text;
    if (FILE* f = popen(cmd.c_str(), "r")) {
      char buf[4096];
      while (std::fgets(buf, sizeof buf, f)) text += buf;
      const int rc = pclose(f);
      if (rc == 0 && !text.empty() && text[0] == '{') {
        while (!text.empty() && text.back() == '\n') text.pop_back();
        extra.push_back(text);
        continue;
      }
      std::ifstream err(std::string("/tmp/pinpool-bench-rmm.") + which + ".err");
      std::string line, last;
      while (std::getline(err, line)) {
        if (!line.empty()) last = line;
      }
      result r;
      r.workload = "fragmentation";
      r.peer = std::string("rmm_") + which;
      r.error = "did not run: exit status " + std::to_string(WIFEXITED(rc) ? WEXITSTATUS(rc) : rc) +
                (last.empty() ? "" : ": " + last);
      extra.push_back(r.json());
    }
  }
  std::string how;
  std::vector<std::string> ir_rows;
  if (callgrind && std::system("valgrind --version >/dev/null 2>&1") == 0) {
    for (std::size_t bytes : {std::size_t{256}, std::size_t{64} << 10, std::size_t{8} << 20}) {
      for (const char* which : {"pinpool", "pinpool_nocapture", "rmm"}) {
        const double ir = callgrind_ir(self, which, bytes, 20000, how);
        std::ostringstream o;
        o << "{\"peer\": \"" << (which == std::string("rmm") ? "rmm_pool" : which)
          << "\", \"bytes\": " << bytes << ", \"ir_per_round_trip\": " << ir << "}";
        ir_rows.push_back(o.str());
        std::printf("callgrind %-8s %9zu B: %.1f Ir per same-stream round trip\n", which, bytes,
                    ir);
      }
    }
  }
  std::ofstream f(out_path);
  f << "{\n  \"suite\": \"rmm\",\n  \"runtime\": \"tests/emulation (CPU emulation of the CUDA "
       "runtime), one process, both pools\",\n  \"rmm_version\": \"26.10\",\n  \"date_utc\": \""
    << utc_now() << "\",\n  \"compiler\": \"g++ " << __VERSION__
    << "\",\n  \"iterations\": " << iterations << ",\n  \"results\": [\n";
  bool first = true;
  for (const auto& r : results) {
    f << (first ? "    " : ",\n    ") << r.json();
    first = false;
  }
  for (const auto& e : extra) f << ",\n    " << e;
  f << "\n  ],\n  \"instructions\": {\n    \"method\": \"" << json_escape(how)
    << "\",\n    \"rows\": [";
  first = true;
  for (const auto& r : ir_rows) {
    f << (first ? "\n      " : ",\n      ") << r;
    first = false;
  }
  f << "\n    ]\n  }\n}\n";
  for (const auto& r : results) std::printf("%s\n", r.json().c_str());
  for (const auto& e : extra) std::printf("%s\n", e.c_str());
  std::printf("wrote %s\n", out_path.c_str());
  return 0;
}
