#include <pinpool/detail/json.hpp>
#include <pinpool/pool_stats.hpp>

#include <cstdio>
#include <sstream>

namespace pinpool {

std::string pool_stats::to_json() const {
  std::ostringstream o;
  o << "{\"name\":" << detail::json_quoted(name)
    << ",\"kind\":" << detail::json_quoted(to_string(kind))
    << ",\"backend\":" << detail::json_quoted(backend)
    << ",\"page_locked\":" << (page_locked ? "true" : "false")
    << ",\"bytes_reserved\":" << bytes_reserved << ",\"bytes_in_use\":" << bytes_in_use
    << ",\"bytes_pending\":" << bytes_pending << ",\"peak_bytes_in_use\":" << peak_bytes_in_use
    << ",\"bytes_requested\":" << bytes_requested << ",\"acquisitions\":" << acquisitions
    << ",\"hits\":" << hits << ",\"grows\":" << grows << ",\"waits\":" << waits
    << ",\"stream_waits\":" << stream_waits << ",\"fences\":" << fences
    << ",\"backend_allocations\":" << backend_allocations << ",\"backend_frees\":" << backend_frees
    << ",\"slabs\":" << slabs << ",\"outstanding_buffers\":" << outstanding_buffers
    << ",\"classes\":[";
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const size_class_stats& c = classes[i];
    o << (i != 0 ? "," : "") << "{\"chunk_bytes\":" << c.chunk_bytes << ",\"chunks\":" << c.chunks
      << ",\"chunks_in_use\":" << c.chunks_in_use << ",\"acquisitions\":" << c.acquisitions
      << ",\"hits\":" << c.hits << "}";
  }
  o << "],\"numa_nodes\":[";
  for (std::size_t i = 0; i < numa_nodes.size(); ++i) {
    const numa_node_stats& n = numa_nodes[i];
    o << (i != 0 ? "," : "") << "{\"node\":" << n.node << ",\"bytes\":" << n.bytes
      << ",\"slabs\":" << n.slabs << "}";
  }
  o << "]}";
  return o.str();
}

}  // namespace pinpool
