#pragma once
// The collector behind libpinpool_trace.so and the in-process recorder (internal): the state
// NVTX calls update, under one mutex. NVTX types stay in nvtx_hooks.cpp; this file speaks
// plain C++.

#include <pinpool/trace/recorder.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pinpool::trace::detail {

/// @brief A domain; its address is the nvtxDomainHandle_t given to the program. Never freed.
struct domain_record {
  std::string name;
  std::unordered_map<std::uint32_t, std::string> categories;
};

/// @brief The attributes of a range or mark, decoded from nvtxEventAttributes_t.
struct event_attrs {
  std::string name;
  std::uint32_t category = 0;
  std::optional<std::uint32_t> color;
  std::optional<double> payload;
};

/// @brief One region (or heap range) in the memory API: address and size.
struct mem_range {
  const void* ptr = nullptr;
  std::size_t bytes = 0;
};

class collector {
 public:
  /// @brief The process-wide collector (created on first use, never destroyed, so that late
  /// NVTX calls from threads still running at exit stay safe).
  static collector& instance();

  /// @brief Whether to keep `memory_event`s (the recorder does; the trace library needs only
  /// the counters they produce).
  void keep_memory_events(bool keep) noexcept { keep_memory_events_ = keep; }
  /// @brief After this, calls are ignored (the trace was written at exit).
  void stop() noexcept;

  void set_core_attached() noexcept { core_attached_ = true; }
  void set_memory_attached() noexcept { memory_attached_ = true; }
  bool core_attached() const noexcept { return core_attached_; }
  bool memory_attached() const noexcept { return memory_attached_; }

  // ---- core API -----------------------------------------------------------------------------
  domain_record* create_domain(std::string name);
  /// @brief Interns `text`; the address of the stored string is the nvtxStringHandle_t.
  const std::string* register_string(std::string text);
  void name_category(domain_record* d, std::uint32_t id, std::string name);
  void name_thread(std::uint32_t tid, std::string name);
  void mark(domain_record* d, event_attrs a);
  /// @return the new range's depth in (thread, domain).
  int push(domain_record* d, event_attrs a);
  /// @return the popped range's depth, or -1 when the thread has no open range in `d`.
  int pop(domain_record* d);
  std::uint64_t start(domain_record* d, event_attrs a);
  void end(std::uint64_t id);

  // ---- memory API ---------------------------------------------------------------------------
  /// @return the heap's id (never 0 or all-ones).
  std::uint64_t heap_register(domain_record* d, std::string name, std::uint32_t usage,
                              std::uint32_t type, mem_range r);
  void heap_unregister(domain_record* d, std::uint64_t heap);
  void heap_reset(domain_record* d, std::uint64_t heap);
  void regions_register(domain_record* d, std::uint64_t heap, const std::vector<mem_range>& rs);
  void regions_resize(domain_record* d, const std::vector<mem_range>& rs);
  void regions_unregister(domain_record* d, const std::vector<const void*>& ptrs);

  // ---- reading ------------------------------------------------------------------------------
  trace_snapshot snapshot() const;
  void clear();
  std::size_t bytes_in_use(std::string_view domain) const;

 private:
  collector();

  struct open_push {
    domain_record* domain;
    event_attrs attrs;
    std::int64_t start_ns;
    int depth;
  };
  struct thread_state {
    std::vector<open_push> stack;  // every domain's pushes, innermost last
  };
  struct open_start {
    domain_record* domain;
    event_attrs attrs;
    std::int64_t start_ns;
    std::uint32_t tid;
  };
  struct heap_state {
    domain_record* domain;
    std::string name;
    std::uint32_t usage;
    std::uint32_t type;
    mem_range range;
    std::size_t regions = 0;
    std::size_t bytes_in_use = 0;
    std::string in_use_track;
    std::string heap_track;
  };
  struct region_key {
    const domain_record* domain;
    const void* ptr;
    bool operator==(const region_key& o) const noexcept {
      return domain == o.domain && ptr == o.ptr;
    }
  };
  struct region_key_hash {
    std::size_t operator()(const region_key& k) const noexcept;
  };
  struct region_state {
    std::uint64_t heap;
    std::size_t bytes;
  };

  std::int64_t now_ns() const noexcept;
  /// @brief This thread's OS id; registers the thread (and its pthread name) on first use.
  std::uint32_t this_thread();
  std::string domain_name(const domain_record* d) const { return d ? d->name : std::string{}; }
  std::string category_name(const domain_record* d, std::uint32_t id) const;
  range make_range(const domain_record* d, event_attrs&& a) const;
  std::string track_name(const domain_record* d, const std::string& heap_name,
                         const char* what) const;
  // Under mutex_:
  void add_counter(const std::string& track, std::int64_t delta, std::int64_t t);
  void drop_regions(std::uint64_t heap, const domain_record* d, std::int64_t t, std::uint32_t tid,
                    memory_op op);
  void record_memory(memory_op op, const domain_record* d, std::uint64_t heap, const void* ptr,
                     std::size_t bytes, std::uint32_t tid, std::int64_t t);
  heap_state* find_heap(std::uint64_t id);
  std::string in_use_track_of(std::uint64_t heap, const domain_record* d) const;

  const std::chrono::steady_clock::time_point epoch_;
  std::atomic<bool> core_attached_{false};
  std::atomic<bool> memory_attached_{false};
  std::atomic<bool> stopped_{false};
  bool keep_memory_events_ = true;

  mutable std::mutex mutex_;
  std::deque<domain_record> domains_;
  std::unordered_map<std::string, domain_record*> domains_by_name_;
  std::deque<std::string> strings_;
  std::unordered_map<std::string, const std::string*> strings_by_text_;
  std::unordered_map<std::uint32_t, std::string> default_categories_;
  std::map<std::uint32_t, thread_info> threads_;
  std::unordered_map<std::uint32_t, thread_state> thread_states_;
  std::unordered_map<std::uint64_t, open_start> open_starts_;
  std::uint64_t next_range_id_ = 1;
  std::map<std::uint64_t, heap_state> heaps_;
  std::uint64_t next_heap_id_ = 1;
  std::unordered_map<region_key, region_state, region_key_hash> regions_;
  std::unordered_map<std::string, std::int64_t> counter_values_;

  // Recorded (cleared by clear()).
  std::vector<range> ranges_;
  std::vector<pinpool::trace::mark> marks_;
  std::vector<memory_event> memory_;
  std::vector<counter_sample> counters_;
};

}  // namespace pinpool::trace::detail
