// A tool: NVTX types and declarations only, no NVTX implementation of its own.
#define NVTX_NO_IMPL
#include "collector.hpp"
#include "nvtx_hooks.hpp"
#include "text.hpp"

#include <cstddef>
#include <cstdint>
#include <cwchar>
#include <string>
#include <vector>

namespace pinpool::trace::detail {

namespace {

collector& sink() {
  return collector::instance();
}

domain_record* as_domain(nvtxDomainHandle_t d) {
  return reinterpret_cast<domain_record*>(d);
}

std::string message_text(std::int32_t type, const nvtxMessageValue_t& m) {
  switch (type) {
    case NVTX_MESSAGE_TYPE_ASCII:
      return m.ascii ? std::string(m.ascii) : std::string{};
    case NVTX_MESSAGE_TYPE_UNICODE:
      return m.unicode ? to_utf8(m.unicode) : std::string{};
    case NVTX_MESSAGE_TYPE_REGISTERED:
      return m.registered ? *reinterpret_cast<const std::string*>(m.registered) : std::string{};
    default:
      return {};
  }
}

// Fields past `size` were not provided by the caller (older or smaller attribute structs).
template <class Struct>
bool provides(std::size_t size, std::size_t offset, std::size_t field) {
  return size >= offset + field && sizeof(Struct) >= offset + field;
}

event_attrs read_attrs(const nvtxEventAttributes_t* a) {
  event_attrs r;
  if (a == nullptr) return r;
  using A = nvtxEventAttributes_t;
  const std::size_t size = a->size;
  if (provides<A>(size, offsetof(A, category), sizeof(a->category))) r.category = a->category;
  if (provides<A>(size, offsetof(A, color), sizeof(a->color)) && a->colorType == NVTX_COLOR_ARGB) {
    r.color = a->color;
  }
  if (provides<A>(size, offsetof(A, payload), sizeof(a->payload))) {
    switch (a->payloadType) {
      case NVTX_PAYLOAD_TYPE_UNSIGNED_INT64:
        r.payload = static_cast<double>(a->payload.ullValue);
        break;
      case NVTX_PAYLOAD_TYPE_INT64:
        r.payload = static_cast<double>(a->payload.llValue);
        break;
      case NVTX_PAYLOAD_TYPE_DOUBLE:
        r.payload = a->payload.dValue;
        break;
      case NVTX_PAYLOAD_TYPE_UNSIGNED_INT32:
        r.payload = a->payload.uiValue;
        break;
      case NVTX_PAYLOAD_TYPE_INT32:
        r.payload = a->payload.iValue;
        break;
      case NVTX_PAYLOAD_TYPE_FLOAT:
        r.payload = a->payload.fValue;
        break;
      default:
        break;
    }
  }
  if (provides<A>(size, offsetof(A, message), sizeof(a->message))) {
    r.name = message_text(a->messageType, a->message);
  }
  return r;
}

event_attrs named(std::string name) {
  event_attrs r;
  r.name = std::move(name);
  return r;
}

// ---- core (NVTX_CB_MODULE_CORE): the calls without a domain -----------------------------------

void mark_ex(const nvtxEventAttributes_t* a) {
  sink().mark(nullptr, read_attrs(a));
}
void mark_a(const char* m) {
  sink().mark(nullptr, named(m ? m : ""));
}
void mark_w(const wchar_t* m) {
  sink().mark(nullptr, named(m ? to_utf8(m) : ""));
}
nvtxRangeId_t start_ex(const nvtxEventAttributes_t* a) {
  return sink().start(nullptr, read_attrs(a));
}
nvtxRangeId_t start_a(const char* m) {
  return sink().start(nullptr, named(m ? m : ""));
}
nvtxRangeId_t start_w(const wchar_t* m) {
  return sink().start(nullptr, named(m ? to_utf8(m) : ""));
}
void end(nvtxRangeId_t id) {
  sink().end(id);
}
int push_ex(const nvtxEventAttributes_t* a) {
  return sink().push(nullptr, read_attrs(a));
}
int push_a(const char* m) {
  return sink().push(nullptr, named(m ? m : ""));
}
int push_w(const wchar_t* m) {
  return sink().push(nullptr, named(m ? to_utf8(m) : ""));
}
int pop() {
  return sink().pop(nullptr);
}
void name_category_a(std::uint32_t id, const char* n) {
  sink().name_category(nullptr, id, n ? n : "");
}
void name_category_w(std::uint32_t id, const wchar_t* n) {
  sink().name_category(nullptr, id, n ? to_utf8(n) : "");
}
void name_thread_a(std::uint32_t tid, const char* n) {
  sink().name_thread(tid, n ? n : "");
}
void name_thread_w(std::uint32_t tid, const wchar_t* n) {
  sink().name_thread(tid, n ? to_utf8(n) : "");
}

// ---- core 2 (NVTX_CB_MODULE_CORE2): domains ---------------------------------------------------

void domain_mark_ex(nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) {
  sink().mark(as_domain(d), read_attrs(a));
}
nvtxRangeId_t domain_start_ex(nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) {
  return sink().start(as_domain(d), read_attrs(a));
}
void domain_end(nvtxDomainHandle_t, nvtxRangeId_t id) {
  sink().end(id);
}
int domain_push_ex(nvtxDomainHandle_t d, const nvtxEventAttributes_t* a) {
  return sink().push(as_domain(d), read_attrs(a));
}
int domain_pop(nvtxDomainHandle_t d) {
  return sink().pop(as_domain(d));
}
void domain_name_category_a(nvtxDomainHandle_t d, std::uint32_t id, const char* n) {
  sink().name_category(as_domain(d), id, n ? n : "");
}
void domain_name_category_w(nvtxDomainHandle_t d, std::uint32_t id, const wchar_t* n) {
  sink().name_category(as_domain(d), id, n ? to_utf8(n) : "");
}
nvtxStringHandle_t register_string_a(nvtxDomainHandle_t, const char* s) {
  const std::string* stored = sink().register_string(s ? s : "");
  return reinterpret_cast<nvtxStringHandle_t>(const_cast<std::string*>(stored));
}
nvtxStringHandle_t register_string_w(nvtxDomainHandle_t, const wchar_t* s) {
  const std::string* stored = sink().register_string(s ? to_utf8(s) : "");
  return reinterpret_cast<nvtxStringHandle_t>(const_cast<std::string*>(stored));
}
nvtxDomainHandle_t domain_create_a(const char* name) {
  return reinterpret_cast<nvtxDomainHandle_t>(sink().create_domain(name ? name : ""));
}
nvtxDomainHandle_t domain_create_w(const wchar_t* name) {
  return reinterpret_cast<nvtxDomainHandle_t>(sink().create_domain(name ? to_utf8(name) : ""));
}
void domain_destroy(nvtxDomainHandle_t) {}  // records stay valid: handles may still be in use
void initialize(const void*) {}

// ---- memory extension -------------------------------------------------------------------------

std::uint64_t heap_id(nvtxMemHeapHandle_t h) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(h));
}

nvtxMemHeapHandle_t heap_register(nvtxDomainHandle_t d, const nvtxMemHeapDesc_t* desc) {
  if (desc == nullptr) return nullptr;
  using D = nvtxMemHeapDesc_t;
  const std::size_t size = desc->structSize;
  mem_range range;
  if (desc->type == NVTX_MEM_TYPE_VIRTUAL_ADDRESS && desc->typeSpecificDesc != nullptr &&
      desc->typeSpecificDescSize >= sizeof(nvtxMemVirtualRangeDesc_t)) {
    const auto* r = static_cast<const nvtxMemVirtualRangeDesc_t*>(desc->typeSpecificDesc);
    range = mem_range{r->ptr, r->size};
  }
  std::string name;
  if (provides<D>(size, offsetof(D, message), sizeof(desc->message))) {
    name = message_text(static_cast<std::int32_t>(desc->messageType), desc->message);
  }
  const std::uint64_t id =
      sink().heap_register(as_domain(d), std::move(name), desc->usage, desc->type, range);
  return reinterpret_cast<nvtxMemHeapHandle_t>(static_cast<std::uintptr_t>(id));
}

void heap_unregister(nvtxDomainHandle_t d, nvtxMemHeapHandle_t h) {
  sink().heap_unregister(as_domain(d), heap_id(h));
}

void heap_reset(nvtxDomainHandle_t d, nvtxMemHeapHandle_t h) {
  sink().heap_reset(as_domain(d), heap_id(h));
}

// Batches carry an element size so that callers may use larger (newer) element structs.
template <class Element>
const Element& element(const void* base, std::size_t stride, std::size_t i) {
  return *reinterpret_cast<const Element*>(static_cast<const char*>(base) + i * stride);
}

void regions_register(nvtxDomainHandle_t d, const nvtxMemRegionsRegisterBatch_t* b) {
  if (b == nullptr || b->regionType != NVTX_MEM_TYPE_VIRTUAL_ADDRESS ||
      b->regionDescElements == nullptr ||
      b->regionDescElementSize < sizeof(nvtxMemVirtualRangeDesc_t)) {
    return;
  }
  std::vector<mem_range> ranges;
  ranges.reserve(b->regionCount);
  for (std::size_t i = 0; i < b->regionCount; ++i) {
    const auto& r =
        element<nvtxMemVirtualRangeDesc_t>(b->regionDescElements, b->regionDescElementSize, i);
    ranges.push_back(mem_range{r.ptr, r.size});
    // A region's handle is its address: unregistering by handle or by pointer is the same.
    if (b->regionHandleElementsOut != nullptr) {
      b->regionHandleElementsOut[i] =
          reinterpret_cast<nvtxMemRegionHandle_t>(const_cast<void*>(r.ptr));
    }
  }
  sink().regions_register(as_domain(d), heap_id(b->heap), ranges);
}

void regions_resize(nvtxDomainHandle_t d, const nvtxMemRegionsResizeBatch_t* b) {
  if (b == nullptr || b->regionType != NVTX_MEM_TYPE_VIRTUAL_ADDRESS ||
      b->regionDescElements == nullptr ||
      b->regionDescElementSize < sizeof(nvtxMemVirtualRangeDesc_t)) {
    return;
  }
  std::vector<mem_range> ranges;
  ranges.reserve(b->regionDescCount);
  for (std::size_t i = 0; i < b->regionDescCount; ++i) {
    const auto& r =
        element<nvtxMemVirtualRangeDesc_t>(b->regionDescElements, b->regionDescElementSize, i);
    ranges.push_back(mem_range{r.ptr, r.size});
  }
  sink().regions_resize(as_domain(d), ranges);
}

void regions_unregister(nvtxDomainHandle_t d, const nvtxMemRegionsUnregisterBatch_t* b) {
  if (b == nullptr || b->refElements == nullptr || b->refElementSize < sizeof(nvtxMemRegionRef_t) ||
      (b->refType != NVTX_MEM_REGION_REF_TYPE_POINTER &&
       b->refType != NVTX_MEM_REGION_REF_TYPE_HANDLE)) {
    return;
  }
  std::vector<const void*> ptrs;
  ptrs.reserve(b->refCount);
  for (std::size_t i = 0; i < b->refCount; ++i) {
    const auto& ref = element<nvtxMemRegionRef_t>(b->refElements, b->refElementSize, i);
    ptrs.push_back(b->refType == NVTX_MEM_REGION_REF_TYPE_POINTER
                       ? ref.pointer
                       : static_cast<const void*>(ref.handle));
  }
  sink().regions_unregister(as_domain(d), ptrs);
}

// ---- attaching --------------------------------------------------------------------------------

template <class Fn>
void assign(NvtxFunctionTable table, unsigned int size, unsigned int id, Fn fn) {
  if (table != nullptr && id < size && table[id] != nullptr) {
    *table[id] = reinterpret_cast<NvtxFunctionPointer>(fn);
  }
}

template <class Fn>
void assign_slot(nvtxExtModuleSegment_t& segment, std::size_t id, Fn fn) {
  if (segment.functionSlots != nullptr && id < segment.slotCount) {
    segment.functionSlots[id] = reinterpret_cast<std::intptr_t>(fn);
  }
}

}  // namespace

int attach_core(NvtxGetExportTableFunc_t get_export_table) {
  if (get_export_table == nullptr) return 0;
  const auto* callbacks =
      static_cast<const NvtxExportTableCallbacks*>(get_export_table(NVTX_ETID_CALLBACKS));
  if (callbacks == nullptr || callbacks->GetModuleFunctionTable == nullptr) return 0;

  NvtxFunctionTable t = nullptr;
  unsigned int n = 0;
  if (callbacks->GetModuleFunctionTable(NVTX_CB_MODULE_CORE, &t, &n) != 0) {
    assign(t, n, NVTX_CBID_CORE_MarkEx, &mark_ex);
    assign(t, n, NVTX_CBID_CORE_MarkA, &mark_a);
    assign(t, n, NVTX_CBID_CORE_MarkW, &mark_w);
    assign(t, n, NVTX_CBID_CORE_RangeStartEx, &start_ex);
    assign(t, n, NVTX_CBID_CORE_RangeStartA, &start_a);
    assign(t, n, NVTX_CBID_CORE_RangeStartW, &start_w);
    assign(t, n, NVTX_CBID_CORE_RangeEnd, &end);
    assign(t, n, NVTX_CBID_CORE_RangePushEx, &push_ex);
    assign(t, n, NVTX_CBID_CORE_RangePushA, &push_a);
    assign(t, n, NVTX_CBID_CORE_RangePushW, &push_w);
    assign(t, n, NVTX_CBID_CORE_RangePop, &pop);
    assign(t, n, NVTX_CBID_CORE_NameCategoryA, &name_category_a);
    assign(t, n, NVTX_CBID_CORE_NameCategoryW, &name_category_w);
    assign(t, n, NVTX_CBID_CORE_NameOsThreadA, &name_thread_a);
    assign(t, n, NVTX_CBID_CORE_NameOsThreadW, &name_thread_w);
  }
  if (callbacks->GetModuleFunctionTable(NVTX_CB_MODULE_CORE2, &t, &n) != 0) {
    assign(t, n, NVTX_CBID_CORE2_DomainMarkEx, &domain_mark_ex);
    assign(t, n, NVTX_CBID_CORE2_DomainRangeStartEx, &domain_start_ex);
    assign(t, n, NVTX_CBID_CORE2_DomainRangeEnd, &domain_end);
    assign(t, n, NVTX_CBID_CORE2_DomainRangePushEx, &domain_push_ex);
    assign(t, n, NVTX_CBID_CORE2_DomainRangePop, &domain_pop);
    assign(t, n, NVTX_CBID_CORE2_DomainNameCategoryA, &domain_name_category_a);
    assign(t, n, NVTX_CBID_CORE2_DomainNameCategoryW, &domain_name_category_w);
    assign(t, n, NVTX_CBID_CORE2_DomainRegisterStringA, &register_string_a);
    assign(t, n, NVTX_CBID_CORE2_DomainRegisterStringW, &register_string_w);
    assign(t, n, NVTX_CBID_CORE2_DomainCreateA, &domain_create_a);
    assign(t, n, NVTX_CBID_CORE2_DomainCreateW, &domain_create_w);
    assign(t, n, NVTX_CBID_CORE2_DomainDestroy, &domain_destroy);
    assign(t, n, NVTX_CBID_CORE2_Initialize, &initialize);
  }
  const auto* version =
      static_cast<const NvtxExportTableVersionInfo*>(get_export_table(NVTX_ETID_VERSIONINFO));
  if (version != nullptr && version->struct_size >= sizeof(NvtxExportTableVersionInfo) &&
      version->SetInjectionNvtxVersion != nullptr) {
    version->SetInjectionNvtxVersion(NVTX_VERSION);
  }
  sink().set_core_attached();
  return 1;
}

int attach_extension(nvtxExtModuleInfo_t* module) {
  if (module == nullptr) return 0;
  // Only the memory extension, version 1.x (0x01nn) from 0x0102 on: same structs and slots.
  if (module->moduleId != NVTX_EXT_MODULEID_MEM || (module->compatId >> 8) != 0x01 ||
      module->compatId < NVTX_EXT_COMPATID_MEM) {
    return 1;  // nothing of ours: NVTX leaves that extension's calls as no-ops
  }
  for (std::size_t s = 0; s < module->segmentsCount; ++s) {
    nvtxExtModuleSegment_t& segment = module->segments[s];
    if (segment.segmentId != 1) continue;
    assign_slot(segment, NVTX3EXT_CBID_nvtxMemHeapRegister, &heap_register);
    assign_slot(segment, NVTX3EXT_CBID_nvtxMemHeapUnregister, &heap_unregister);
    assign_slot(segment, NVTX3EXT_CBID_nvtxMemHeapReset, &heap_reset);
    assign_slot(segment, NVTX3EXT_CBID_nvtxMemRegionsRegister, &regions_register);
    assign_slot(segment, NVTX3EXT_CBID_nvtxMemRegionsResize, &regions_resize);
    assign_slot(segment, NVTX3EXT_CBID_nvtxMemRegionsUnregister, &regions_unregister);
  }
  sink().set_memory_attached();
  return 1;
}

}  // namespace pinpool::trace::detail
