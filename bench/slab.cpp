// Suite slab: how fast a pinned slab is created (issue 13 §2), in GB/s of slab, against the
// memory bandwidth measured in the same run. Variants, each timed from "nothing" to "every page
// backed (and locked where RLIMIT_MEMLOCK allows)", the slab unmapped outside the timing:
//   mmap_touch_mlock  the old CPU-backend path: mmap, touch every page on the calling thread,
//                     mlock (no huge-page advice)
//   slab_Nt           src/pinned_slab.cpp as both backends use it: 2 MiB-aligned mapping,
//                     madvise(MADV_HUGEPAGE), mbind, first touch on N threads, mlock, node read
//                     back (the CUDA backend registers instead of mlock; registration is not
//                     timed here: no GPU)
//   slab_4k_Nt        the same without the huge-page advice (4 KiB pages: what a system
//                     without transparent huge pages gets), to separate the two effects
//   memcpy, memset    one thread copying / filling pre-touched buffers of the same size: the
//                     bandwidth a page's first touch (the kernel zeroes it) competes with
// Repetitions are interleaved (a random variant order per round) so the machine's load hits all
// alike;
// medians are reported. Writes a JSON file (--out) and prints a table.
//
//   pinpool-bench-slab [--sizes 64,256,1024] [--repetitions 5] [--out slab.json]
#include "pinned_slab.hpp"

#ifdef PINPOOL_BENCH_CUDA
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

constexpr std::size_t mib = std::size_t{1} << 20;
using clock_type = std::chrono::steady_clock;

struct variant {
  std::string name;
  unsigned threads;
  // Creates (and afterwards frees) a slab of `bytes`; returns the seconds creation took and
  // whether the memory ended up locked.
  std::function<double(std::size_t bytes, bool& locked)> run;
};

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double old_path(std::size_t bytes, bool& locked) {
  const auto t0 = clock_type::now();
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  for (std::size_t off = 0; off < bytes; off += page) static_cast<volatile char*>(p)[off] = 0;
  locked = ::mlock(p, bytes) == 0;
  const double s = seconds_since(t0);
  ::munmap(p, bytes);
  return s;
}

double new_path(std::size_t bytes, unsigned threads, bool huge, bool& locked) {
  const auto t0 = clock_type::now();
  const pinpool::detail::host_slab h =
      pinpool::detail::make_host_slab({bytes, -1, threads, true, true, huge});
  const double s = seconds_since(t0);
  locked = h.locked;
  pinpool::detail::free_host_slab(h.ptr, h.bytes);
  return s;
}

#ifdef PINPOOL_BENCH_CUDA
// With a GPU: the runtime's own pinned allocation against the CUDA backend's path (touch in
// parallel, then register). Freed outside the timing.
bool have_gpu() {
  int n = 0;
  const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  static_cast<void>(cudaGetLastError());
  return ok;
}

double cuda_host_alloc(std::size_t bytes, bool& locked) {
  const auto t0 = clock_type::now();
  void* p = nullptr;
  if (cudaHostAlloc(&p, bytes, cudaHostAllocPortable) != cudaSuccess) {
    throw std::runtime_error("cudaHostAlloc failed");
  }
  const double s = seconds_since(t0);
  locked = true;
  cudaFreeHost(p);
  return s;
}

double touch_and_register(std::size_t bytes, unsigned threads, bool& locked) {
  const auto t0 = clock_type::now();
  const pinpool::detail::host_slab h =
      pinpool::detail::make_host_slab({bytes, -1, threads, true, false, true});
  locked = cudaHostRegister(h.ptr, bytes, cudaHostRegisterPortable) == cudaSuccess;
  const double s = seconds_since(t0);
  if (locked) cudaHostUnregister(h.ptr);
  pinpool::detail::free_host_slab(h.ptr, h.bytes);
  return s;
}
#endif

// Bandwidth references: buffers touched beforehand, so only the copy or fill is timed.
struct buffers {
  std::vector<char> a, b;
  explicit buffers(std::size_t bytes) : a(bytes, 1), b(bytes, 2) {}
};

double memcpy_time(buffers& buf, std::size_t bytes) {
  const auto t0 = clock_type::now();
  std::memcpy(buf.b.data(), buf.a.data(), bytes);
  const double s = seconds_since(t0);
  if (buf.b[bytes / 2] != 1) throw std::runtime_error("memcpy elided");
  return s;
}

double memset_time(buffers& buf, std::size_t bytes) {
  const auto t0 = clock_type::now();
  std::memset(buf.b.data(), 3, bytes);
  const double s = seconds_since(t0);
  if (buf.b[bytes / 2] != 3) throw std::runtime_error("memset elided");
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 != 0 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::vector<std::size_t> parse_sizes(const std::string& text) {
  std::vector<std::size_t> sizes;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) sizes.push_back(std::stoul(item) * mib);
  return sizes;
}

struct result {
  std::string variant;
  std::size_t bytes;
  unsigned threads;
  std::vector<double> seconds;
  bool locked;
  std::uint64_t huge_faults;  // thp_fault_alloc over the counted repetitions
};

// A counter of /proc/vmstat (0 when absent): thp_fault_alloc counts page faults served with a
// transparent huge page, so huge_faults * 2 MiB / bytes created says how much of a variant's
// memory really was on huge pages (any process's faults count too: a shared machine adds noise).
std::uint64_t vmstat(const std::string& name) {
  std::ifstream in("/proc/vmstat");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) {
    if (key == name) return value;
  }
  return 0;
}

std::vector<variant> variants(buffers& buf) {
  std::vector<variant> v;
  v.push_back({"mmap_touch_mlock", 1, old_path});
  for (const bool huge : {false, true}) {
    for (unsigned t : {1U, 2U, 4U}) {
      v.push_back({std::string(huge ? "slab_" : "slab_4k_") + std::to_string(t) + "t", t,
                   [t, huge](std::size_t bytes, bool& locked) {
                     return new_path(bytes, t, huge, locked);
                   }});
    }
  }
#ifdef PINPOOL_BENCH_CUDA
  if (have_gpu()) {
    v.push_back({"cuda_host_alloc", 1, cuda_host_alloc});
    for (unsigned t : {1U, 4U}) {
      v.push_back({"register_" + std::to_string(t) + "t", t, [t](std::size_t bytes, bool& locked) {
                     return touch_and_register(bytes, t, locked);
                   }});
    }
  }
#endif
  v.push_back({"memcpy", 1, [&buf](std::size_t bytes, bool& locked) {
                 locked = false;
                 return memcpy_time(buf, bytes);
               }});
  v.push_back({"memset", 1, [&buf](std::size_t bytes, bool& locked) {
                 locked = false;
                 return memset_time(buf, bytes);
               }});
  return v;
}

std::vector<result> measure(std::size_t bytes, int reps) {
  buffers buf(bytes);
  const std::vector<variant> vs = variants(buf);
  std::vector<result> out;
  for (const variant& v : vs) out.push_back({v.name, bytes, v.threads, {}, false, 0});
  // A random order per round (fixed seed): a fixed cyclic order would always put the same
  // variant after the same one, and here huge-page slabs made right after a 1 GiB slab of
  // 4 KiB pages was unmapped took several times longer in every run (slab_1t, which always came
  // next: 0.6-1.1 s for 1 GiB against 0.11 s otherwise; the kernel's cause not pinned down).
  std::mt19937 rng(1);
  std::vector<std::size_t> order(vs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int r = 0; r < reps + 1; ++r) {  // the first round warms up and is not counted
    std::shuffle(order.begin(), order.end(), rng);
    for (const std::size_t i : order) {
      bool locked = false;
      const std::uint64_t faults = vmstat("thp_fault_alloc");
      const double s = vs[i].run(bytes, locked);
      if (r == 0) continue;
      out[i].seconds.push_back(s);
      out[i].locked = locked;
      out[i].huge_faults += vmstat("thp_fault_alloc") - faults;
    }
  }
  return out;
}

void write_json(const std::string& path, const std::vector<result>& results, int reps,
                const std::string& load_before, const std::string& load_after) {
  std::ofstream o(path);
  rlimit lim{};
  ::getrlimit(RLIMIT_MEMLOCK, &lim);
  const long long memlock =
      lim.rlim_cur == RLIM_INFINITY ? -1 : static_cast<long long>(lim.rlim_cur);
  o.precision(9);
  o << "{\"suite\":\"slab\",\"hardware_threads\":" << std::thread::hardware_concurrency()
    << ",\"repetitions\":" << reps << ",\"rlimit_memlock_bytes\":" << memlock << ",\"thp\":\""
    << read_first_line("/sys/kernel/mm/transparent_hugepage/enabled")
    << "\",\"numa_nodes_online\":\"" << read_first_line("/sys/devices/system/node/online")
    << "\",\"loadavg_before\":\"" << load_before << "\",\"loadavg_after\":\"" << load_after
    << "\",\"results\":[";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const result& r = results[i];
    const double m = median(r.seconds);
    o << (i != 0 ? "," : "") << "{\"variant\":\"" << r.variant << "\",\"bytes\":" << r.bytes
      << ",\"threads\":" << r.threads << ",\"median_s\":" << m
      << ",\"gb_per_s\":" << static_cast<double>(r.bytes) / m / 1e9
      << ",\"min_s\":" << *std::min_element(r.seconds.begin(), r.seconds.end())
      << ",\"max_s\":" << *std::max_element(r.seconds.begin(), r.seconds.end())
      << ",\"locked\":" << (r.locked ? "true" : "false") << ",\"huge_page_fraction\":"
      << static_cast<double>(r.huge_faults) * 2.0 * mib /
             (static_cast<double>(r.bytes) * static_cast<double>(r.seconds.size()))
      << "}";
  }
  o << "]}\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes{64 * mib, 256 * mib, 1024 * mib};
  int reps = 5;
  std::string out = "slab.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--sizes") sizes = parse_sizes(argv[i + 1]);
    if (opt == "--repetitions") reps = std::max(1, std::atoi(argv[i + 1]));
    if (opt == "--out") out = argv[i + 1];
  }
  const std::string load_before = read_first_line("/proc/loadavg");
  std::vector<result> all;
  std::printf("%-18s %8s %10s %10s %8s %6s\n", "variant", "MiB", "median ms", "GB/s", "locked",
              "huge");
  for (const std::size_t bytes : sizes) {
    for (const result& r : measure(bytes, reps)) {
      const double m = median(r.seconds);
      const double huge = static_cast<double>(r.huge_faults) * 2.0 * mib /
                          (static_cast<double>(bytes) * static_cast<double>(r.seconds.size()));
      std::printf("%-18s %8zu %10.2f %10.2f %8s %5.0f%%\n", r.variant.c_str(), bytes / mib, m * 1e3,
                  static_cast<double>(bytes) / m / 1e9, r.locked ? "yes" : "no", huge * 100);
      all.push_back(r);
    }
  }
  write_json(out, all, reps, load_before, read_first_line("/proc/loadavg"));
  std::printf("wrote %s (load average before: %s; after: %s)\n", out.c_str(), load_before.c_str(),
              read_first_line("/proc/loadavg").c_str());
  return 0;
}
