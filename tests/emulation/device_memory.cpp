// Device memory of the CUDA emulation that the host cannot touch (see cuda_emulation.hpp).
//
// Each cudaMalloc block is a memfd mapped twice: a PROT_NONE view, handed out as the device
// pointer, and a read/write "shadow" view that only the emulated copy engine uses. A host read or
// write of a device pointer faults; the SIGSEGV handler below finds the allocation the address
// lies in, prints
//   pinpool-emu: rule violation: host access to device memory at 0x... (allocation 0x... of N
//   bytes from cudaMalloc)
// and aborts, as the process would crash on a GPU. A fault elsewhere goes to the handler that was
// installed before (or the default action). The handler runs on an alternate stack where one is
// set, and only uses async-signal-safe calls: the registry of device allocations is a fixed
// table of atomics, not the emulation's locked maps.
#include "emulation_internal.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>

namespace pinpool_emu::internal {
namespace {

/// A live device allocation, as the fault handler sees it (base 0: a free slot; `claimed`: being
/// filled in).
struct registered {
  std::atomic<std::uintptr_t> base{0};
  std::atomic<std::size_t> mapped{0};
  std::atomic<std::size_t> bytes{0};
};
constexpr std::uintptr_t claimed = 1;
constexpr std::size_t max_registered = 1 << 14;  // more live allocations: reported unnamed
registered registry[max_registered];
std::atomic<std::uintptr_t> low_water{~std::uintptr_t{0}};  // bounds of all views ever mapped
std::atomic<std::uintptr_t> high_water{0};

struct sigaction previous_action;

// ---- async-signal-safe output -----------------------------------------------------------------

struct line {
  char text[256];
  std::size_t size = 0;
  void put(const char* s) {
    while (*s != '\0' && size < sizeof text) text[size++] = *s++;
  }
  void put_hex(std::uintptr_t v) {
    char digits[2 * sizeof v];
    std::size_t n = 0;
    do {
      digits[n++] = "0123456789abcdef"[v & 0xF];
      v >>= 4;
    } while (v != 0);
    put("0x");
    while (n > 0 && size < sizeof text) text[size++] = digits[--n];
  }
  void put_dec(std::size_t v) {
    char digits[24];
    std::size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0 && size < sizeof text) text[size++] = digits[--n];
  }
  void write_to_stderr() const {
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(STDERR_FILENO, text + done, size - done);
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  }
};

/// The previous handler's turn: called directly when it is a function; otherwise the default
/// action is restored and the faulting access, executed again on return, takes it.
void pass_on(int sig, siginfo_t* info, void* context) {
  if ((previous_action.sa_flags & SA_SIGINFO) != 0 && previous_action.sa_sigaction != nullptr) {
    previous_action.sa_sigaction(sig, info, context);
    return;
  }
  if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(sig);
    return;
  }
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(SIGSEGV, &fallback, nullptr);
}

void on_fault(int sig, siginfo_t* info, void* context) {
  const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(info->si_addr);
  if (at < low_water.load() || at >= high_water.load()) return pass_on(sig, info, context);
  for (const registered& r : registry) {
    const std::uintptr_t base = r.base.load(std::memory_order_acquire);
    if (base <= claimed || at < base || at >= base + r.mapped.load(std::memory_order_relaxed))
      continue;
    line out;
    out.put("pinpool-emu: rule violation: host access to device memory at ");
    out.put_hex(at);
    out.put(" (allocation ");
    out.put_hex(base);
    out.put(" of ");
    out.put_dec(r.bytes.load(std::memory_order_relaxed));
    out.put(" bytes from cudaMalloc)\n");
    out.write_to_stderr();
    std::abort();
  }
  return pass_on(sig, info, context);
}

char alternate_stack[1 << 16];

void install_handler() {
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) != 0) {
    stack_t ours{};
    ours.ss_sp = alternate_stack;
    ours.ss_size = sizeof alternate_stack;
    sigaltstack(&ours, nullptr);  // this thread's; threads without one use their own stack
  }
  struct sigaction action {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, &previous_action);
}

void enroll(std::uintptr_t base, std::size_t mapped, std::size_t bytes) {
  std::uintptr_t low = low_water.load();
  while (base < low && !low_water.compare_exchange_weak(low, base)) {
  }
  std::uintptr_t high = high_water.load();
  while (base + mapped > high && !high_water.compare_exchange_weak(high, base + mapped)) {
  }
  for (registered& r : registry) {
    std::uintptr_t free_slot = 0;
    if (r.base.load(std::memory_order_relaxed) != 0 ||
        !r.base.compare_exchange_strong(free_slot, claimed, std::memory_order_acquire)) {
      continue;
    }
    r.mapped.store(mapped, std::memory_order_relaxed);
    r.bytes.store(bytes, std::memory_order_relaxed);
    r.base.store(base, std::memory_order_release);
    return;
  }
  // Table full: the access still faults, unnamed (the previous handler's report).
}

}  // namespace

device_view map_device_memory(std::size_t bytes) {
  static std::once_flag installed;
  std::call_once(installed, install_handler);
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t mapped = (bytes + page - 1) / page * page;
  const int fd = memfd_create("pinpool-emu-device", MFD_CLOEXEC);
  if (fd < 0) return {};
  device_view view;
  if (ftruncate(fd, static_cast<off_t>(mapped)) == 0) {
    void* device = mmap(nullptr, mapped, PROT_NONE, MAP_SHARED, fd, 0);
    void* shadow = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (device != MAP_FAILED && shadow != MAP_FAILED) {
      view = {device, shadow, mapped};
    } else {
      if (device != MAP_FAILED) munmap(device, mapped);
      if (shadow != MAP_FAILED) munmap(shadow, mapped);
    }
  }
  close(fd);
  if (view.device != nullptr) enroll(reinterpret_cast<std::uintptr_t>(view.device), mapped, bytes);
  return view;
}

void unmap_device_memory(const device_view& view) {
  const auto base = reinterpret_cast<std::uintptr_t>(view.device);
  for (registered& r : registry) {
    std::uintptr_t expected = base;
    if (r.base.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) break;
  }
  munmap(view.device, view.mapped);
  munmap(view.shadow, view.mapped);
}

}  // namespace pinpool_emu::internal
