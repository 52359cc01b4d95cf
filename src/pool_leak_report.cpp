// pool_leak_report's formatting (the report itself is taken in core/leak_report.cpp).
#include <pinpool/pool_leak_report.hpp>

#include <array>
#include <cstdio>
#include <ostream>
#include <sstream>

namespace pinpool {

const char* to_string(chunk_holder holder) noexcept {
  return holder == chunk_holder::raw_pointer ? "raw pointer" : "buffer";
}

std::size_t pool_leak_report::chunk_bytes() const noexcept {
  std::size_t sum = 0;
  for (const outstanding_chunk& c : chunks) sum += c.chunk_bytes;
  return sum;
}

std::size_t pool_leak_report::bytes_requested() const noexcept {
  std::size_t sum = 0;
  for (const outstanding_chunk& c : chunks) sum += c.bytes_requested;
  return sum;
}

namespace {

std::string pointer_text(const void* p) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%p", p);
  return text.data();
}

void write_stream(std::ostream& os, const recorded_stream& s) {
  if (s.id == 0) {
    os << "per-thread/legacy (" << pointer_text(s.handle) << ", device " << s.device << ")";
  } else {
    os << "#" << s.id << " (" << pointer_text(s.handle) << ", device " << s.device << ")";
  }
}

}  // namespace

std::string to_string(const outstanding_chunk& c) {
  std::ostringstream os;
  os << pointer_text(c.address) << ": " << c.bytes_requested << " of " << c.chunk_bytes
     << " bytes (class " << c.size_class << "), " << to_string(c.holder) << ", ";
  if (c.streams.empty()) {
    os << "no stream";
    return os.str();
  }
  os << (c.streams.size() == 1 ? "stream " : "streams ");
  for (std::size_t i = 0; i < c.streams.size(); ++i) {
    if (i != 0) os << ", ";
    write_stream(os, c.streams[i]);
  }
  return os.str();
}

std::string pool_leak_report::to_string(std::size_t max_chunks) const {
  std::ostringstream os;
  os << "pool '" << name << "' (" << ::pinpool::to_string(kind) << ", " << backend
     << "): " << chunks.size() << " outstanding chunk(s), " << chunk_bytes() << " bytes ("
     << bytes_requested() << " requested)";
  const std::size_t shown = chunks.size() < max_chunks ? chunks.size() : max_chunks;
  for (std::size_t i = 0; i < shown; ++i) os << "\n  " << ::pinpool::to_string(chunks[i]);
  if (shown < chunks.size()) os << "\n  ... and " << chunks.size() - shown << " more";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const pool_leak_report& r) {
  return os << r.to_string();
}

}  // namespace pinpool
