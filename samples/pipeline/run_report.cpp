#include "run_report.hpp"

#include <pinpool/detail/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <sstream>

namespace pinpool::pipeline {
namespace {

std::string mib(std::size_t bytes) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text.data();
}

// "rank":{...},"devices":[...],"pinned_pool":"...", (with the trailing comma)
std::string scale_out_json(const run_report& r) {
  std::ostringstream o;
  o << R"("rank":{"rank":)" << r.rank.rank << ",\"ranks\":" << r.rank.ranks
    << ",\"local_rank\":" << r.rank.local_rank
    << ",\"source\":" << detail::json_quoted(r.rank.source)
    << ",\"run_id\":" << detail::json_quoted(r.rank.run_id)
    << ",\"host\":" << detail::json_quoted(r.rank.host) << "},\"devices\":[";
  for (std::size_t i = 0; i < r.devices.size(); ++i) {
    const device_report& d = r.devices[i];
    o << (i > 0 ? "," : "") << "{\"device\":" << d.device << ",\"streams\":" << d.streams
      << ",\"host_threads\":" << d.host_threads << ",\"frames_ok\":" << d.frames_ok << "}";
  }
  o << "],\"pinned_pool\":" << detail::json_quoted(r.pinned_pool) << ",";
  return o.str();
}

}  // namespace

std::string run_report::to_json() const {
  std::ostringstream o;
  o << "{" << scale_out_json(*this) << "\"backend\":" << detail::json_quoted(backend)
    << ",\"streams\":" << streams << ",\"host_threads\":" << host_threads << ",\"stage_chain\":[";
  for (std::size_t i = 0; i < stage_chain.size(); ++i)
    o << (i > 0 ? "," : "") << detail::json_quoted(stage_chain[i]);
  o << "],\"frames_planned\":" << frames_planned << ",\"frames_ok\":" << frames_ok
    << ",\"frames_failed\":" << frames_failed << ",\"failures\":[";
  for (std::size_t i = 0; i < failures.size(); ++i) {
    o << (i > 0 ? "," : "") << "{\"input\":" << detail::json_quoted(failures[i].input)
      << ",\"error\":" << detail::json_quoted(failures[i].error) << "}";
  }
  o << "],\"outputs\":[";
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    o << (i > 0 ? "," : "") << "{\"input\":" << detail::json_quoted(outputs[i].input)
      << ",\"output\":" << detail::json_quoted(outputs[i].output) << "}";
  }
  o << "],\"pool\":[";
  for (std::size_t i = 0; i < pools.size(); ++i) o << (i > 0 ? "," : "") << pools[i].to_json();
  o << "],\"stages\":[";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    o << (i > 0 ? "," : "") << "{\"name\":" << detail::json_quoted(stages[i].name)
      << ",\"seconds\":" << stages[i].seconds << ",\"frames\":" << stages[i].frames << "}";
  }
  o << "],\"steady_state_backend_allocations\":" << steady_state_backend_allocations
    << ",\"seconds\":" << seconds << ",\"frames_per_second\":" << frames_per_second() << "}\n";
  return o.str();
}

double run_report::step_seconds(const std::string& name) const {
  for (const stage_timing& st : stages) {
    if (st.name == name) return st.seconds;
  }
  return 0;
}

namespace {

const char* where_of(const std::string& step) {
  if (step == "decode" || step == "encode+write") return "host";
  if (step.rfind("wait:", 0) == 0) return "";
  return "stream";
}

}  // namespace

std::string run_report::summary_table() const {
  std::ostringstream o;
  std::array<char, 200> line{};
  std::snprintf(line.data(), line.size(),
                "backend %s, %d stream(s), %d host thread(s): %zu frame(s) ok, %zu failed in "
                "%.2f s = %.1f frames/s\n",
                backend.c_str(), streams, host_threads, frames_ok, frames_failed, seconds,
                frames_per_second());
  o << line.data();
  if (devices.size() > 1) {
    o << "  per device (pinned pool " << pinned_pool << "):";
    for (const device_report& d : devices) {
      o << " device " << d.device << " " << d.frames_ok << " frame(s) on " << d.streams
        << " stream(s);";
    }
    o << "\n";
  }
  o << "\n  where the time goes     total s   ms/frame\n";
  double host = 0;
  double stream = 0;
  for (const stage_timing& st : stages) {
    const std::string where = where_of(st.name);
    if (where == "host") host += st.seconds;
    if (where == "stream") stream += st.seconds;
    std::snprintf(
        line.data(), line.size(), "  %-20s %8.3f %10.2f  %s\n", st.name.c_str(), st.seconds,
        st.frames > 0 ? 1000.0 * st.seconds / static_cast<double>(st.frames) : 0.0, where.c_str());
    o << line.data();
  }
  if (seconds > 0) {
    const double host_busy = host_threads > 0 ? host / (host_threads * seconds) : 0;
    const double stream_busy = streams > 0 ? stream / (streams * seconds) : 0;
    std::snprintf(line.data(), line.size(),
                  "\n  host threads busy %3.0f%% (decode + encode+write over %d x %.2f s), "
                  "streams busy %3.0f%% (copies + stages over %d x %.2f s)\n",
                  100 * host_busy, host_threads, seconds, 100 * stream_busy, streams, seconds);
    o << line.data();
    constexpr double saturated = 0.7;
    if (host_busy >= saturated && host_busy >= stream_busy) {
      o << "  the host threads (decode, encode) bound this run: a faster --format or --png-level "
           "shortens it\n";
    } else if (stream_busy >= saturated) {
      o << "  the streams (copies, stages) bound this run\n";
    } else {
      o << "  neither the host threads nor the streams were busy most of the run: the cores "
           "they share bound it\n";
    }
  }
  int name_width = 12;  // the pools' names in one column, however long
  for (const pool_stats& p : pools)
    name_width = std::max(name_width, static_cast<int>(p.name.size()));
  std::snprintf(line.data(), line.size(),
                "\n  %-*s %10s %14s   hits/acquisitions   backend allocations\n", name_width,
                "pool", "reserved", "peak in use");
  o << line.data();
  for (const pool_stats& p : pools) {
    std::snprintf(line.data(), line.size(), "  %-*s %10s %14s %10llu/%-10llu %8llu\n", name_width,
                  p.name.c_str(), mib(p.bytes_reserved).c_str(), mib(p.peak_bytes_in_use).c_str(),
                  static_cast<unsigned long long>(p.hits),
                  static_cast<unsigned long long>(p.acquisitions),
                  static_cast<unsigned long long>(p.backend_allocations));
    o << line.data();
  }
  std::snprintf(line.data(), line.size(),
                "\n  backend allocations after each stream's first frame: %llu\n",
                static_cast<unsigned long long>(steady_state_backend_allocations));
  o << line.data();
  return o.str();
}

}  // namespace pinpool::pipeline
