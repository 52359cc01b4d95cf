#pragma once
/// @file graph_scope.hpp
/// @brief `graph_scope`: a pool's memory for one CUDA graph, acquired while the graph's stream
/// capture lasts and kept for the graph's lifetime (docs/design.md, "CUDA Graphs").

#include <pinpool/pool.hpp>
#include <pinpool/stream.hpp>

#include <cstddef>
#include <cstdint>

namespace pinpool {

namespace detail {
struct graph_scope_state;
}

/// @brief Lets `pool` serve acquisitions on the streams of one stream capture, and keeps the
/// memory they get until the scope is destroyed (PyTorch's graph-private pools).
///
/// Create it after cudaStreamBeginCapture, hold it with the graph, destroy it with or after the
/// cudaGraphExec_t:
/// - an acquisition on any stream of the capture takes a chunk that belongs to the scope; the
///   chunk's address is baked into the graph and every replay uses it;
/// - a buffer released inside the capture goes back to the scope, not to the pool: a later
///   acquisition of the same size class on the same stream in the capture reuses it (stream
///   order within the captured stream); released on several streams, it is kept to the end;
/// - a buffer acquired outside the capture and released inside it is adopted: kept, never reused
///   in the capture, until the scope ends;
/// - the scope's end returns its chunks to the pool behind its stream (and the streams given to
///   `release_after`): replays launched there before the end finish before the memory is reused.
///
/// Nothing the pool does during the capture breaks it: no event is recorded, queried or waited
/// for and no stream is synchronised; growing allocates with the thread's capture mode relaxed.
/// Thread-safe; one scope per capture and pool.
class graph_scope {
 public:
  /// @brief Binds the scope to the capture `s` takes part in now.
  /// @throws std::invalid_argument when `s` is not being captured (create the scope after
  /// cudaStreamBeginCapture), is a per-thread or legacy handle, cannot use the pool's memory,
  /// when the pool does not detect capture (a CPU backend, `detect_capture` false), or when
  /// another scope of the pool serves the capture. cuda_error when the runtime fails.
  /// @note Makes no call that breaks the capture; does not synchronise.
  graph_scope(pool& p, stream_ref s);
  /// @brief Returns the scope's chunks to the pool, each released on the scope's stream and the
  /// `release_after` streams (stream-ordered; the host does not wait). Chunks still out in
  /// buffers go back when those are released. Destroyed while its capture is still active (the
  /// graph could still be instantiated with the chunks' addresses), it keeps them from reuse for
  /// the pool's lifetime and says so on the log. Never throws.
  /// @pre The graph's replays are enqueued on the scope's stream or a `release_after` stream, or
  /// have completed; the scope's stream and those streams still exist.
  ~graph_scope();
  graph_scope(const graph_scope&) = delete;
  graph_scope& operator=(const graph_scope&) = delete;
  graph_scope(graph_scope&&) = delete;
  graph_scope& operator=(graph_scope&&) = delete;

  /// @brief The chunks go back at the scope's end behind `s`'s work too (the stream the graph
  /// is launched on, when not the captured one). @throws std::invalid_argument when the pool
  /// cannot use `s`. Does not synchronise.
  void release_after(stream_ref s);
  /// @brief Bytes of the chunks the scope holds now (in use in the graph, or released to it).
  std::size_t bytes_held() const;
  /// @brief The id of the capture it serves (cudaStreamGetCaptureInfo).
  std::uint64_t capture_id() const noexcept;

 private:
  detail::pool_core* core_;
  detail::graph_scope_state* state_ = nullptr;  // the core's once the scope ends
};

}  // namespace pinpool
