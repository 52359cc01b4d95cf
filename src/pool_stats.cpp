#include <pinpool/pool_stats.hpp>

#include <cstdio>
#include <sstream>

namespace pinpool {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(ch));
      out += esc;
    } else {
      out += ch;
    }
  }
  return out + '"';
}

}  // namespace

std::string pool_stats::to_json() const {
  std::ostringstream o;
  o << "{\"name\":" << quoted(name) << ",\"kind\":" << quoted(to_string(kind))
    << ",\"backend\":" << quoted(backend) << ",\"page_locked\":" << (page_locked ? "true" : "false")
    << ",\"bytes_reserved\":" << bytes_reserved << ",\"bytes_in_use\":" << bytes_in_use
    << ",\"bytes_pending\":" << bytes_pending << ",\"peak_bytes_in_use\":" << peak_bytes_in_use
    << ",\"bytes_requested\":" << bytes_requested << ",\"acquisitions\":" << acquisitions
    << ",\"hits\":" << hits << ",\"grows\":" << grows << ",\"waits\":" << waits
    << ",\"stream_waits\":" << stream_waits << ",\"backend_allocations\":" << backend_allocations
    << ",\"backend_frees\":" << backend_frees << ",\"slabs\":" << slabs
    << ",\"outstanding_buffers\":" << outstanding_buffers << ",\"classes\":[";
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const size_class_stats& c = classes[i];
    o << (i ? "," : "") << "{\"chunk_bytes\":" << c.chunk_bytes << ",\"chunks\":" << c.chunks
      << ",\"chunks_in_use\":" << c.chunks_in_use << ",\"acquisitions\":" << c.acquisitions
      << ",\"hits\":" << c.hits << "}";
  }
  o << "]}";
  return o.str();
}

}  // namespace pinpool
