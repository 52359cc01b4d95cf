// pinpool_nvtx_recorder: NVTX calls made in this process, read back in-process; and the Chrome
// JSON writer on hand-made snapshots.

#include <pinpool/detail/json_reader.hpp>
#include <pinpool/trace/recorder.hpp>

#include <nvtx3/nvToolsExt.h>
#include <nvtx3/nvToolsExtMem.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <pthread.h>
#include <sstream>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using pinpool::detail::json;
namespace trace = pinpool::trace;
using trace::recorder;

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

class Recorder : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("NVTX_INJECTION64_PATH") != nullptr) {
      GTEST_SKIP() << "NVTX_INJECTION64_PATH is set: NVTX attaches that tool, not the recorder";
    }
    ASSERT_TRUE(recorder::attach());
    recorder::clear();
    domain_ = nvtxDomainCreateA("rec");
  }
  nvtxDomainHandle_t domain_ = nullptr;
};

TEST_F(Recorder, PushPopRangesCarryThreadDepthAndDomain) {
  std::uint32_t worker_tid = 0;
  const auto nest = [this] {
    nvtxEventAttributes_t outer = attributes("outer");
    EXPECT_EQ(nvtxDomainRangePushEx(domain_, &outer), 0);
    nvtxEventAttributes_t inner = attributes("inner");
    EXPECT_EQ(nvtxDomainRangePushEx(domain_, &inner), 1);
    EXPECT_EQ(nvtxRangePushA("plain"), 0);  // the default domain counts its own depth
    EXPECT_EQ(nvtxRangePop(), 0);
    EXPECT_EQ(nvtxDomainRangePop(domain_), 1);
    EXPECT_EQ(nvtxDomainRangePop(domain_), 0);
  };
  nest();
  std::thread([&] {
    worker_tid = os_tid();
    nest();
  }).join();

  const trace::trace_snapshot s = recorder::snapshot();
  for (const std::uint32_t tid : {os_tid(), worker_tid}) {
    const trace::range* outer = nullptr;
    const trace::range* inner = nullptr;
    const trace::range* plain = nullptr;
    for (const trace::range& r : s.ranges) {
      if (r.tid != tid) continue;
      if (r.name == "outer") outer = &r;
      if (r.name == "inner") inner = &r;
      if (r.name == "plain") plain = &r;
    }
    ASSERT_TRUE(outer && inner && plain) << "thread " << tid;
    EXPECT_EQ(outer->domain, "rec");
    EXPECT_EQ(plain->domain, "");
    EXPECT_EQ(outer->kind, trace::range_kind::push_pop);
    EXPECT_EQ(outer->end_tid, tid);
    EXPECT_EQ(outer->depth, 0);
    EXPECT_EQ(inner->depth, 1);
    EXPECT_EQ(plain->depth, 0);
    EXPECT_TRUE(outer->contains(*inner));
    EXPECT_TRUE(inner->contains(*plain));
    EXPECT_FALSE(inner->contains(*outer));
  }
  EXPECT_EQ(s.find_ranges("outer").size(), 2u);
  EXPECT_EQ(s.find_ranges("outer", std::string_view("rec")).size(), 2u);
  EXPECT_TRUE(s.find_ranges("outer", std::string_view("")).empty());
}

TEST_F(Recorder, PopWithoutPushIsAnError) {
  EXPECT_LT(nvtxDomainRangePop(domain_), 0);
  EXPECT_TRUE(recorder::snapshot().ranges.empty());
}

TEST_F(Recorder, StartEndRangesMayEndOnAnotherThread) {
  nvtxEventAttributes_t a = attributes("handoff");
  const nvtxRangeId_t id = nvtxDomainRangeStartEx(domain_, &a);
  EXPECT_NE(id, 0u);
  std::uint32_t ender = 0;
  std::thread([&] {
    ender = os_tid();
    nvtxDomainRangeEnd(domain_, id);
  }).join();
  nvtxRangeEnd(id);  // already ended: ignored

  const trace::trace_snapshot s = recorder::snapshot();
  const auto found = s.find_ranges("handoff");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->kind, trace::range_kind::start_end);
  EXPECT_EQ(found[0]->tid, os_tid());
  EXPECT_EQ(found[0]->end_tid, ender);
  EXPECT_EQ(found[0]->id, id);
  EXPECT_FALSE(found[0]->open());
}

TEST_F(Recorder, OpenRangesAppearAsOpen) {
  nvtxRangePushA("still-open");
  const nvtxRangeId_t id = nvtxRangeStartA("started");
  trace::trace_snapshot s = recorder::snapshot();
  ASSERT_EQ(s.find_ranges("still-open").size(), 1u);
  ASSERT_EQ(s.find_ranges("started").size(), 1u);
  EXPECT_TRUE(s.find_ranges("still-open")[0]->open());
  EXPECT_TRUE(s.find_ranges("started")[0]->open());
  EXPECT_EQ(s.find_ranges("still-open")[0]->end_tid, 0u);

  recorder::clear();  // open ranges survive a clear
  nvtxRangePop();
  nvtxRangeEnd(id);
  s = recorder::snapshot();
  ASSERT_EQ(s.find_ranges("still-open").size(), 1u);
  EXPECT_FALSE(s.find_ranges("still-open")[0]->open());
  EXPECT_FALSE(s.find_ranges("started")[0]->open());
}

TEST_F(Recorder, AttributesMarksCategoriesAndStrings) {
  nvtxDomainNameCategoryA(domain_, 3, "copy");
  nvtxNameCategoryA(4, "default-cat");
  nvtxEventAttributes_t a = attributes("coloured");
  a.category = 3;
  a.colorType = NVTX_COLOR_ARGB;
  a.color = 0xFF123456u;
  a.payloadType = NVTX_PAYLOAD_TYPE_DOUBLE;
  a.payload.dValue = 2.5;
  nvtxDomainMarkEx(domain_, &a);
  nvtxEventAttributes_t b = attributes("numbered");
  b.category = 9;  // never named
  b.payloadType = NVTX_PAYLOAD_TYPE_UNSIGNED_INT64;
  b.payload.ullValue = 1234567;
  nvtxDomainRangePushEx(domain_, &b);
  nvtxDomainRangePop(domain_);
  nvtxEventAttributes_t c{};
  c.version = NVTX_VERSION;
  c.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  c.category = 4;
  c.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  c.message.registered = nvtxDomainRegisterStringA(nullptr, "registered");
  nvtxMarkEx(&c);
  nvtxMarkW(L"wide \u00e9\u4e2d");
  nvtxRangePushW(L"wide-range");
  nvtxRangePop();

  const trace::trace_snapshot s = recorder::snapshot();
  const auto coloured = s.find_marks("coloured");
  ASSERT_EQ(coloured.size(), 1u);
  EXPECT_EQ(coloured[0]->domain, "rec");
  EXPECT_EQ(coloured[0]->category, "copy");
  EXPECT_EQ(coloured[0]->category_id, 3u);
  EXPECT_EQ(coloured[0]->color, 0xFF123456u);
  EXPECT_EQ(coloured[0]->payload, 2.5);
  EXPECT_EQ(coloured[0]->tid, os_tid());
  const auto numbered = s.find_ranges("numbered");
  ASSERT_EQ(numbered.size(), 1u);
  EXPECT_EQ(numbered[0]->category, "9");
  EXPECT_EQ(numbered[0]->payload, 1234567.0);
  EXPECT_FALSE(numbered[0]->color.has_value());
  const auto registered = s.find_marks("registered");
  ASSERT_EQ(registered.size(), 1u);
  EXPECT_EQ(registered[0]->category, "default-cat");
  EXPECT_EQ(s.find_marks("wide \xc3\xa9\xe4\xb8\xad").size(), 1u);
  EXPECT_EQ(s.find_ranges("wide-range").size(), 1u);
  EXPECT_NE(std::find(s.domains.begin(), s.domains.end(), "rec"), s.domains.end());
}

TEST_F(Recorder, ThreadNamesFromNvtxAndTheOs) {
  std::uint32_t tid = 0;
  std::thread([&] {
    ::pthread_setname_np(::pthread_self(), "os-name");
    tid = os_tid();
    nvtxMarkA("from-worker");
  }).join();
  trace::trace_snapshot s = recorder::snapshot();
  ASSERT_EQ(s.threads.count(tid), 1u);
  EXPECT_EQ(s.threads.at(tid).os_name, "os-name");
  EXPECT_EQ(s.thread_name(tid), "os-name");
  nvtxNameOsThreadA(tid, "nvtx-name");
  s = recorder::snapshot();
  EXPECT_EQ(s.threads.at(tid).nvtx_name, "nvtx-name");
  EXPECT_EQ(s.thread_name(tid), "nvtx-name");
}

// ---- memory API -------------------------------------------------------------------------------

nvtxMemHeapHandle_t register_heap(nvtxDomainHandle_t d, const void* ptr, std::size_t bytes,
                                  const char* name) {
  nvtxMemVirtualRangeDesc_t range{bytes, ptr};
  nvtxMemHeapDesc_t desc{};
  desc.extCompatID = NVTX_EXT_COMPATID_MEM;
  desc.structSize = sizeof(desc);
  desc.usage = NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR;
  desc.type = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  desc.typeSpecificDescSize = sizeof(range);
  desc.typeSpecificDesc = &range;
  if (name != nullptr) {
    desc.messageType = NVTX_MESSAGE_TYPE_ASCII;
    desc.message.ascii = name;
  }
  return nvtxMemHeapRegister(d, &desc);
}

std::vector<nvtxMemRegionHandle_t> register_regions(nvtxDomainHandle_t d, nvtxMemHeapHandle_t heap,
                                                    std::vector<nvtxMemVirtualRangeDesc_t> rs) {
  std::vector<nvtxMemRegionHandle_t> handles(rs.size());
  nvtxMemRegionsRegisterBatch_t batch{};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  batch.heap = heap;
  batch.regionCount = rs.size();
  batch.regionDescElementSize = sizeof(nvtxMemVirtualRangeDesc_t);
  batch.regionDescElements = rs.data();
  batch.regionHandleElementsOut = handles.data();
  nvtxMemRegionsRegister(d, &batch);
  return handles;
}

void unregister(nvtxDomainHandle_t d, std::uint32_t ref_type, nvtxMemRegionRef_t ref) {
  nvtxMemRegionsUnregisterBatch_t batch{};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.refType = ref_type;
  batch.refCount = 1;
  batch.refElementSize = sizeof(ref);
  batch.refElements = &ref;
  nvtxMemRegionsUnregister(d, &batch);
}

alignas(256) unsigned char arena[1 << 16];

TEST_F(Recorder, MemoryHeapsRegionsAndCounters) {
  // A heap name of its own: tracks are per name and live as long as the process.
  static int run = 0;
  const std::string name = "named-heap-" + std::to_string(run++);
  nvtxMemHeapHandle_t heap = register_heap(domain_, arena, sizeof arena, name.c_str());
  ASSERT_NE(heap, nullptr);
  const auto handles = register_regions(domain_, heap, {{256, arena}, {512, arena + 1024}});
  ASSERT_EQ(handles.size(), 2u);
  EXPECT_EQ(recorder::bytes_in_use("rec"), 768u);

  nvtxMemVirtualRangeDesc_t resized{1000, arena + 1024};
  nvtxMemRegionsResizeBatch_t resize{};
  resize.extCompatID = NVTX_EXT_COMPATID_MEM;
  resize.structSize = sizeof(resize);
  resize.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  resize.regionDescCount = 1;
  resize.regionDescElementSize = sizeof(resized);
  resize.regionDescElements = &resized;
  nvtxMemRegionsResize(domain_, &resize);
  EXPECT_EQ(recorder::bytes_in_use("rec"), 1256u);

  nvtxMemRegionRef_t by_handle{};
  by_handle.handle = handles[0];
  unregister(domain_, NVTX_MEM_REGION_REF_TYPE_HANDLE, by_handle);
  EXPECT_EQ(recorder::bytes_in_use("rec"), 1000u);
  nvtxMemRegionRef_t unknown{};
  unknown.pointer = arena + 7;
  unregister(domain_, NVTX_MEM_REGION_REF_TYPE_POINTER, unknown);  // never registered: ignored
  EXPECT_EQ(recorder::bytes_in_use("rec"), 1000u);

  trace::trace_snapshot s = recorder::snapshot();
  s.heaps.erase(std::remove_if(s.heaps.begin(), s.heaps.end(),
                               [](const trace::heap_info& h) { return h.domain != "rec"; }),
                s.heaps.end());
  ASSERT_EQ(s.heaps.size(), 1u);
  EXPECT_EQ(s.heaps[0].name, name);
  EXPECT_EQ(s.heaps[0].domain, "rec");
  EXPECT_EQ(s.heaps[0].bytes, sizeof arena);
  EXPECT_EQ(s.heaps[0].ptr, static_cast<const void*>(arena));
  EXPECT_EQ(s.heaps[0].usage, static_cast<std::uint32_t>(NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR));
  EXPECT_EQ(s.heaps[0].regions, 1u);
  EXPECT_EQ(s.bytes_in_use("rec"), 1000u);

  nvtxMemHeapReset(domain_, heap);
  EXPECT_EQ(recorder::bytes_in_use("rec"), 0u);
  register_regions(domain_, heap, {{64, arena + 4096}});
  nvtxMemHeapUnregister(domain_, heap);
  EXPECT_EQ(recorder::bytes_in_use("rec"), 0u);

  s = recorder::snapshot();
  for (const trace::heap_info& h : s.heaps) EXPECT_NE(h.domain, "rec");
  std::vector<trace::memory_op> ops;
  for (const trace::memory_event& e : s.memory) ops.push_back(e.op);
  using op = trace::memory_op;
  EXPECT_EQ(ops, (std::vector<op>{op::heap_register, op::region_register, op::region_register,
                                  op::region_resize, op::region_unregister, op::heap_reset,
                                  op::region_register, op::heap_unregister}));
  EXPECT_EQ(s.memory[4].ptr, static_cast<const void*>(arena));
  EXPECT_EQ(s.memory[4].bytes, 256u);
  EXPECT_EQ(s.memory[4].heap_name, name);
  EXPECT_EQ(s.memory[7].bytes, 64u);  // what the unregistration dropped

  std::vector<std::int64_t> values;
  for (const auto& c : s.track("rec/" + name + ": bytes in use")) values.push_back(c.value);
  EXPECT_EQ(values, (std::vector<std::int64_t>{0, 256, 768, 1256, 1000, 0, 64, 0}));
  values.clear();
  for (const auto& c : s.track("rec/" + name + ": heap bytes")) values.push_back(c.value);
  EXPECT_EQ(values, (std::vector<std::int64_t>{1 << 16, 0}));
}

TEST_F(Recorder, ProcessWideRegionsAndClear) {
  register_regions(domain_, NVTX_MEM_HEAP_HANDLE_PROCESS_WIDE, {{128, arena}});
  EXPECT_EQ(recorder::bytes_in_use("rec"), 128u);
  trace::trace_snapshot s = recorder::snapshot();
  EXPECT_EQ(s.bytes_in_use("rec"), 128u);
  recorder::clear();
  s = recorder::snapshot();
  EXPECT_TRUE(s.memory.empty());
  const auto samples = s.track("rec: bytes in use");
  ASSERT_EQ(samples.size(), 1u);  // after clear() each track restarts at its current value
  EXPECT_EQ(samples[0].value, 128);
  nvtxMemRegionRef_t ref{};
  ref.pointer = arena;
  unregister(domain_, NVTX_MEM_REGION_REF_TYPE_POINTER, ref);
  EXPECT_EQ(recorder::bytes_in_use("rec"), 0u);
}

TEST_F(Recorder, WritesAChromeTrace) {
  nvtxRangePushA("written");
  nvtxRangePop();
  const std::string path = ::testing::TempDir() + "pinpool-recorder-trace.json";
  ASSERT_TRUE(recorder::write_chrome_trace(path));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const json doc = json::parse(text.str());
  bool found = false;
  for (const json& e : doc["traceEvents"].array()) found |= e.get_string("name") == "written";
  EXPECT_TRUE(found);
  std::remove(path.c_str());
  EXPECT_FALSE(recorder::write_chrome_trace("/nonexistent-dir/x.json"));
}

// ---- to_chrome_json on hand-made snapshots ----------------------------------------------------

trace::range make_range(const char* name, std::uint32_t tid, std::int64_t start, std::int64_t end,
                        trace::range_kind kind) {
  trace::range r;
  r.name = name;
  r.domain = "d";
  r.tid = tid;
  r.end_tid = end < 0 ? 0 : tid;
  r.start_ns = start;
  r.end_ns = end;
  r.kind = kind;
  return r;
}

TEST(ChromeJson, OverlappingStartEndRangesGetTheirOwnRow) {
  trace::trace_snapshot s;
  s.pid = 10;
  s.process_name = "proc";
  s.now_ns = 100'000;
  s.threads[11].nvtx_name = "t";
  using k = trace::range_kind;
  s.ranges.push_back(make_range("frame 1", 11, 1'000, 5'000, k::start_end));
  s.ranges.push_back(make_range("frame 2", 11, 3'000, 8'000, k::start_end));  // overlaps 1
  s.ranges.push_back(make_range("push", 11, 3'500, 4'000, k::push_pop));      // inside both
  s.ranges.push_back(make_range("open", 11, 9'000, -1, k::start_end));
  const json doc = json::parse(trace::to_chrome_json(s));

  std::map<std::string, const json*> by_name;
  std::map<double, std::string> rows;
  for (const json& e : doc["traceEvents"].array()) {
    if (e.get_string("ph") == "X") by_name[e.get_string("name")] = &e;
    if (e.get_string("ph") == "M" && e.get_string("name") == "thread_name") {
      rows[e["tid"].number()] = e["args"].get_string("name");
    }
    if (e.get_string("ph") == "M" && e.get_string("name") == "process_name") {
      EXPECT_EQ(e["args"].get_string("name"), "proc");
    }
  }
  ASSERT_EQ(by_name.size(), 4u);
  EXPECT_EQ((*by_name["frame 1"])["tid"].number(), 11);
  EXPECT_EQ((*by_name["push"])["tid"].number(), 11);  // nests in frame 1
  EXPECT_EQ((*by_name["frame 2"])["tid"].number(), 10'000'011);
  EXPECT_EQ((*by_name["open"])["tid"].number(), 11);
  EXPECT_EQ(rows[11], "t");
  EXPECT_EQ(rows[10'000'011], "t (overlap 1)");
  EXPECT_EQ((*by_name["frame 1"])["ts"].number(), 1.0);
  EXPECT_EQ((*by_name["frame 1"])["dur"].number(), 4.0);
  EXPECT_EQ((*by_name["frame 2"])["ts"].number(), 3.0);
  EXPECT_TRUE((*by_name["open"])["args"]["open"].boolean());
  EXPECT_EQ((*by_name["open"])["dur"].number(), 91.0);  // drawn up to the snapshot
}

TEST(ChromeJson, StringsAreEscapedAndValidUtf8) {
  trace::trace_snapshot s;
  s.pid = 1;
  trace::mark m;
  m.name = std::string("q\"b\\s\n\x01 bad\xff\xfe ok\xc3\xa9");
  m.tid = 1;
  s.marks.push_back(m);
  trace::counter_sample c;
  c.track = "t";
  c.value = -5;
  s.counters.push_back(c);
  const json doc = json::parse(trace::to_chrome_json(s));
  bool mark_found = false, counter_found = false;
  for (const json& e : doc["traceEvents"].array()) {
    if (e.get_string("ph") == "i") {
      mark_found = true;
      EXPECT_EQ(e.get_string("name"), "q\"b\\s\n\x01 bad\xef\xbf\xbd\xef\xbf\xbd ok\xc3\xa9");
      EXPECT_EQ(e.get_string("s"), "t");
      EXPECT_EQ(e.get_string("cat"), "nvtx");
    }
    if (e.get_string("ph") == "C") {
      counter_found = true;
      EXPECT_EQ(e["args"]["bytes"].number(), -5);
    }
  }
  EXPECT_TRUE(mark_found);
  EXPECT_TRUE(counter_found);
  EXPECT_EQ(doc["otherData"].get_string("producer"), "pinpool-trace");
}

}  // namespace
