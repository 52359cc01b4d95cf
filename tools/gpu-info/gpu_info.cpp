// pinpool-gpu-info: what the CUDA runtime linked into pinpool's binaries sees (tools/gpu-check,
// step 1). Prints key=value lines: the runtime and driver versions, then per device its name,
// compute capability, memory, SMs, copy engines and PCI address, and whether a context can be
// created. Exit status: 0 at least one usable device, 2 none (the runtime's reason in `error=`),
// 1 a device is listed but a context cannot be created on it.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>

namespace {

void print_version(const char* key, int v) {
  std::printf("%s=%d.%d (%d)\n", key, v / 1000, (v % 1000) / 10, v);
}

void print_error(const char* what, cudaError_t err) {
  std::printf("error=%s: %s: %s\n", what, cudaGetErrorName(err), cudaGetErrorString(err));
}

int attribute(cudaDeviceAttr attr, int device) {
  int v = -1;
  if (cudaDeviceGetAttribute(&v, attr, device) != cudaSuccess) v = -1;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf(
        "usage: pinpool-gpu-info\nPrints the CUDA runtime and driver versions and every device "
        "the runtime sees (key=value).\nExit status: 0 a usable device, 1 a device without a "
        "usable context, 2 no device.\n");
    return 0;
  }
  int runtime = 0;
  int driver = 0;
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) print_version("runtime_version", runtime);
  const cudaError_t driver_err = cudaDriverGetVersion(&driver);
  if (driver_err == cudaSuccess && driver > 0) {
    print_version("driver_version", driver);
  } else {
    std::printf("driver_version=none\n");
  }
  int count = 0;
  const cudaError_t count_err = cudaGetDeviceCount(&count);
  if (count_err != cudaSuccess || count == 0) {
    std::printf("devices=0\n");
    if (count_err != cudaSuccess) {
      print_error("cudaGetDeviceCount", count_err);
    } else {
      std::printf("error=cudaGetDeviceCount: 0 devices\n");
    }
    return 2;
  }
  std::printf("devices=%d\n", count);
  int usable = 0;
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p{};
    const cudaError_t err = cudaGetDeviceProperties(&p, d);
    if (err != cudaSuccess) {
      std::printf("device%d.", d);
      print_error("cudaGetDeviceProperties", err);
      continue;
    }
    std::printf("device%d.name=%s\n", d, p.name);
    std::printf("device%d.compute_capability=%d.%d\n", d, p.major, p.minor);
    std::printf("device%d.memory_mib=%zu\n", d, p.totalGlobalMem >> 20);
    std::printf("device%d.sms=%d\n", d, p.multiProcessorCount);
    std::printf("device%d.copy_engines=%d\n", d, p.asyncEngineCount);
    std::printf("device%d.l2_kib=%d\n", d, p.l2CacheSize >> 10);
    std::printf("device%d.memory_bus_bits=%d\n", d, p.memoryBusWidth);
    std::printf("device%d.ecc=%d\n", d, p.ECCEnabled);
    std::printf("device%d.pci=%04x:%02x:%02x\n", d, p.pciDomainID, p.pciBusID, p.pciDeviceID);
    std::printf("device%d.clock_khz=%d\n", d, attribute(cudaDevAttrClockRate, d));
    std::printf("device%d.memory_pools=%d\n", d, attribute(cudaDevAttrMemoryPoolsSupported, d));
    // A context: cudaSetDevice + cudaFree(nullptr) create the primary context.
    cudaError_t ctx = cudaSetDevice(d);
    if (ctx == cudaSuccess) ctx = cudaFree(nullptr);
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    if (ctx == cudaSuccess) ctx = cudaMemGetInfo(&free_bytes, &total_bytes);
    if (ctx != cudaSuccess) {
      std::printf("device%d.context=failed\ndevice%d.", d, d);
      print_error("context", ctx);
      continue;
    }
    std::printf("device%d.context=ok\ndevice%d.free_mib=%zu\n", d, d, free_bytes >> 20);
    ++usable;
  }
  std::printf("usable_devices=%d\n", usable);
  return usable > 0 ? 0 : 1;
}
