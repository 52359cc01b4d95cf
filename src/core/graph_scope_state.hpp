#pragma once
// What a graph_scope holds (internal): the chunks acquired for one stream capture, in use or
// released and kept until the scope ends. Owned by the pool core from the scope's end until its
// last chunk comes back; read and written under the pool's lock. The rules: docs/design.md,
// "CUDA Graphs"; the code: core/pool_capture.cpp.

#include "chunk.hpp"

#include <pinpool/stream.hpp>

#include <cstdint>
#include <vector>

namespace pinpool::detail {

struct graph_scope_state {
  /// A chunk released to the scope: reused in the capture on stream `reusable_on` only (0: never,
  /// it waits for the scope's end). `adopted`: acquired outside the capture (its streams' work
  /// outside the graph is waited for at the end).
  struct parked_chunk {
    chunk* c;
    std::uint64_t reusable_on;
    bool adopted;
  };

  explicit graph_scope_state(const stream_ref& s) : origin(s) {}

  stream_ref origin;                      // the stream the scope was created for
  std::uint64_t capture = 0;              // the capture's id (backend::capture_id)
  std::vector<stream_ref> release_after;  // graph_scope::release_after
  std::vector<chunk*> out;                // acquired through the scope, in use now
  std::vector<parked_chunk> parked;       // released to the scope, kept until its end
  bool closed = false;                    // the graph_scope is gone; `out` drains to the pool
  bool quarantine = false;                // closed while its capture was active: never reuse
};

}  // namespace pinpool::detail
