// pinpool_nvtx_demo: a small NVTX-instrumented program (no pinpool) that the pinpool-trace tests
// run with NVTX_INJECTION64_PATH. What it emits, in order (the tests check each):
//  - main thread named "demo-main"; domain "demo"; category 7 of "demo" named "io";
//  - "handoff": a start/end range of "demo" started on demo-main, ended on worker-a;
//  - threads "worker-a" then "worker-b" (one after the other), each: push "outer" (demo,
//    category 7, colour 0xFF8800, payload 42) { push "inner" (demo) {} ; nvtxRangePushA
//    "default-domain" {} } ;
//  - mark "checkpoint" (demo, payload 7) and wide-string mark L"wide-mark-é" on demo-main;
//  - "registered-range": a push/pop range named with a registered string;
//  - a 1 MiB heap in "demo", regions: +4096 at 0, +8192 at 4096, -(ptr 0), +1024 at 65536,
//    then the heap is unregistered: "demo: bytes in use" = 0, 4096, 12288, 8192, 9216, 0 and
//    "demo: heap bytes" = 1048576, 0.
// Exit code 0.

#include <nvtx3/nvToolsExt.h>
#include <nvtx3/nvToolsExtMem.h>

#include <chrono>
#include <cstdint>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace {

std::uint32_t os_tid() {
  return static_cast<std::uint32_t>(::syscall(SYS_gettid));
}

nvtxEventAttributes_t attributes(const char* name) {
  nvtxEventAttributes_t a{};
  a.version = NVTX_VERSION;
  a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  a.messageType = NVTX_MESSAGE_TYPE_ASCII;
  a.message.ascii = name;
  return a;
}

void short_wait() {
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

nvtxMemHeapHandle_t register_heap(nvtxDomainHandle_t d, const void* ptr, std::size_t bytes) {
  nvtxMemVirtualRangeDesc_t range{bytes, ptr};
  nvtxMemHeapDesc_t desc{};
  desc.extCompatID = NVTX_EXT_COMPATID_MEM;
  desc.structSize = sizeof(desc);
  desc.usage = NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR;
  desc.type = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  desc.typeSpecificDescSize = sizeof(range);
  desc.typeSpecificDesc = &range;
  return nvtxMemHeapRegister(d, &desc);
}

void register_region(nvtxDomainHandle_t d, nvtxMemHeapHandle_t heap, const void* ptr,
                     std::size_t bytes) {
  nvtxMemVirtualRangeDesc_t region{bytes, ptr};
  nvtxMemRegionsRegisterBatch_t batch{};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  batch.heap = heap;
  batch.regionCount = 1;
  batch.regionDescElementSize = sizeof(region);
  batch.regionDescElements = &region;
  nvtxMemRegionsRegister(d, &batch);
}

void unregister_region(nvtxDomainHandle_t d, const void* ptr) {
  nvtxMemRegionRef_t ref{};
  ref.pointer = ptr;
  nvtxMemRegionsUnregisterBatch_t batch{};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.refType = NVTX_MEM_REGION_REF_TYPE_POINTER;
  batch.refCount = 1;
  batch.refElementSize = sizeof(ref);
  batch.refElements = &ref;
  nvtxMemRegionsUnregister(d, &batch);
}

alignas(256) unsigned char slab[1 << 20];

}  // namespace

int main() {
  nvtxNameOsThreadA(os_tid(), "demo-main");
  nvtxDomainHandle_t demo = nvtxDomainCreateA("demo");
  nvtxDomainNameCategoryA(demo, 7, "io");

  nvtxEventAttributes_t handoff_attr = attributes("handoff");
  const nvtxRangeId_t handoff = nvtxDomainRangeStartEx(demo, &handoff_attr);

  const auto worker = [demo, handoff](const char* name, bool ends_handoff) {
    nvtxNameOsThreadA(os_tid(), name);
    nvtxEventAttributes_t outer = attributes("outer");
    outer.category = 7;
    outer.colorType = NVTX_COLOR_ARGB;
    outer.color = 0xFFFF8800u;
    outer.payloadType = NVTX_PAYLOAD_TYPE_INT32;
    outer.payload.iValue = 42;
    nvtxDomainRangePushEx(demo, &outer);
    {
      nvtxEventAttributes_t inner = attributes("inner");
      nvtxDomainRangePushEx(demo, &inner);
      short_wait();
      nvtxDomainRangePop(demo);
      nvtxRangePushA("default-domain");
      short_wait();
      nvtxRangePop();
    }
    nvtxDomainRangePop(demo);
    if (ends_handoff) nvtxDomainRangeEnd(demo, handoff);
  };
  std::thread(worker, "worker-a", true).join();
  std::thread(worker, "worker-b", false).join();

  nvtxEventAttributes_t checkpoint = attributes("checkpoint");
  checkpoint.payloadType = NVTX_PAYLOAD_TYPE_UNSIGNED_INT64;
  checkpoint.payload.ullValue = 7;
  nvtxDomainMarkEx(demo, &checkpoint);
  nvtxMarkW(L"wide-mark-\u00e9");

  nvtxEventAttributes_t registered{};
  registered.version = NVTX_VERSION;
  registered.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  registered.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  registered.message.registered = nvtxDomainRegisterStringA(demo, "registered-range");
  nvtxDomainRangePushEx(demo, &registered);
  short_wait();
  nvtxDomainRangePop(demo);

  nvtxMemHeapHandle_t heap = register_heap(demo, slab, sizeof slab);
  register_region(demo, heap, slab, 4096);
  register_region(demo, heap, slab + 4096, 8192);
  unregister_region(demo, slab);
  register_region(demo, heap, slab + 65536, 1024);
  nvtxMemHeapUnregister(demo, heap);
  return 0;
}
