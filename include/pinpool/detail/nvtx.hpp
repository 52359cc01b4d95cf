#pragma once
/// @file detail/nvtx.hpp
/// @brief NVTX behind a tiny wrapper (internal; used by the library and the sample pipeline).
/// Everything is in the "pinpool" domain. With PINPOOL_NVTX=OFF (no PINPOOL_HAS_NVTX) it all
/// compiles to nothing. With it on and no tool attached, each call is one indirect call to an
/// NVTX no-op.

#include <cstddef>
#include <cstdint>

#ifdef PINPOOL_HAS_NVTX
#include <nvtx3/nvToolsExtMem.h>
#include <nvtx3/nvtx3.hpp>

#include <cstdlib>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace pinpool::detail {

#ifdef PINPOOL_HAS_NVTX
struct nvtx_domain_tag {
  static constexpr char const* name{"pinpool"};
};

inline nvtxDomainHandle_t nvtx_domain() {
  return nvtx3::domain::get<nvtx_domain_tag>();
}

/// @brief A push/pop range on the calling thread, for the scope of the object.
class nvtx_range {
 public:
  explicit nvtx_range(const char* name) : range_(name) {}

 private:
  nvtx3::scoped_range_in<nvtx_domain_tag> range_;
};

/// @brief A start/end range: may end on another thread (used for stream-side stages).
inline std::uint64_t nvtx_start(const char* name) {
  return nvtx3::start_range_in<nvtx_domain_tag>(name).get_value();
}
inline void nvtx_end(std::uint64_t id) {
  nvtxDomainRangeEnd(nvtx_domain(), id);
}

/// @brief Starts NVTX (loads an injected tool) on the calling thread. Call it before starting a
/// thread that will use NVTX: NVTX publishes its lazy set-up with plain stores, so a first call
/// racing another thread's first call is a (benign) race that TSan reports.
inline void nvtx_initialize() {
  nvtxInitialize(nullptr);
}

inline void nvtx_name_this_thread(const char* name) {
  nvtxNameOsThreadA(static_cast<std::uint32_t>(::syscall(SYS_gettid)), name);
}

/// @brief Whether memory annotations are emitted: an NVTX tool was injected through
/// NVTX_INJECTION64_PATH when the process started (as Nsight Systems and pinpool-trace do), or a
/// test forced them. Without a tool they would cost the hot path a few dozen instructions each.
/// (Initialised before main, so the hot path reads a plain bool: no guard.)
inline bool nvtx_memory_annotations_on = std::getenv("NVTX_INJECTION64_PATH") != nullptr;
inline bool& nvtx_memory_annotations() {
  return nvtx_memory_annotations_on;
}

/// @brief Registers a slab as a sub-allocator heap; returns its handle.
inline void* nvtx_heap_register(const void* ptr, std::size_t bytes) {
  if (!nvtx_memory_annotations()) return nullptr;
  nvtxMemVirtualRangeDesc_t range{bytes, ptr};
  nvtxMemHeapDesc_t desc{};
  desc.extCompatID = NVTX_EXT_COMPATID_MEM;
  desc.structSize = sizeof(desc);
  desc.usage = NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR;
  desc.type = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  desc.typeSpecificDescSize = sizeof(range);
  desc.typeSpecificDesc = &range;
  return nvtxMemHeapRegister(nvtx_domain(), &desc);
}

inline void nvtx_heap_unregister(void* heap) {
  if (heap != nullptr && nvtx_memory_annotations())
    nvtxMemHeapUnregister(nvtx_domain(), static_cast<nvtxMemHeapHandle_t>(heap));
}

/// @brief A chunk handed out: one region of `bytes` at `ptr` in `heap`.
inline void nvtx_region_register(void* heap, const void* ptr, std::size_t bytes) {
  if (heap == nullptr || !nvtx_memory_annotations()) return;
  nvtxMemVirtualRangeDesc_t region{bytes, ptr};
  nvtxMemRegionsRegisterBatch_t batch{};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  batch.heap = static_cast<nvtxMemHeapHandle_t>(heap);
  batch.regionCount = 1;
  batch.regionDescElementSize = sizeof(region);
  batch.regionDescElements = &region;
  nvtxMemRegionsRegister(nvtx_domain(), &batch);
}

/// @brief A chunk released: its region in `heap` goes (by pointer). Nothing when `heap` is null
/// (the chunk's slab has no heap, so its region was never registered).
inline void nvtx_region_unregister(void* heap, const void* ptr) {
  if (heap == nullptr || !nvtx_memory_annotations()) return;
  nvtxMemRegionRef_t ref{};
  ref.pointer = ptr;
  nvtxMemRegionsUnregisterBatch_t batch{};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.refType = NVTX_MEM_REGION_REF_TYPE_POINTER;
  batch.refCount = 1;
  batch.refElementSize = sizeof(ref);
  batch.refElements = &ref;
  nvtxMemRegionsUnregister(nvtx_domain(), &batch);
}

#else  // NVTX compiled out

class nvtx_range {
 public:
  explicit nvtx_range(const char* /*name*/) noexcept {}
};
inline std::uint64_t nvtx_start(const char* /*name*/) noexcept {
  return 0;
}
inline void nvtx_end(std::uint64_t /*id*/) noexcept {}
inline void nvtx_initialize() noexcept {}
inline void nvtx_name_this_thread(const char* /*name*/) noexcept {}
inline bool& nvtx_memory_annotations() {
  static bool on = false;
  return on;
}
inline void* nvtx_heap_register(const void* /*base*/, std::size_t /*bytes*/) noexcept {
  return nullptr;
}
inline void nvtx_heap_unregister(void* /*heap*/) noexcept {}
inline void nvtx_region_register(void* /*heap*/, const void* /*ptr*/,
                                 std::size_t /*bytes*/) noexcept {}
inline void nvtx_region_unregister(void* /*heap*/, const void* /*ptr*/) noexcept {}

#endif

}  // namespace pinpool::detail
