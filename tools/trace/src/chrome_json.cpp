// to_chrome_json and the trace_snapshot helpers.

#include "text.hpp"

#include <pinpool/trace/recorder.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pinpool::trace {

using detail::append_json_string;

// ---- trace_snapshot helpers -------------------------------------------------------------------

std::vector<const range*> trace_snapshot::find_ranges(
    std::string_view name, std::optional<std::string_view> domain) const {
  std::vector<const range*> out;
  for (const range& r : ranges) {
    if (r.name == name && (!domain || r.domain == *domain)) out.push_back(&r);
  }
  return out;
}

std::vector<const mark*> trace_snapshot::find_marks(std::string_view name) const {
  std::vector<const mark*> out;
  for (const mark& m : marks) {
    if (m.name == name) out.push_back(&m);
  }
  return out;
}

std::string trace_snapshot::thread_name(std::uint32_t tid) const {
  const auto it = threads.find(tid);
  return it != threads.end() ? it->second.display_name() : std::string{};
}

std::size_t trace_snapshot::bytes_in_use(std::string_view domain) const {
  std::size_t total = 0;
  for (const heap_info& h : heaps) total += h.domain == domain ? h.bytes_in_use : 0;
  return total;
}

std::vector<counter_sample> trace_snapshot::track(std::string_view name) const {
  std::vector<counter_sample> out;
  for (const counter_sample& c : counters) {
    if (c.track == name) out.push_back(c);
  }
  return out;
}

// ---- Chrome trace JSON ------------------------------------------------------------------------

namespace {

// Rows beyond a thread's own (for start/end ranges that overlap without nesting) get this tid
// offset per extra row; Linux thread ids stay below 2^22.
constexpr std::uint32_t lane_tid_step = 10'000'000;

void append_micros(std::string& out, std::int64_t ns) {
  char buf[40];
  const char* sign = ns < 0 ? "-" : "";
  const std::uint64_t v = ns < 0 ? static_cast<std::uint64_t>(-ns) : static_cast<std::uint64_t>(ns);
  std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%03" PRIu64, sign, v / 1000, v % 1000);
  out += buf;
}

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += buf;
}

void append_uint(std::string& out, std::uint64_t v) {
  out += std::to_string(v);
}

template <class Event>
void append_common_args(std::string& out, const Event& e) {
  out += "\"domain\":";
  append_json_string(out, e.domain);
  if (!e.category.empty()) {
    out += ",\"category\":";
    append_json_string(out, e.category);
  }
  if (e.color) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\"#%06" PRIx32 "\"", *e.color & 0xFFFFFFu);
    out += ",\"color\":";
    out += buf;
  }
  if (e.payload) {
    out += ",\"payload\":";
    append_number(out, *e.payload);
  }
}

void append_head(std::string& out, const char* ph, std::string_view name, std::string_view cat,
                 std::uint32_t pid, std::uint32_t tid, std::int64_t ts_ns) {
  out += "{\"ph\":\"";
  out += ph;
  out += "\",\"name\":";
  append_json_string(out, name);
  if (!cat.empty()) {
    out += ",\"cat\":";
    append_json_string(out, cat);
  }
  out += ",\"pid\":";
  append_uint(out, pid);
  out += ",\"tid\":";
  append_uint(out, tid);
  out += ",\"ts\":";
  append_micros(out, ts_ns);
}

std::string_view category_of(const std::string& domain) {
  return domain.empty() ? std::string_view("nvtx") : std::string_view(domain);
}

struct placed_range {
  const range* r;
  std::int64_t end_ns;  // the snapshot's time for open ranges
  std::uint32_t row;    // tid of the row it is drawn on
};

// Places each thread's ranges on rows that nest: the thread's own row first, extra rows for
// ranges that would overlap a range of that row without nesting. Ranges are visited by start
// (longer first on ties); a row keeps the ends of its ranges still open at that start.
std::vector<placed_range> place_ranges(const trace_snapshot& s,
                                       std::map<std::uint32_t, unsigned>& lanes_per_tid) {
  std::map<std::uint32_t, std::vector<placed_range>> by_tid;
  for (const range& r : s.ranges) {
    by_tid[r.tid].push_back(placed_range{&r, r.open() ? s.now_ns : r.end_ns, r.tid});
  }
  std::vector<placed_range> out;
  for (auto& [tid, rs] : by_tid) {
    std::stable_sort(rs.begin(), rs.end(), [](const placed_range& a, const placed_range& b) {
      if (a.r->start_ns != b.r->start_ns) return a.r->start_ns < b.r->start_ns;
      if (a.end_ns != b.end_ns) return a.end_ns > b.end_ns;
      if (a.r->kind != b.r->kind) return a.r->kind == range_kind::push_pop;
      return a.r->depth < b.r->depth;
    });
    std::vector<std::vector<std::int64_t>> lanes;  // per row: ends of the ranges still open
    for (placed_range& p : rs) {
      std::size_t lane = 0;
      for (; lane < lanes.size(); ++lane) {
        auto& open = lanes[lane];
        while (!open.empty() && open.back() <= p.r->start_ns) open.pop_back();
        if (open.empty() || open.back() >= p.end_ns) break;
      }
      if (lane == lanes.size()) lanes.emplace_back();
      lanes[lane].push_back(p.end_ns);
      p.row = tid + static_cast<std::uint32_t>(lane) * lane_tid_step;
      out.push_back(p);
    }
    lanes_per_tid[tid] = static_cast<unsigned>(std::max<std::size_t>(lanes.size(), 1));
  }
  return out;
}

void append_range(std::string& out, const trace_snapshot& s, const placed_range& p) {
  const range& r = *p.r;
  append_head(out, "X", r.name, category_of(r.domain), s.pid, p.row, r.start_ns);
  out += ",\"dur\":";
  append_micros(out, p.end_ns - r.start_ns);
  out += ",\"args\":{";
  append_common_args(out, r);
  out += ",\"kind\":";
  out += r.kind == range_kind::push_pop ? "\"push_pop\"" : "\"start_end\"";
  if (r.kind == range_kind::push_pop) {
    out += ",\"depth\":";
    out += std::to_string(r.depth);
  }
  if (r.open()) {
    out += ",\"open\":true";
  } else if (r.end_tid != r.tid) {
    out += ",\"end_tid\":";
    append_uint(out, r.end_tid);
  }
  out += "}}";
}

void append_metadata(std::string& out, const char* what, std::uint32_t pid, std::uint32_t tid,
                     const char* key, const std::string& value_json) {
  out += "{\"ph\":\"M\",\"name\":\"";
  out += what;
  out += "\",\"pid\":";
  append_uint(out, pid);
  out += ",\"tid\":";
  append_uint(out, tid);
  out += ",\"args\":{\"";
  out += key;
  out += "\":";
  out += value_json;
  out += "}}";
}

}  // namespace

std::string to_chrome_json(const trace_snapshot& s) {
  std::map<std::uint32_t, unsigned> lanes_per_tid;
  const std::vector<placed_range> placed = place_ranges(s, lanes_per_tid);

  std::vector<std::pair<std::int64_t, std::string>> events;  // (time, JSON object)
  events.reserve(placed.size() + s.marks.size() + s.counters.size());
  for (const placed_range& p : placed) {
    std::string e;
    append_range(e, s, p);
    events.emplace_back(p.r->start_ns, std::move(e));
  }
  for (const mark& m : s.marks) {
    std::string e;
    append_head(e, "i", m.name, category_of(m.domain), s.pid, m.tid, m.time_ns);
    e += ",\"s\":\"t\",\"args\":{";
    append_common_args(e, m);
    e += "}}";
    events.emplace_back(m.time_ns, std::move(e));
    lanes_per_tid.emplace(m.tid, 1);
  }
  for (const counter_sample& c : s.counters) {
    std::string e;
    append_head(e, "C", c.track, {}, s.pid, s.pid, c.time_ns);
    e += ",\"args\":{\"bytes\":";
    e += std::to_string(c.value);
    e += "}}";
    events.emplace_back(c.time_ns, std::move(e));
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string out = "{\"traceEvents\":[\n";
  std::string value;
  const auto json = [&value](const std::string& text) -> const std::string& {
    value.clear();
    append_json_string(value, text);
    return value;
  };
  append_metadata(out, "process_name", s.pid, s.pid, "name",
                  json(s.process_name.empty() ? std::string("process") : s.process_name));
  for (const auto& [tid, info] : s.threads) lanes_per_tid.emplace(tid, 1);
  for (const auto& [tid, lanes] : lanes_per_tid) {
    std::string name = s.thread_name(tid);
    if (name.empty()) name = "thread " + std::to_string(tid);
    for (unsigned lane = 0; lane < lanes; ++lane) {
      const std::uint32_t row = tid + lane * lane_tid_step;
      out += ",\n";
      append_metadata(out, "thread_name", s.pid, row, "name",
                      json(lane == 0 ? name : name + " (overlap " + std::to_string(lane) + ")"));
      out += ",\n";
      append_metadata(out, "thread_sort_index", s.pid, row, "sort_index",
                      std::to_string(static_cast<std::uint64_t>(tid) * 16 + lane));
    }
  }
  for (const auto& e : events) {
    out += ",\n";
    out += e.second;
  }
  out += "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"pinpool-trace\"}}\n";
  return out;
}

}  // namespace pinpool::trace
