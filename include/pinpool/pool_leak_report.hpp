#pragma once
/// @file pool_leak_report.hpp
/// @brief `pool_leak_report`: the chunks a pool has handed out and not taken back, each with the
/// streams its release will wait for. Taken by `pool::leak_report()`; the pool's destructor
/// sends one (capped) to the log sink when buffers are still out.

#include <pinpool/memory_kind.hpp>

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <string>
#include <vector>

namespace pinpool {

/// @brief What holds an outstanding chunk.
enum class chunk_holder : std::uint8_t {
  buffer,       ///< a `buffer` or `shared_buffer` (the allocators' `allocate` goes through these
                ///< or through raw pointers, see pool.hpp)
  raw_pointer,  ///< a pointer from `pool::allocate` / `allocate_aligned`
};
/// @brief "buffer" or "raw pointer".
const char* to_string(chunk_holder holder) noexcept;

/// @brief A stream an outstanding chunk's release will wait for (`acquire(bytes, s)`,
/// `set_stream`, `record_stream`, `allocate(bytes, s)`), as plain values: the report may outlive
/// the stream.
struct recorded_stream {
  std::uint64_t id = 0;          ///< `stream_ref::id()`; 0: a per-thread or legacy handle
  const void* handle = nullptr;  ///< `stream_ref::native_handle()` (CUDA: the cudaStream_t)
  int device = 0;
};

/// @brief One chunk handed out and not yet released.
struct outstanding_chunk {
  const void* address = nullptr;    ///< the chunk's first byte (an aligned raw pointer may lie
                                    ///< past it, within the chunk)
  std::size_t bytes_requested = 0;  ///< what was asked for
  std::size_t chunk_bytes = 0;      ///< its size class's chunk size (>= bytes_requested)
  std::uint32_t size_class = 0;     ///< the size class's index in the pool
  chunk_holder holder = chunk_holder::buffer;
  std::vector<recorded_stream> streams;  ///< empty: it will be released at once (no stream)
};

/// @brief One line, no newline: address, requested and chunk bytes, size class, holder, and the
/// streams as `#id (handle, device d)` (a per-thread or legacy handle as `per-thread/legacy`).
std::string to_string(const outstanding_chunk& c);

/// @brief A pool's outstanding chunks at one moment (`pool::leak_report()`).
struct pool_leak_report {
  std::string name;                       ///< `pool_options::name`
  memory_kind kind = memory_kind::host;   ///< the pool's memory kind
  std::string backend;                    ///< "cpu" or "cuda"
  std::vector<outstanding_chunk> chunks;  ///< by address

  bool empty() const noexcept { return chunks.empty(); }
  /// @brief Sum of the chunks' `chunk_bytes`.
  std::size_t chunk_bytes() const noexcept;
  /// @brief Sum of the chunks' `bytes_requested`.
  std::size_t bytes_requested() const noexcept;
  /// @brief Readable text, no trailing newline: a line naming the pool with the totals, then
  /// one indented line per chunk (`to_string(outstanding_chunk)`), at most `max_chunks` of
  /// them, then "... and N more".
  std::string to_string(std::size_t max_chunks = std::numeric_limits<std::size_t>::max()) const;
};

/// @brief Writes `r.to_string()` (every chunk).
std::ostream& operator<<(std::ostream& os, const pool_leak_report& r);

}  // namespace pinpool
