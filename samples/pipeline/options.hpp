#pragma once
// Command line of pinpool-pipeline.

#include <pinpool/io/image_io.hpp>
#include <pinpool/kernels/stage.hpp>
#include <pinpool/memory_kind.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pinpool::pipeline {

/// @brief A bad command line or environment detected before any work (exit code 2).
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Where the pinned chunks of a multi-device run come from (--pinned-pool).
enum class pinned_pool_mode {
  shared,      ///< one pinned pool for every device
  per_device,  ///< a pinned pool per device (pool_group)
};

/// Highest device id --devices takes (pool_group and the backend check the real count).
constexpr int max_device_id = 63;
/// Most processes of a multi-rank run.
constexpr int max_ranks = 1 << 20;

struct options {
  std::vector<std::string> inputs;  ///< files or directories; empty: synthetic frames
  std::string output_dir = "./pinpool-out";
  std::vector<kernels::stage> stages{kernels::stage::gray, kernels::stage::blur,
                                     kernels::stage::sobel};
  float sigma = 1.5f;
  int streams = 3;
  /// Host threads that decode inputs ahead of the streams and encode results (0: one per core).
  int threads = 0;
  backend_kind backend = backend_kind::automatic;
  int frames = 64;
  int width = 1920;
  int height = 1080;
  std::string report_path;  ///< empty: no JSON report
  /// Output files: the format (and so the extension: .png, .jpg, .pgm) and its settings.
  io::format output_format = io::format::png;
  io::write_options write;
  std::uint64_t max_pixels = 100'000'000;
  bool quiet = false;
  bool help = false;
  /// Benchmarks: run everything but the encode and write.
  bool write_outputs = true;
  /// Benchmarks' baseline without reuse: one backend allocation per buffer, freed after the
  /// frame, and a host synchronisation per frame.
  bool per_frame_allocation = false;

  /// Devices the streams are spread over, round-robin (stream i on devices[i % size]); empty:
  /// device 0, or local_rank % device_count in a multi-rank run. On the CPU backend each is an
  /// emulated device with its own streams and host threads.
  std::vector<int> devices;
  pinned_pool_mode pinned_pool = pinned_pool_mode::shared;
  /// Multi-process runs (ranks.hpp): -1 = from the launcher's environment (Open MPI, PMI,
  /// Slurm), else 1 process.
  int rank = -1;
  int ranks = -1;
  /// Rank 0 of a multi-rank run waits at most this long for the other ranks' reports.
  int merge_timeout_seconds = 600;
};

/// @brief Parses argv. @throws usage_error naming the offending flag or value.
options parse_options(int argc, const char* const* argv);

/// @brief The --help text.
std::string usage_text();

}  // namespace pinpool::pipeline
