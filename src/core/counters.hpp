#pragma once
// The pool's running figures (internal): what is handed out, the peak, and event counts. Not
// thread-safe: updated under the pool's lock. `snapshot` writes them into a pool_stats, less
// what thread caches hold (those chunks are idle to a reader of the stats).

#include "thread_cache.hpp"

#include <pinpool/pool_stats.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace pinpool::detail {

struct pool_counters {
  std::size_t bytes_in_use = 0;  // chunks handed out (thread-cached ones included)
  std::size_t peak_in_use = 0;
  std::size_t bytes_requested = 0;  // requests of the chunks handed out
  std::size_t outstanding = 0;      // chunks handed out
  std::uint64_t acquisitions = 0, hits = 0, grows = 0, waits = 0, stream_waits = 0, fences = 0;
  std::uint64_t backend_allocations = 0, backend_frees = 0;

  void handed_out(std::size_t chunk_bytes, std::size_t requested) noexcept {
    ++outstanding;
    bytes_in_use += chunk_bytes;
    bytes_requested += requested;
    peak_in_use = std::max(peak_in_use, bytes_in_use);
  }
  /// @brief A chunk came back; its request is taken off by the caller (directly, or through a
  /// thread cache's requested_delta).
  void returned(std::size_t chunk_bytes) noexcept {
    --outstanding;
    bytes_in_use -= chunk_bytes;
  }
  /// @brief Folds a detached cache entry's figures in.
  void fold(const cache_totals& t) noexcept {
    acquisitions += t.acquisitions;
    hits += t.hits;
    bytes_requested =
        static_cast<std::size_t>(static_cast<std::int64_t>(bytes_requested) + t.requested_delta);
  }
  /// @brief Fills the fields of `st` these figures give, less what `cached` holds.
  void snapshot(pool_stats& st, const cache_totals& cached) const noexcept {
    st.bytes_in_use = bytes_in_use - cached.bytes;
    st.peak_bytes_in_use = peak_in_use;
    st.bytes_requested = static_cast<std::size_t>(static_cast<std::int64_t>(bytes_requested) +
                                                  cached.requested_delta);
    st.acquisitions = acquisitions + cached.acquisitions;
    st.hits = hits + cached.hits;
    st.grows = grows;
    st.waits = waits;
    st.stream_waits = stream_waits;
    st.fences = fences;
    st.backend_allocations = backend_allocations;
    st.backend_frees = backend_frees;
    st.outstanding_buffers = outstanding - cached.chunks;
  }
};

}  // namespace pinpool::detail
