#include "options.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <sstream>

namespace pinpool::pipeline {
namespace {

long long parse_integer(const std::string& flag, const std::string& text, long long lo,
                        long long hi) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    throw usage_error(flag + ": expected an integer in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "], got '" + text + "'");
  }
  return v;
}

float parse_sigma(const std::string& text) {
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v <= 0.0F || v > 100.0F) {
    throw usage_error("--sigma: expected a number in (0, 100], got '" + text + "'");
  }
  return v;
}

std::vector<kernels::stage> parse_stages(const std::string& text) {
  std::vector<kernels::stage> stages;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto st = kernels::parse_stage(item);
    if (!st) {
      throw usage_error("--stages: unknown stage '" + item + "' (choose from " +
                        kernels::stage_names(", ") + ")");
    }
    stages.push_back(*st);
  }
  if (stages.empty()) throw usage_error("--stages: the list is empty");
  return stages;
}

backend_kind parse_backend(const std::string& text) {
  if (text == "auto") return backend_kind::automatic;
  if (text == "cpu") return backend_kind::cpu;
  if (text == "cuda") return backend_kind::cuda;
  throw usage_error("--backend: expected auto, cpu or cuda, got '" + text + "'");
}

io::format parse_format(const std::string& text) {
  if (text == "png") return io::format::png;
  if (text == "jpeg" || text == "jpg") return io::format::jpeg;
  if (text == "pnm" || text == "pgm") return io::format::pnm;
  throw usage_error("--format: expected png, jpeg (jpg) or pnm (pgm), got '" + text + "'");
}

// "0,1,3": device ids, each once. Whether the backend has them is checked once it is made
// (check_devices, devices.hpp).
std::vector<int> parse_devices(const std::string& text) {
  std::vector<int> devices;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const int d = static_cast<int>(parse_integer("--devices", item, 0, max_device_id));
    if (std::find(devices.begin(), devices.end(), d) != devices.end()) {
      std::string message = "--devices: device " + item;
      message += " is listed twice in '" + text + "'";
      throw usage_error(message);
    }
    devices.push_back(d);
  }
  if (devices.empty() || text.back() == ',') {
    std::string message = "--devices: expected a comma-separated list of device ids such as 0,1, ";
    message += "got '" + text + "'";
    throw usage_error(message);
  }
  return devices;
}

pinned_pool_mode parse_pinned_pool(const std::string& text) {
  if (text == "shared") return pinned_pool_mode::shared;
  if (text == "per-device") return pinned_pool_mode::per_device;
  throw usage_error("--pinned-pool: expected shared or per-device, got '" + text + "'");
}

// The flags of the synthetic frames; false when `flag` is none of them.
bool parse_synthetic_flag(options& o, const std::string& flag,
                          const std::function<std::string()>& value) {
  if (flag == "--frames") {
    o.frames = static_cast<int>(parse_integer(flag, value(), 1, 1'000'000));
  } else if (flag == "--width") {
    o.width = static_cast<int>(parse_integer(flag, value(), 1, 1 << 16));
  } else if (flag == "--height") {
    o.height = static_cast<int>(parse_integer(flag, value(), 1, 1 << 16));
  } else {
    return false;
  }
  return true;
}

// The flags of the output files' format; false when `flag` is none of them.
bool parse_output_flag(options& o, const std::string& flag,
                       const std::function<std::string()>& value) {
  if (flag == "--format") {
    o.output_format = parse_format(value());
  } else if (flag == "--png-level") {
    o.write.png_level =
        static_cast<int>(parse_integer(flag, value(), io::min_png_level, io::max_png_level));
  } else if (flag == "--jpeg-quality") {
    o.write.jpeg_quality = static_cast<int>(parse_integer(flag, value(), 1, 100));
  } else {
    return false;
  }
  return true;
}

// The flags of multi-device and multi-process runs; false when `flag` is none of them.
bool parse_scale_out_flag(options& o, const std::string& flag,
                          const std::function<std::string()>& value) {
  if (flag == "--devices") {
    o.devices = parse_devices(value());
  } else if (flag == "--pinned-pool") {
    o.pinned_pool = parse_pinned_pool(value());
  } else if (flag == "--rank") {
    o.rank = static_cast<int>(parse_integer(flag, value(), 0, max_ranks - 1));
  } else if (flag == "--ranks") {
    o.ranks = static_cast<int>(parse_integer(flag, value(), 1, max_ranks));
  } else if (flag == "--merge-timeout") {
    o.merge_timeout_seconds = static_cast<int>(parse_integer(flag, value(), 1, 86'400));
  } else {
    return false;
  }
  return true;
}

}  // namespace

options parse_options(int argc, const char* const* argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw usage_error(flag + ": missing value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      o.help = true;
    } else if (flag == "--input") {
      o.inputs.push_back(value());
    } else if (flag == "--output") {
      o.output_dir = value();
    } else if (flag == "--stages") {
      o.stages = parse_stages(value());
    } else if (flag == "--sigma") {
      o.sigma = parse_sigma(value());
    } else if (flag == "--streams") {
      o.streams = static_cast<int>(parse_integer(flag, value(), 1, 64));
    } else if (flag == "--backend") {
      o.backend = parse_backend(value());
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(parse_integer(flag, value(), 0, 256));
    } else if (flag == "--report") {
      o.report_path = value();
    } else if (flag == "--max-pixels") {
      o.max_pixels = static_cast<std::uint64_t>(
          parse_integer(flag, value(), 1, std::numeric_limits<long long>::max()));
    } else if (flag == "--quiet" || flag == "-q") {
      o.quiet = true;
    } else if (flag == "--no-write") {
      o.write_outputs = false;
    } else if (flag == "--per-frame-allocation") {
      o.per_frame_allocation = true;
    } else if (!parse_synthetic_flag(o, flag, value) && !parse_output_flag(o, flag, value) &&
               !parse_scale_out_flag(o, flag, value)) {
      throw usage_error("unknown flag '" + flag + "' (see --help)");
    }
  }
  if (o.rank >= 0 && o.ranks > 0 && o.rank >= o.ranks) {
    throw usage_error("--rank " + std::to_string(o.rank) + ": expected a rank below --ranks " +
                      std::to_string(o.ranks));
  }
  return o;
}

std::string usage_text() {
  return R"(usage: pinpool-pipeline [options]

Runs an image-processing chain on N streams fed by pinpool's pools: per frame a pinned
input chunk (decoded into by the host), a device chunk filled by an async copy, the stage
kernels, a pinned output chunk filled by the copy back, and encoding on host threads. The
summary shows where the time goes per frame: decode, kernels, encode, and the waits.
With no --input it processes synthetic 1920x1080 RGB test-pattern frames.

  --input PATH      image file or directory (repeatable; PNG, JPEG, PGM/PPM; a directory
                    gives its .png .jpg .jpeg .pgm .ppm .pnm files, not its subdirectories)
  --output DIR      where results go (default ./pinpool-out); x.jpg -> DIR/x.png,
                    another x.* -> DIR/x_2.png (noted on stderr, mapped in the report),
                    synthetic frames -> DIR/frame_0000.png ...
  --format F        output format: png (default), jpeg (or jpg: DIR/x.jpg, lossy) or pnm
                    (or pgm: DIR/x.pgm, uncompressed, the fastest to write)
  --png-level N     PNG deflate level, 0 (stored: fastest, about twice the size) to 9
                    (smallest, several times slower); default 1: smaller and faster than
                    OpenCV's imwrite defaults on edge images of photographs
  --jpeg-quality Q  JPEG quality 1..100 (default 90)
  --stages LIST     comma-separated chain of stages (default gray,blur,sobel) from
                    )" +
         kernels::stage_names(",") +
         R"(; colour input to a stage that works on grey
                    is converted with gray first
  --sigma S         Gaussian sigma of blur, radius ceil(3 sigma) (default 1.5)
  --streams N       streams in flight (default 3)
  --threads N       host threads that decode inputs ahead of the streams and encode
                    results (default 0: one per core)
  --backend B       auto, cpu or cuda (default auto: CUDA when a device is usable)
  --frames N        synthetic frames (default 64)
  --width W         synthetic frame width (default 1920)
  --height H        synthetic frame height (default 1080)
  --report FILE     write a JSON report (backend, frames, failures, the file written for
                    each input, pools, stages, timings); checked writable before any frame
  --max-pixels N    reject images whose header declares more pixels (default 100000000),
                    checked before any pixel memory is allocated
  --quiet           no progress line and no summary table
  --no-write        process everything but skip the encode and write (benchmarks)
  --per-frame-allocation
                    baseline without the pools' reuse: every buffer is its own backend
                    allocation, freed after its frame, with a host synchronisation per frame
  --devices LIST    comma-separated device ids to spread the streams over, round-robin
                    (stream i on the (i mod n)-th device; default: device 0, or
                    local rank mod device count under a launcher); each device gets its
                    own device pool and its own host threads (--threads split between
                    them). The CPU backend emulates devices 0..7, each with its own
                    streams (worker threads). --streams must be at least the number listed
  --pinned-pool M   shared (default: one pinned pool for all devices) or per-device
                    (one per device, from the same pool_group as the device pools)
  --rank R          this process's rank (default: from the launcher's environment:
                    OMPI_COMM_WORLD_RANK, PMI_RANK or SLURM_PROCID; else 0)
  --ranks N         the number of processes (default: OMPI_COMM_WORLD_SIZE, PMI_SIZE or
                    SLURM_NTASKS; else 1). With N > 1 the inputs, in the order of a
                    single-process run, are split round-robin (rank r takes frames
                    i mod N == r; output names are those of a single-process run), each
                    rank writes its report (FILE.rankR.json, FILE from --report, default
                    DIR/pinpool-report.json) and rank 0 then merges them into FILE
  --merge-timeout S
                    rank 0 waits at most S seconds (default 600) for the other ranks'
                    reports in the shared output directory, then writes the merged report
                    naming the ranks missing and exits 1
  --help            this text

Exit status: 0 all frames written, 1 some input failed (each named on stderr and in the
report), 2 usage error (bad flag, an input directory without image files, unwritable output
directory or report file, a device the backend does not have). With several ranks, rank 0's
status is the run's: 1 also when a frame failed on any rank, a rank's report is missing or an
input is not accounted for exactly once; the other ranks exit 0 once their report is written
(mpirun aborts the whole job when a rank exits non-zero).
)";
}

}  // namespace pinpool::pipeline
