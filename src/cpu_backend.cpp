#include "cpu_backend.hpp"
#include "cpu_stream.hpp"
#include "numa.hpp"
#include "pinned_slab.hpp"

#include <pinpool/error.hpp>

#include <atomic>
#include <stdexcept>
#include <string>

namespace pinpool::detail {
namespace {

cpu_stream& as_stream(const stream_ref& s) {
  return *static_cast<cpu_stream*>(s.native_handle());
}
cpu_event& as_event(void* e) {
  return *static_cast<cpu_event*>(e);
}

// Counts down an injection counter: true when this call is the one to fail.
bool hits(std::atomic<unsigned>& nth) {
  unsigned n = nth.load();
  while (n != 0 && !nth.compare_exchange_weak(n, n - 1)) {
  }
  return n == 1;
}

class cpu_backend final : public backend {
 public:
  explicit cpu_backend(std::shared_ptr<cpu_faults> faults) : faults_(std::move(faults)) {}

  backend_kind kind() const noexcept override { return backend_kind::cpu; }
  const char* name() const noexcept override { return "cpu"; }
  int device_count() const noexcept override { return 1; }

  /// Anonymous memory (pinned_slab.hpp), placed on `r.numa_node`. pinned_host: first-touched
  /// on `r.touch_threads` threads, then mlock'd when RLIMIT_MEMLOCK allows; host: untouched.
  slab allocate(const slab_request& r) override {
    check_request(r);
    inject(faults_ ? &faults_->fail_nth_allocation : nullptr, "allocate");
    const bool pinned = r.kind == memory_kind::pinned_host;
    const host_slab h = make_host_slab({r.bytes, r.numa_node, r.touch_threads, pinned, pinned});
    slab s{h.ptr, r.bytes, r.kind, r.device, h.locked, h.numa_node, false};
    return s;
  }

  void deallocate(const slab& s) noexcept override { free_host_slab(s.ptr, s.bytes); }

  void* create_native_stream(int device) override {
    check_device(device);
    inject(faults_ ? &faults_->fail_nth_stream_call : nullptr, "create_stream");
    const int n = ++streams_created_;
    return new cpu_stream("cpu-stream-" + std::to_string(n), next_stream_id());
  }
  void destroy_native_stream(void* handle, int /*device*/) noexcept override {
    delete static_cast<cpu_stream*>(handle);
  }
  void memcpy_async(stream_ref s, void* dst, const void* src, std::size_t bytes) override {
    inject(nullptr, "memcpy_async");
    as_stream(s).enqueue_copy(dst, src, bytes);
  }
  void launch_host_func(stream_ref s, std::function<void()> fn) override {
    inject(nullptr, "launch_host_func");
    as_stream(s).enqueue_host_func(std::move(fn));
  }
  void synchronize(stream_ref s) override {
    inject(nullptr, "synchronize");
    as_stream(s).synchronize();
  }
  std::uint64_t stream_id(void* handle, int /*device*/) noexcept override {
    return static_cast<cpu_stream*>(handle)->id();
  }
  int stream_device(void* /*handle*/) override { return 0; }

  void* create_event(int device) override {
    check_device(device);
    inject(faults_ ? &faults_->fail_nth_event_call : nullptr, "create_event");
    return new cpu_event();
  }
  void destroy_event(void* e, int /*device*/) noexcept override {
    delete static_cast<cpu_event*>(e);
  }
  void record_event(void* e, int /*device*/, stream_ref s) override {
    inject(faults_ ? &faults_->fail_nth_event_call : nullptr, "record_event");
    as_event(e).record(as_stream(s).current_point());
  }
  bool stream_idle(stream_ref s) override {
    inject(nullptr, "stream_idle");
    return as_stream(s).idle();
  }
  bool event_done(void* e, int /*device*/) override {
    inject(nullptr, "event_done");
    return as_event(e).done();
  }
  void stream_wait_event(stream_ref s, void* e, int /*device*/) override {
    inject(nullptr, "stream_wait_event");
    as_stream(s).enqueue_wait(as_event(e).point());
  }
  void synchronize_event(void* e, int /*device*/) override {
    const stream_point p = as_event(e).point();
    if (p.stream) p.stream->wait(p.tasks);
  }

 private:
  static void check_request(const slab_request& r) {
    check_device(r.device);
    if (r.bytes == 0) throw std::invalid_argument("pinpool: cpu backend: cannot allocate 0 bytes");
    check_numa_node(r.numa_node, "pinpool: cpu backend");
  }
  // Identities are process-wide, so no two streams of any CPU backend share one.
  static std::uint64_t next_stream_id() noexcept {
    static std::atomic<std::uint64_t> last{0};
    return ++last;
  }
  static void check_device(int device) {
    if (device != 0) {
      throw std::invalid_argument("pinpool: cpu backend has one device (0), asked for " +
                                  std::to_string(device));
    }
  }
  // Throws when fault injection says so: the sticky state fails every call, `nth` one call.
  void inject(std::atomic<unsigned>* nth, const char* call) {
    if (!faults_) return;
    const bool sticky = faults_->sticky.load();
    if (!sticky && (nth == nullptr || !hits(*nth))) return;
    ++faults_->injected;
    const std::string what = std::string("pinpool: cpu backend: injected ") +
                             (sticky ? "sticky failure" : "failure") + " in " + call;
    if (!sticky && nth == &faults_->fail_nth_allocation) throw out_of_memory(what);
    throw backend_error(what);
  }

  std::shared_ptr<cpu_faults> faults_;
  std::atomic<int> streams_created_{0};
};

}  // namespace

std::shared_ptr<backend> make_cpu_backend(std::shared_ptr<cpu_faults> faults) {
  return std::make_shared<cpu_backend>(std::move(faults));
}

}  // namespace pinpool::detail
