#pragma once
/// @file pool_options.hpp
/// @brief Construction settings of a `pool`. Validated by the pool's constructor
/// (std::invalid_argument on nonsense).

#include <pinpool/memory_kind.hpp>
#include <pinpool/slab_hooks.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace pinpool {

/// @brief When a device chunk still pending on another stream may be handed to a stream behind a
/// device-side wait (`stream_wait_event`) instead of growing the pool.
enum class cross_stream_reuse : std::uint8_t {
  /// Only when the pool cannot grow (at `max_bytes`): below the cap streams never wait on each
  /// other's work for memory. The default.
  at_cap,
  /// Before growing: the least memory, but a stream may wait for another stream's work.
  always,
};

/// @brief What `pool_options::on_exhausted` is told about an acquisition about to fail.
struct exhaustion {
  std::size_t bytes = 0;  ///< the request
  /// true: the pool is at `max_bytes` and `acquire_timeout` has passed; false: the backend
  /// refused memory (out_of_memory).
  bool at_cap = false;
  unsigned attempt = 1;  ///< 1 for the first call in this acquisition
};

struct pool_options {
  memory_kind kind = memory_kind::pinned_host;
  int device = 0;
  /// Bytes reserved at construction (one slab of at least this size; 0 = nothing up front).
  std::size_t initial_bytes = 0;
  /// Hard cap on bytes reserved from the backend (0 = unlimited).
  std::size_t max_bytes = 0;
  /// Growth unit: a slab is carved into chunks of any class; requests larger than slab_bytes get
  /// a slab of their own.
  std::size_t slab_bytes = std::size_t{64} << 20;
  /// The first slab's size (rounded up to the alignment; at most slab_bytes). Below slab_bytes,
  /// slabs grow geometrically: twice the size of the one before for each slab the pool holds, up
  /// to slab_bytes, so a small working set reserves little (RMM-like; bench suite rmm uses
  /// 2 MiB). The default, slab_bytes, gives whole slabs from the start: a pipeline's working set
  /// fits with room to spare, so it makes no backend allocation after its first frames, where a
  /// ramp can still grow a few frames later when reuse timing varies.
  std::size_t first_slab_bytes = std::size_t{64} << 20;
  /// Host NUMA node of host and pinned_host slabs (docs/design.md, "Pinned slabs and NUMA"):
  /// the kernel is asked to prefer it (mbind MPOL_PREFERRED) before the slab's first touch; a
  /// full node spills to others, and pool_stats::numa_nodes reports where the pages really are.
  /// -1: the node of the thread that creates the slab where the system has several, else no
  /// preference. A node the system does not have, or a node for a device pool, is refused at
  /// construction (std::invalid_argument naming the nodes present).
  int numa_node = -1;
  /// pinned_host: threads that first-touch a new slab before it is page-locked (in parallel:
  /// page faults, not the registration, are most of a large slab's creation time). 0 =
  /// automatic: min(4, hardware threads, slab bytes / 16 MiB), at least 1, so slabs under
  /// 32 MiB are touched on the calling thread alone.
  unsigned slab_touch_threads = 0;
  /// Chunk alignment and the granularity of the smallest classes (power of two, >= 16).
  std::size_t alignment = 256;
  /// Size classes per power of two (power of two, 1..64). 8 bounds rounding waste at 12.5% for
  /// requests of at least 8 * alignment; smaller requests round up to a multiple of alignment.
  unsigned classes_per_doubling = 8;
  /// When the cap is reached and nothing is reusable: wait this long for a pending release,
  /// then throw pool_exhausted. 0 = fail at once.
  std::chrono::milliseconds acquire_timeout{0};
  /// Per-thread caches of idle chunks (up to 8 per thread and pool): a host release parks the
  /// chunk with the releasing thread, whose next acquisition of that size takes it back without
  /// the pool's lock. Device pools with lazy_release and pending_reuse = at_cap also park up to
  /// 4 chunks released on their one owning stream, for that thread's next acquisition on the
  /// same stream (no lock, no runtime call; nothing else takes them). Used only when max_bytes
  /// is 0 (at a cap, every idle chunk must be visible to every thread). Chunks cached by another
  /// thread are not available to this one.
  bool thread_cache = true;
  /// See `cross_stream_reuse` (device pools, acquisitions on a stream).
  cross_stream_reuse pending_reuse = cross_stream_reuse::at_cap;
  /// Bounds how far a producer that outruns its streams can grow the pool (0 = no bound, the
  /// default: below max_bytes the pool grows and the host never blocks). When at least this many
  /// bytes are pending (released on streams whose work may still run) and an acquisition finds
  /// nothing reusable, it waits for the oldest pending chunk of its size class instead of
  /// growing: device-side (`stream_wait_event`) for device memory acquired on a stream, else on
  /// the host (`synchronize_event`: this blocks the calling thread until that chunk's stream
  /// work is done; `try_acquire` grows instead). With no chunk of its class pending, the pool
  /// grows. Example: a host loop staging 1 MiB chunks for copies on one stream, on the emulated
  /// runtime (bench suite rmm): hundreds of MiB of pinned memory unbounded, max_pending_bytes +
  /// 1 MiB with a bound.
  std::size_t max_pending_bytes = 0;
  /// Device pools: a chunk released on one owning `stream` alone
  /// (`stream_ref::lifetime_tracked`) records no event. Later work on that stream reuses it with
  /// no runtime call; an event (a fence) is recorded on the stream only when another stream wants
  /// one of its chunks, and that one record covers every chunk released on the stream before it.
  /// false: an event per release, as for other streams (wrapped `cudaStream_t`s, whose
  /// destruction pinpool cannot see, always get one). Pinned and host pools always record one:
  /// their chunks go back to the host, where an event recorded right after the last use completes
  /// sooner than a fence recorded at hand-off, which covers later work too (with fences the
  /// staging pool of tests/pool_suite.hpp's steady-state test kept growing).
  bool lazy_release = true;
  /// CUDA: each acquisition and each release on a stream asks whether the stream is being
  /// captured into a graph (cudaStreamIsCapturing); during a capture the pool's graph_scope for
  /// it serves them, and without one the acquisition is refused and the release quarantined (see
  /// docs/design.md, "CUDA Graphs"). false: the application promises never to acquire or release
  /// on a capturing stream (as RMM and CUB assume; graph_scope refuses the pool), and a
  /// same-stream round trip on an owning stream makes no runtime call at all.
  bool detect_capture = true;
  /// Name used in error messages, stats and NVTX. The pool keeps its own copy.
  const char* name = "pinpool";
  /// Registration hooks, called once per slab after it is created and before it is freed
  /// (slab_hooks.hpp). Empty: none.
  slab_hooks hooks;
  /// Out-of-memory policy (docs/design.md, "Out of memory"). Before an acquisition fails (the
  /// backend refused memory, or the pool is at max_bytes past acquire_timeout), the pool first
  /// trims its own idle slabs once, then calls `on_exhausted` without its lock: the callback may
  /// free memory (other pools, caches) and return true to have the acquisition try again, at
  /// most `max_exhaustion_retries` times; then the acquisition throws as it would have
  /// (out_of_memory, pool_exhausted). Called on the acquiring thread; it may call other pools
  /// and this pool's `trim`, but must not acquire from this pool. `try_acquire` never calls it.
  std::function<bool(const exhaustion&)> on_exhausted;
  unsigned max_exhaustion_retries = 4;
};

}  // namespace pinpool
