#include "numa.hpp"
#include "pinned_slab.hpp"

#include <pinpool/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace pinpool::detail {
namespace {

constexpr std::size_t huge_page = std::size_t{2} << 20;  // x86-64 and aarch64 (4 KiB pages) PMD
constexpr std::size_t bytes_per_touch_thread = std::size_t{16} << 20;
constexpr unsigned max_default_touch_threads = 4;

std::size_t page_size() noexcept {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t round_up(std::size_t v, std::size_t to) noexcept {
  return (v + to - 1) / to * to;
}

// Maps whole pages; from `huge_page` up, over-maps and trims so that the mapping starts on a
// huge-page boundary (transparent huge pages back only aligned 2 MiB pieces).
void* map_pages(std::size_t bytes, bool huge_pages) {
  const std::size_t length = round_up(bytes, page_size());
  const bool huge = length >= huge_page;
  const std::size_t mapped = huge ? length + huge_page : length;
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw out_of_memory("pinpool: cannot map " + std::to_string(bytes) +
                        " bytes of host memory: " + std::strerror(errno));
  }
  if (!huge) return p;
  auto* base = static_cast<char*>(p);
  const std::size_t head =
      (huge_page - reinterpret_cast<std::uintptr_t>(p) % huge_page) % huge_page;
  char* aligned = base + head;
  if (head != 0) ::munmap(base, head);
  if (mapped > head + length) ::munmap(aligned + length, mapped - head - length);
  if (huge_pages) static_cast<void>(::madvise(aligned, length, MADV_HUGEPAGE));  // EINVAL: no THP
  return aligned;
}

void touch_range(char* p, std::size_t bytes, std::size_t page) noexcept {
  for (std::size_t off = 0; off < bytes; off += page) {
    *static_cast<volatile char*>(p + off) = 0;
  }
}

}  // namespace

unsigned default_touch_threads(std::size_t bytes) noexcept {
  const unsigned hardware = std::max(1U, std::thread::hardware_concurrency());
  const std::size_t by_size = bytes / bytes_per_touch_thread;
  const auto n = std::min<std::size_t>({max_default_touch_threads, hardware, by_size});
  return static_cast<unsigned>(std::max<std::size_t>(1, n));
}

void touch_pages(void* p, std::size_t bytes, unsigned threads) {
  const std::size_t page = page_size();
  const std::size_t pieces = std::max<std::size_t>(1, round_up(bytes, huge_page) / huge_page);
  const std::size_t n = std::clamp<std::size_t>(threads, 1, pieces);
  auto* base = static_cast<char*>(p);
  // Part i of n: pieces [i * pieces / n, (i + 1) * pieces / n), cut at the slab's end.
  auto touch_part = [=](std::size_t i) noexcept {
    const std::size_t first = std::min(bytes, i * pieces / n * huge_page);
    const std::size_t last = std::min(bytes, (i + 1) * pieces / n * huge_page);
    touch_range(base + first, last - first, page);
  };
  std::vector<std::thread> workers;
  workers.reserve(n - 1);
  std::size_t spawned = 1;
  try {
    for (; spawned < n; ++spawned) workers.emplace_back(touch_part, spawned);
  } catch (const std::system_error&) {  // no more threads: the caller touches the rest
  }
  touch_part(0);
  for (std::size_t i = spawned; i < n; ++i) touch_part(i);
  for (std::thread& t : workers) t.join();
}

host_slab make_host_slab(const host_slab_request& r) {
  host_slab s;
  s.bytes = r.bytes;
  s.ptr = map_pages(r.bytes, r.huge_pages);
  const std::size_t length = round_up(r.bytes, page_size());
  static_cast<void>(prefer_numa_node(s.ptr, length, r.numa_node));
  if (!r.touch) return s;
  try {
    touch_pages(s.ptr, r.bytes,
                r.touch_threads != 0 ? r.touch_threads : default_touch_threads(r.bytes));
  } catch (...) {
    free_host_slab(s.ptr, r.bytes);
    throw;
  }
  s.locked = r.lock && ::mlock(s.ptr, length) == 0;
  s.numa_node = numa_node_of(s.ptr, length);
  return s;
}

void free_host_slab(void* ptr, std::size_t bytes) noexcept {
  if (ptr != nullptr) ::munmap(ptr, bytes);
}

}  // namespace pinpool::detail
