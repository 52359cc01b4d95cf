#include "run_report.hpp"

#include <pinpool/detail/json.hpp>

#include <cstdio>
#include <sstream>

namespace pinpool::pipeline {
namespace {

std::string mib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

std::string run_report::to_json() const {
  std::ostringstream o;
  o << "{\"backend\":" << detail::json_quoted(backend) << ",\"streams\":" << streams
    << ",\"stage_chain\":[";
  for (std::size_t i = 0; i < stage_chain.size(); ++i)
    o << (i ? "," : "") << detail::json_quoted(stage_chain[i]);
  o << "],\"frames_ok\":" << frames_ok << ",\"frames_failed\":" << frames_failed
    << ",\"failures\":[";
  for (std::size_t i = 0; i < failures.size(); ++i) {
    o << (i ? "," : "") << "{\"input\":" << detail::json_quoted(failures[i].input)
      << ",\"error\":" << detail::json_quoted(failures[i].error) << "}";
  }
  o << "],\"outputs\":[";
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    o << (i ? "," : "") << "{\"input\":" << detail::json_quoted(outputs[i].input)
      << ",\"output\":" << detail::json_quoted(outputs[i].output) << "}";
  }
  o << "],\"pool\":[";
  for (std::size_t i = 0; i < pools.size(); ++i) o << (i ? "," : "") << pools[i].to_json();
  o << "],\"stages\":[";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    o << (i ? "," : "") << "{\"name\":" << detail::json_quoted(stages[i].name)
      << ",\"seconds\":" << stages[i].seconds << ",\"frames\":" << stages[i].frames << "}";
  }
  o << "],\"steady_state_backend_allocations\":" << steady_state_backend_allocations
    << ",\"seconds\":" << seconds << ",\"frames_per_second\":" << frames_per_second() << "}\n";
  return o.str();
}

std::string run_report::summary_table() const {
  std::ostringstream o;
  char line[160];
  std::snprintf(line, sizeof line,
                "backend %s, %d stream(s): %zu frame(s) ok, %zu failed in %.2f s = %.1f frames/s\n",
                backend.c_str(), streams, frames_ok, frames_failed, seconds, frames_per_second());
  o << line << "\n  stage             total s   ms/frame\n";
  for (const stage_timing& st : stages) {
    std::snprintf(line, sizeof line, "  %-16s %8.3f %10.2f\n", st.name.c_str(), st.seconds,
                  st.frames ? 1000.0 * st.seconds / static_cast<double>(st.frames) : 0.0);
    o << line;
  }
  o << "\n  pool          reserved     peak in use   hits/acquisitions   backend allocations\n";
  for (const pool_stats& p : pools) {
    std::snprintf(line, sizeof line, "  %-12s %10s %14s %10llu/%-10llu %8llu\n", p.name.c_str(),
                  mib(p.bytes_reserved).c_str(), mib(p.peak_bytes_in_use).c_str(),
                  static_cast<unsigned long long>(p.hits),
                  static_cast<unsigned long long>(p.acquisitions),
                  static_cast<unsigned long long>(p.backend_allocations));
    o << line;
  }
  std::snprintf(line, sizeof line,
                "\n  backend allocations after each stream's first frame: %llu\n",
                static_cast<unsigned long long>(steady_state_backend_allocations));
  o << line;
  return o.str();
}

}  // namespace pinpool::pipeline
