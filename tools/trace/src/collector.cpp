#include "collector.hpp"

#include <cerrno>  // program_invocation_short_name (GNU)
#include <functional>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pinpool::trace::detail {

namespace {
constexpr std::uint32_t virtual_address_type = 1;  // NVTX_MEM_TYPE_VIRTUAL_ADDRESS
thread_local std::uint32_t this_tid = 0;           // 0 until the thread's first event
}  // namespace

std::size_t collector::region_key_hash::operator()(const region_key& k) const noexcept {
  return std::hash<const void*>{}(k.ptr) ^ (std::hash<const void*>{}(k.domain) * 31u);
}

collector& collector::instance() {
  static collector* const c = new collector;  // never destroyed: see the declaration
  return *c;
}

collector::collector() : epoch_(std::chrono::steady_clock::now()) {
  // A forked child's thread has another id than the parent thread it was forked from.
  ::pthread_atfork(nullptr, nullptr, [] { this_tid = 0; });
}

void collector::stop() noexcept {
  stopped_ = true;
}

std::int64_t collector::now_ns() const noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                              epoch_)
      .count();
}

std::uint32_t collector::this_thread() {
  if (this_tid != 0) return this_tid;
  const auto id = static_cast<std::uint32_t>(::syscall(SYS_gettid));
  char name[64] = {};
  ::pthread_getname_np(::pthread_self(), name, sizeof name);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    threads_[id].os_name = name;
  }
  this_tid = id;
  return id;
}

std::string collector::category_name(const domain_record* d, std::uint32_t id) const {
  if (id == 0) return {};
  const auto& names = d ? d->categories : default_categories_;
  const auto it = names.find(id);
  return it != names.end() ? it->second : std::to_string(id);
}

range collector::make_range(const domain_record* d, event_attrs&& a) const {
  range r;
  r.name = std::move(a.name);
  r.domain = domain_name(d);
  r.category = category_name(d, a.category);
  r.category_id = a.category;
  r.color = a.color;
  r.payload = a.payload;
  return r;
}

std::string collector::track_name(const domain_record* d, const std::string& heap_name,
                                  const char* what) const {
  std::string prefix = domain_name(d);
  if (!heap_name.empty()) prefix = prefix.empty() ? heap_name : prefix + "/" + heap_name;
  return prefix.empty() ? std::string(what) : prefix + ": " + what;
}

// ---- core API ---------------------------------------------------------------------------------

domain_record* collector::create_domain(std::string name) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = domains_by_name_.find(name);
  if (it != domains_by_name_.end()) return it->second;
  domain_record& d = domains_.emplace_back();
  d.name = std::move(name);
  domains_by_name_.emplace(d.name, &d);
  return &d;
}

const std::string* collector::register_string(std::string text) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = strings_by_text_.find(text);
  if (it != strings_by_text_.end()) return it->second;
  const std::string* stored = &strings_.emplace_back(std::move(text));
  strings_by_text_.emplace(*stored, stored);
  return stored;
}

void collector::name_category(domain_record* d, std::uint32_t id, std::string name) {
  std::lock_guard<std::mutex> lock(mutex_);
  (d ? d->categories : default_categories_)[id] = std::move(name);
}

void collector::name_thread(std::uint32_t tid, std::string name) {
  std::lock_guard<std::mutex> lock(mutex_);
  threads_[tid].nvtx_name = std::move(name);
}

void collector::mark(domain_record* d, event_attrs a) {
  if (stopped_) return;
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  pinpool::trace::mark m;
  m.name = std::move(a.name);
  m.domain = domain_name(d);
  m.category = category_name(d, a.category);
  m.category_id = a.category;
  m.color = a.color;
  m.payload = a.payload;
  m.tid = tid;
  m.time_ns = t;
  marks_.push_back(std::move(m));
}

int collector::push(domain_record* d, event_attrs a) {
  if (stopped_) return 0;
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  auto& stack = thread_states_[tid].stack;
  int depth = 0;
  for (const open_push& o : stack) depth += o.domain == d ? 1 : 0;
  stack.push_back(open_push{d, std::move(a), t, depth});
  return depth;
}

int collector::pop(domain_record* d) {
  if (stopped_) return 0;
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = thread_states_.find(tid);
  if (it == thread_states_.end()) return -1;
  auto& stack = it->second.stack;
  for (std::size_t i = stack.size(); i-- > 0;) {
    if (stack[i].domain != d) continue;
    range r = make_range(d, std::move(stack[i].attrs));
    r.kind = range_kind::push_pop;
    r.tid = tid;
    r.end_tid = tid;
    r.depth = stack[i].depth;
    r.start_ns = stack[i].start_ns;
    r.end_ns = t;
    ranges_.push_back(std::move(r));
    stack.erase(stack.begin() + static_cast<std::ptrdiff_t>(i));
    return ranges_.back().depth;
  }
  return -1;
}

std::uint64_t collector::start(domain_record* d, event_attrs a) {
  if (stopped_) return 0;
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  const std::uint64_t id = next_range_id_++;
  open_starts_.emplace(id, open_start{d, std::move(a), t, tid});
  return id;
}

void collector::end(std::uint64_t id) {
  if (stopped_) return;
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = open_starts_.find(id);
  if (it == open_starts_.end()) return;
  open_start& o = it->second;
  range r = make_range(o.domain, std::move(o.attrs));
  r.kind = range_kind::start_end;
  r.tid = o.tid;
  r.end_tid = tid;
  r.start_ns = o.start_ns;
  r.end_ns = t;
  r.id = id;
  ranges_.push_back(std::move(r));
  open_starts_.erase(it);
}

// ---- memory API -------------------------------------------------------------------------------

void collector::add_counter(const std::string& track, std::int64_t delta, std::int64_t t) {
  const std::int64_t value = counter_values_[track] += delta;
  counters_.push_back(counter_sample{track, t, value});
}

void collector::record_memory(memory_op op, const domain_record* d, std::uint64_t heap,
                              const void* ptr, std::size_t bytes, std::uint32_t tid,
                              std::int64_t t) {
  if (!keep_memory_events_) return;
  memory_event e;
  e.op = op;
  e.domain = domain_name(d);
  e.heap = heap;
  if (const auto it = heaps_.find(heap); it != heaps_.end()) {
    e.heap_name = it->second.name;
    e.usage = it->second.usage;
    e.type = it->second.type;
  }
  e.ptr = ptr;
  e.bytes = bytes;
  e.tid = tid;
  e.time_ns = t;
  memory_.push_back(std::move(e));
}

collector::heap_state* collector::find_heap(std::uint64_t id) {
  const auto it = heaps_.find(id);
  return it != heaps_.end() ? &it->second : nullptr;
}

std::string collector::in_use_track_of(std::uint64_t heap, const domain_record* d) const {
  const auto it = heaps_.find(heap);
  return it != heaps_.end() ? it->second.in_use_track : track_name(d, {}, "bytes in use");
}

std::uint64_t collector::heap_register(domain_record* d, std::string name, std::uint32_t usage,
                                       std::uint32_t type, mem_range r) {
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  const std::uint64_t id = next_heap_id_++;
  heap_state h;
  h.domain = d;
  h.usage = usage;
  h.type = type;
  h.range = r;
  h.in_use_track = track_name(d, name, "bytes in use");
  h.heap_track = track_name(d, name, "heap bytes");
  h.name = std::move(name);
  heap_state& stored = heaps_.emplace(id, std::move(h)).first->second;
  if (stopped_) return id;
  add_counter(stored.in_use_track, 0, t);  // the track starts when its first heap appears
  if (type == virtual_address_type) {
    add_counter(stored.heap_track, static_cast<std::int64_t>(r.bytes), t);
  }
  record_memory(memory_op::heap_register, d, id, r.ptr, r.bytes, tid, t);
  return id;
}

void collector::drop_regions(std::uint64_t heap, const domain_record* d, std::int64_t t,
                             std::uint32_t tid, memory_op op) {
  std::size_t dropped = 0;
  for (auto it = regions_.begin(); it != regions_.end();) {
    if (it->second.heap == heap && it->first.domain == d) {
      dropped += it->second.bytes;
      it = regions_.erase(it);
    } else {
      ++it;
    }
  }
  if (heap_state* h = find_heap(heap)) {
    h->regions = 0;
    h->bytes_in_use = 0;
  }
  if (stopped_) return;
  if (dropped != 0) add_counter(in_use_track_of(heap, d), -static_cast<std::int64_t>(dropped), t);
  record_memory(op, d, heap, nullptr, dropped, tid, t);
}

void collector::heap_unregister(domain_record* d, std::uint64_t heap) {
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  heap_state* h = find_heap(heap);
  if (h == nullptr) return;
  drop_regions(heap, h->domain, t, tid, memory_op::heap_unregister);
  if (!stopped_ && h->type == virtual_address_type) {
    add_counter(h->heap_track, -static_cast<std::int64_t>(h->range.bytes), t);
  }
  (void)d;  // the heap knows its domain
  heaps_.erase(heap);
}

void collector::heap_reset(domain_record* d, std::uint64_t heap) {
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  const heap_state* h = find_heap(heap);
  drop_regions(heap, h ? h->domain : d, t, tid, memory_op::heap_reset);
}

void collector::regions_register(domain_record* d, std::uint64_t heap,
                                 const std::vector<mem_range>& rs) {
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const mem_range& r : rs) {
    const region_key key{d, r.ptr};
    if (const auto old = regions_.find(key); old != regions_.end()) {  // re-registered: replace
      if (heap_state* h = find_heap(old->second.heap)) {
        --h->regions;
        h->bytes_in_use -= old->second.bytes;
      }
      if (!stopped_) {
        add_counter(in_use_track_of(old->second.heap, d),
                    -static_cast<std::int64_t>(old->second.bytes), t);
      }
      regions_.erase(old);
    }
    regions_.emplace(key, region_state{heap, r.bytes});
    if (heap_state* h = find_heap(heap)) {
      ++h->regions;
      h->bytes_in_use += r.bytes;
    }
    if (stopped_) continue;
    add_counter(in_use_track_of(heap, d), static_cast<std::int64_t>(r.bytes), t);
    record_memory(memory_op::region_register, d, heap, r.ptr, r.bytes, tid, t);
  }
}

void collector::regions_resize(domain_record* d, const std::vector<mem_range>& rs) {
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const mem_range& r : rs) {
    const auto it = regions_.find(region_key{d, r.ptr});
    if (it == regions_.end()) continue;
    const auto delta =
        static_cast<std::int64_t>(r.bytes) - static_cast<std::int64_t>(it->second.bytes);
    it->second.bytes = r.bytes;
    if (heap_state* h = find_heap(it->second.heap)) {
      h->bytes_in_use =
          static_cast<std::size_t>(static_cast<std::int64_t>(h->bytes_in_use) + delta);
    }
    if (stopped_) continue;
    add_counter(in_use_track_of(it->second.heap, d), delta, t);
    record_memory(memory_op::region_resize, d, it->second.heap, r.ptr, r.bytes, tid, t);
  }
}

void collector::regions_unregister(domain_record* d, const std::vector<const void*>& ptrs) {
  const std::uint32_t tid = this_thread();
  const std::int64_t t = now_ns();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const void* p : ptrs) {
    const auto it = regions_.find(region_key{d, p});
    if (it == regions_.end()) continue;
    const region_state gone = it->second;
    regions_.erase(it);
    if (heap_state* h = find_heap(gone.heap)) {
      --h->regions;
      h->bytes_in_use -= gone.bytes;
    }
    if (stopped_) continue;
    add_counter(in_use_track_of(gone.heap, d), -static_cast<std::int64_t>(gone.bytes), t);
    record_memory(memory_op::region_unregister, d, gone.heap, p, gone.bytes, tid, t);
  }
}

// ---- reading ----------------------------------------------------------------------------------

trace_snapshot collector::snapshot() const {
  trace_snapshot s;
  s.pid = static_cast<std::uint32_t>(::getpid());
  s.process_name = program_invocation_short_name;
  std::lock_guard<std::mutex> lock(mutex_);
  s.now_ns = now_ns();
  s.ranges = ranges_;
  for (const auto& [tid, st] : thread_states_) {
    for (const open_push& o : st.stack) {
      range r = make_range(o.domain, event_attrs(o.attrs));
      r.tid = tid;
      r.depth = o.depth;
      r.start_ns = o.start_ns;
      s.ranges.push_back(std::move(r));
    }
  }
  for (const auto& [id, o] : open_starts_) {
    range r = make_range(o.domain, event_attrs(o.attrs));
    r.kind = range_kind::start_end;
    r.tid = o.tid;
    r.start_ns = o.start_ns;
    r.id = id;
    s.ranges.push_back(std::move(r));
  }
  s.marks = marks_;
  s.memory = memory_;
  s.counters = counters_;
  std::map<const domain_record*, heap_info> process_wide;  // regions outside any heap
  for (const auto& [key, region] : regions_) {
    if (region.heap != 0) continue;
    heap_info& h = process_wide[key.domain];
    h.domain = domain_name(key.domain);
    ++h.regions;
    h.bytes_in_use += region.bytes;
  }
  for (auto& [domain, h] : process_wide) s.heaps.push_back(std::move(h));
  for (const auto& [id, h] : heaps_) {
    heap_info info;
    info.id = id;
    info.domain = domain_name(h.domain);
    info.name = h.name;
    info.usage = h.usage;
    info.type = h.type;
    info.ptr = h.range.ptr;
    info.bytes = h.range.bytes;
    info.regions = h.regions;
    info.bytes_in_use = h.bytes_in_use;
    s.heaps.push_back(std::move(info));
  }
  s.threads = threads_;
  for (const domain_record& d : domains_) s.domains.push_back(d.name);
  return s;
}

void collector::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  ranges_.clear();
  marks_.clear();
  memory_.clear();
  counters_.clear();
  const std::int64_t t = now_ns();
  for (const auto& [track, value] : counter_values_) {  // each track restarts at its value
    counters_.push_back(counter_sample{track, t, value});
  }
}

std::size_t collector::bytes_in_use(std::string_view domain) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t total = 0;
  for (const auto& [key, region] : regions_) {
    if ((key.domain ? std::string_view(key.domain->name) : std::string_view{}) == domain) {
      total += region.bytes;
    }
  }
  return total;
}

}  // namespace pinpool::trace::detail
