#pragma once
/// @file torch_allocator.hpp
/// @brief The PyTorch plugin's C++ core (adapters/torch): its configuration from environment
/// variables and one device pool per CUDA device, created on first use. The C entry points that
/// `torch.cuda.memory.CUDAPluggableAllocator` loads (pinpool_torch.h) are a thin, non-throwing
/// layer over one process-wide `allocator`.
///
/// Environment (read once, at the first allocation):
///
/// | variable                  | meaning                                        | default     |
/// |---------------------------|------------------------------------------------|-------------|
/// | PINPOOL_TORCH_MAX_BYTES   | cap per device (bytes reserved), 0 = none      | 0           |
/// | PINPOOL_TORCH_SLAB_BYTES  | growth unit (larger requests: own slab)        | 64MiB       |
/// | PINPOOL_TORCH_STATS       | at exit, each device pool's stats as JSON:     | (none)      |
/// |                           | `stderr`, or a file path (overwritten)         |             |
/// | PINPOOL_TORCH_ON_FAILURE  | a failed call: `null` (log, return null) or    | null        |
/// |                           | `abort` (log, then abort the process)          |             |
///
/// Sizes are a decimal byte count with an optional binary suffix: K, M, G, T or KiB, MiB, GiB,
/// TiB (`8GiB`, `512M`, `1048576`).

#include <pinpool/backend.hpp>
#include <pinpool/pool.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

struct CUstream_st;

namespace pinpool::torch_plugin {

/// @brief What to do when an entry point fails (the reason is always logged first).
enum class failure_policy {
  null,   ///< return null from alloc (PyTorch does not check it: see README), ignore a bad free
  abort,  ///< abort the process
};

struct config {
  std::size_t max_bytes = 0;
  std::size_t slab_bytes = std::size_t{64} << 20;
  std::string stats;  ///< "" (none), "stderr", or a file path
  failure_policy on_failure = failure_policy::null;
};

/// @brief `text` as a byte count (decimal, optional K/M/G/T or KiB/MiB/GiB/TiB suffix).
/// @throws std::invalid_argument naming `variable` and `text` for anything else (empty, sign,
/// unknown suffix, overflow).
std::size_t parse_bytes(const char* variable, const char* text);

/// @brief Reads the PINPOOL_TORCH_* variables through `getenv` (unset or empty: the default).
/// A stats file is opened for writing once here, so a bad path fails now, not at exit.
/// @throws std::invalid_argument naming the variable, its value and what is expected.
config read_config(const std::function<const char*(const char*)>& getenv);

/// @brief One `device` pool per CUDA device of `be`, created on the first allocation for that
/// device (thread-safe: concurrent first calls create one pool). Pools live as long as the
/// allocator. Thread-safe.
class allocator {
 public:
  static constexpr int max_devices = 64;

  allocator(std::shared_ptr<backend> be, config cfg);
  /// @brief Destroys the pools (each waits for its pending releases; see `pool::~pool`).
  ~allocator();
  allocator(const allocator&) = delete;
  allocator& operator=(const allocator&) = delete;

  /// @brief `size` bytes of `device` memory safe for work on `stream` (a `cudaStream_t` the
  /// caller owns: it is wrapped, never destroyed, and must be a stream of `device`), as
  /// cudaMallocAsync. 0 bytes: null. Does not synchronise.
  /// @throws std::invalid_argument for a negative size, a device out of range, or a stream of
  /// another device; pool_exhausted at the cap; out_of_memory / cuda_error from the runtime.
  void* allocate(std::ptrdiff_t size, int device, CUstream_st* stream);
  /// @brief As cudaFreeAsync on `stream`: `p` is reused after the work enqueued on it so far.
  /// Null: nothing. Any thread may call it. Never blocks.
  /// @throws std::invalid_argument when `device`'s pool does not hold `p` out (foreign pointer,
  /// another device's, double free); a `stream` pinpool cannot wrap is not an error (`p` then
  /// goes back behind the stream it was allocated on, reported on the log).
  void deallocate(void* p, int device, CUstream_st* stream);

  /// @brief `device`'s pool, or null when none was created yet.
  pool* find(int device) const noexcept;
  /// @brief `{"devices":[{"device":0,"stats":{...pool_stats::to_json()...}},...]}`, pools in
  /// device order. Settles pending releases (see `pool::stats`).
  std::string stats_json() const;
  /// @brief Writes `stats_json()` where the configuration says (nothing when it says none).
  /// Never throws: a failure is logged.
  void write_stats() const noexcept;

  const config& get_config() const noexcept { return cfg_; }
  backend& get_backend() const noexcept { return *be_; }

 private:
  pool& get(int device);

  std::shared_ptr<backend> be_;
  config cfg_;
  std::array<std::atomic<pool*>, max_devices> pools_{};
  std::mutex create_;  // held only while creating a pool
};

}  // namespace pinpool::torch_plugin
