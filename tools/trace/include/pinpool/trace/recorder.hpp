#pragma once
/// @file pinpool/trace/recorder.hpp
/// @brief What pinpool-trace records from NVTX, and the in-process recorder that lets a test read
/// it back.
///
/// The same collector runs in two forms:
/// - `libpinpool_trace.so`, an NVTX injection library for any program:
///   `NVTX_INJECTION64_PATH=<prefix>/lib/libpinpool_trace.so PINPOOL_TRACE_OUT=trace.json prog`
///   writes a Chrome/Perfetto trace (see `to_chrome_json`) when the program exits.
/// - `pinpool_nvtx_recorder` (CMake target `pinpool::nvtx_recorder`), a static library for tests:
///   linked into a test binary it attaches to NVTX through NVTX's static-injection hooks, and
///   `recorder::snapshot()` returns what the process emitted so far.
///
/// Recorded: push/pop and start/end ranges and marks of every domain (with their thread,
/// nesting depth, category, colour and payload), thread names (nvtxNameOsThread), and the
/// memory API: heap and region registrations, from which the bytes registered per heap and
/// domain are derived as counters.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pinpool::trace {

/// @brief How a range was opened.
enum class range_kind {
  push_pop,   ///< nvtxRangePush* / nvtxDomainRangePushEx: nested per thread and domain.
  start_end,  ///< nvtxRangeStart* / nvtxDomainRangeStartEx: may end on another thread.
};

/// @brief A range. Times are nanoseconds since the collector started (steady clock).
struct range {
  std::string name;
  std::string domain;    ///< "" for NVTX's default domain (the calls without a domain)
  std::string category;  ///< the category's name (nvtxNameCategory*), else its number, else ""
  std::uint32_t category_id = 0;
  std::optional<std::uint32_t> color;  ///< ARGB, when given
  std::optional<double> payload;       ///< when given (integers converted to double)
  range_kind kind = range_kind::push_pop;
  std::uint32_t tid = 0;      ///< OS thread id (gettid) of the thread that pushed / started it
  std::uint32_t end_tid = 0;  ///< of the thread that popped / ended it; 0 while open
  /// push_pop: nesting level within (thread, domain), 0 = outermost (NVTX's push return value).
  /// start_end: 0.
  int depth = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = -1;  ///< -1 while open
  /// start_end: the id nvtxRangeStart returned; push_pop: 0.
  std::uint64_t id = 0;

  bool open() const noexcept { return end_ns < 0; }
  std::int64_t duration_ns() const noexcept { return open() ? 0 : end_ns - start_ns; }
  /// @brief True when `inner` lies within this range in time (bounds included).
  bool contains(const range& inner) const noexcept {
    return start_ns <= inner.start_ns && (open() || (!inner.open() && inner.end_ns <= end_ns));
  }
};

/// @brief An instantaneous marker (nvtxMark*, nvtxDomainMarkEx).
struct mark {
  std::string name;
  std::string domain;
  std::string category;
  std::uint32_t category_id = 0;
  std::optional<std::uint32_t> color;
  std::optional<double> payload;
  std::uint32_t tid = 0;
  std::int64_t time_ns = 0;
};

/// @brief Memory-API operations, one event per heap or per region (batches are expanded).
enum class memory_op {
  heap_register,      ///< nvtxMemHeapRegister
  heap_unregister,    ///< nvtxMemHeapUnregister (its regions go with it)
  heap_reset,         ///< nvtxMemHeapReset (its regions go, the heap stays)
  region_register,    ///< one region of nvtxMemRegionsRegister
  region_resize,      ///< one region of nvtxMemRegionsResize
  region_unregister,  ///< one region of nvtxMemRegionsUnregister (by pointer or handle)
};

/// @brief One memory-API operation. Only NVTX_MEM_TYPE_VIRTUAL_ADDRESS regions are tracked.
struct memory_event {
  memory_op op = memory_op::heap_register;
  std::string domain;
  /// The heap: the id returned as its handle (1, 2, ...); 0 = NVTX_MEM_HEAP_HANDLE_PROCESS_WIDE.
  /// For region_unregister/resize: the heap the region was registered in.
  std::uint64_t heap = 0;
  std::string heap_name;    ///< the heap descriptor's message, if any
  std::uint32_t usage = 0;  ///< heap_register: NVTX_MEM_HEAP_USAGE_*
  std::uint32_t type = 0;   ///< heap_register: NVTX_MEM_TYPE_*
  /// heap_register: the heap's range (VIRTUAL_ADDRESS heaps); region_*: the region's address.
  const void* ptr = nullptr;
  /// heap_register: the heap's size; region_register/resize: the region's (new) size;
  /// region_unregister: the size it had; heap_unregister/reset: the bytes of regions dropped.
  std::size_t bytes = 0;
  std::uint32_t tid = 0;
  std::int64_t time_ns = 0;
};

/// @brief A live heap (registered and not unregistered).
struct heap_info {
  std::uint64_t id = 0;
  std::string domain;
  std::string name;
  std::uint32_t usage = 0;
  std::uint32_t type = 0;
  const void* ptr = nullptr;
  std::size_t bytes = 0;
  std::size_t regions = 0;       ///< live regions registered in it
  std::size_t bytes_in_use = 0;  ///< sum of their sizes
};

/// @brief A value of a counter track at a point in time.
///
/// Tracks: "<D>: bytes in use" (sum of live region sizes of domain D's heaps), and
/// "<D>: heap bytes" (sum of its live VIRTUAL_ADDRESS heap sizes), where <D> is the domain
/// name, or "<domain>/<heap name>" for heaps registered with a name. The default domain's
/// tracks have no "<D>: " prefix.
struct counter_sample {
  std::string track;
  std::int64_t time_ns = 0;
  std::int64_t value = 0;
};

/// @brief Names of a thread that emitted events or was named.
struct thread_info {
  std::string nvtx_name;  ///< from nvtxNameOsThread* (may be empty)
  std::string os_name;    ///< pthread name when it first emitted an event (may be empty)
  /// @brief The NVTX name, else the OS name.
  const std::string& display_name() const noexcept {
    return nvtx_name.empty() ? os_name : nvtx_name;
  }
};

/// @brief Everything recorded so far, copied out under the collector's lock.
struct trace_snapshot {
  std::uint32_t pid = 0;
  std::string process_name;
  std::int64_t now_ns = 0;  ///< when the snapshot was taken
  /// Closed ranges in the order they closed, then the ranges still open (end_ns == -1).
  std::vector<range> ranges;
  std::vector<mark> marks;
  std::vector<memory_event> memory;  ///< empty in libpinpool_trace.so (it keeps counters only)
  std::vector<counter_sample> counters;
  std::vector<heap_info> heaps;  ///< live heaps, by id
  std::map<std::uint32_t, thread_info> threads;
  std::vector<std::string> domains;  ///< created domains, in creation order

  /// @brief The ranges called `name` (in any domain unless `domain` is given), in `ranges` order.
  std::vector<const range*> find_ranges(std::string_view name,
                                        std::optional<std::string_view> domain = {}) const;
  /// @brief The marks called `name`.
  std::vector<const mark*> find_marks(std::string_view name) const;
  /// @brief The display name of thread `tid` ("" when unknown).
  std::string thread_name(std::uint32_t tid) const;
  /// @brief Sum of the live regions' sizes in domain `domain`'s heaps ("" = default domain).
  std::size_t bytes_in_use(std::string_view domain) const;
  /// @brief The samples of one counter track, in time order.
  std::vector<counter_sample> track(std::string_view name) const;
};

/// @brief The Chrome/Perfetto "traceEvents" JSON of a snapshot.
///
/// - push/pop and start/end ranges: "X" complete events on the thread that pushed / started
///   them (`tid` = OS thread id, `cat` = domain or "nvtx", args: domain, depth, kind, category,
///   color, payload, end_tid when a start/end range ended on another thread, open=true for a
///   range still open at the end, drawn up to the snapshot). A start/end range that would
///   overlap another range of its thread without nesting goes on an extra row of that thread,
///   named "<thread> (overlap N)", so that every row nests properly in the viewers.
/// - marks: "i" instant events, thread scope.
/// - counters: "C" events, one track per `counter_sample::track`, series "bytes".
/// - "M" metadata: process_name, thread_name (NVTX name, else OS name), thread_sort_index.
/// Timestamps are microseconds with nanosecond decimals. Strings are UTF-8 (invalid bytes
/// replaced by U+FFFD).
std::string to_chrome_json(const trace_snapshot& snapshot);

/// @brief The in-process recorder: available in binaries linked with `pinpool::nvtx_recorder`.
///
/// NVTX attaches a tool once per process, on the first NVTX call: the recorder then receives
/// every NVTX call of the binary (all code statically linked into it, including pinpool). It
/// records from that point on, for the whole process; tests call `clear()` to start afresh.
/// Thread-safe.
///
/// @note When NVTX_INJECTION64_PATH is set (e.g. under Nsight Systems or pinpool-trace), NVTX
/// loads that tool instead and the recorder stays detached: `attach()` returns false.
class recorder {
 public:
  recorder() = delete;

  /// @brief Makes NVTX initialise now (core and memory extension) and tells whether the
  /// recorder is the attached tool.
  static bool attach();
  /// @brief True once NVTX attached the recorder (core API and memory extension).
  static bool attached() noexcept;
  /// @brief A copy of everything recorded so far.
  static trace_snapshot snapshot();
  /// @brief Forgets recorded ranges, marks, memory events and counter samples. Keeps what is
  /// still live: open ranges, registered heaps and regions (so counters stay right), domains
  /// and thread names.
  static void clear();
  /// @brief Sum of the live regions' sizes in `domain`'s heaps, now.
  static std::size_t bytes_in_use(std::string_view domain);
  /// @brief Writes `to_chrome_json(snapshot())` to `path`. @return false if it could not.
  static bool write_chrome_trace(const std::string& path);
};

}  // namespace pinpool::trace
