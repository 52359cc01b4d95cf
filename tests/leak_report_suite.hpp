#pragma once
// pool::leak_report() and the pool destructor's report of outstanding chunks, as a typed suite
// over every backend, with the same environments as pool_suite.hpp (instantiated beside it).

#include "support/backend_test.hpp"

#include <pinpool/pinpool.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace pinpool_test {

template <class Env>
class leak_report_suite : public backend_test<Env> {
 protected:
  std::unique_ptr<pinpool::pool> make_pool(const char* name, std::size_t max_bytes = 0) {
    pinpool::pool_options o;
    o.kind = pinpool::memory_kind::pinned_host;
    o.name = name;
    o.max_bytes = max_bytes;
    o.acquire_timeout = std::chrono::milliseconds{5000};
    o.slab_bytes = 4 << 20;
    return std::make_unique<pinpool::pool>(this->be_, o);
  }
};

TYPED_TEST_SUITE_P(leak_report_suite);

// Collects the log sink's messages for the scope; restores stderr after.
class captured_log {
 public:
  captured_log() {
    pinpool::set_log_sink([this](const std::string& m) {
      const std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(m);
    });
  }
  ~captured_log() { pinpool::set_log_sink({}); }
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;

  // The messages that contain `what`.
  std::vector<std::string> with(const std::string& what) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const std::string& m : lines_) {
      if (m.find(what) != std::string::npos) out.push_back(m);
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

inline const pinpool::outstanding_chunk* find_chunk(const pinpool::pool_leak_report& r,
                                                    const void* address) {
  for (const pinpool::outstanding_chunk& c : r.chunks) {
    if (c.address == address) return &c;
  }
  return nullptr;
}

inline std::vector<std::uint64_t> ids_of(const pinpool::outstanding_chunk& c) {
  std::vector<std::uint64_t> ids;
  for (const pinpool::recorded_stream& s : c.streams) ids.push_back(s.id);
  return ids;
}

TYPED_TEST_P(leak_report_suite, lists_exactly_the_outstanding_buffers_with_their_streams) {
  pinpool::stream s1 = this->be_->create_stream();
  pinpool::stream s2 = this->be_->create_stream();
  auto p = this->make_pool("reported");
  EXPECT_TRUE(p->leak_report().empty());

  pinpool::buffer host = p->acquire(1000);        // no stream
  pinpool::buffer on_s1 = p->acquire(65536, s1);  // s1, then s2
  on_s1.record_stream(s2);
  pinpool::buffer staged = p->acquire(3000);  // handed to s2
  staged.set_stream(s2);
  pinpool::shared_buffer shared{p->acquire(70000)};  // one chunk, two owners
  pinpool::shared_buffer copy = shared;
  p->acquire(5000).reset();      // released (thread-cached or idle): not listed
  p->acquire(9000, s1).reset();  // pending on s1: not listed

  const pinpool::pool_leak_report r = p->leak_report();
  EXPECT_EQ(r.name, "reported");
  EXPECT_EQ(r.kind, pinpool::memory_kind::pinned_host);
  EXPECT_EQ(r.backend, this->be_->name());
  ASSERT_EQ(r.chunks.size(), 4u) << r;
  EXPECT_EQ(r.chunks.size(), p->stats().outstanding_buffers);
  EXPECT_TRUE(std::is_sorted(r.chunks.begin(), r.chunks.end(), [](const auto& a, const auto& b) {
    return std::less<const void*>{}(a.address, b.address);
  }));

  const pinpool::outstanding_chunk* h = find_chunk(r, host.data());
  ASSERT_NE(h, nullptr) << r;
  EXPECT_EQ(h->bytes_requested, 1000u);
  EXPECT_EQ(h->chunk_bytes, host.capacity());
  EXPECT_EQ(h->chunk_bytes, p->chunk_size_for(1000));
  EXPECT_EQ(h->holder, pinpool::chunk_holder::buffer);
  EXPECT_TRUE(h->streams.empty());

  const pinpool::outstanding_chunk* a = find_chunk(r, on_s1.data());
  ASSERT_NE(a, nullptr) << r;
  EXPECT_EQ(a->bytes_requested, 65536u);
  EXPECT_EQ(a->chunk_bytes, on_s1.capacity());
  EXPECT_EQ(ids_of(*a), (std::vector<std::uint64_t>{s1.id(), s2.id()}));
  EXPECT_EQ(a->streams[0].handle, s1.native_handle());
  EXPECT_EQ(a->streams[0].device, s1.device());
  EXPECT_GT(a->size_class, h->size_class);

  const pinpool::outstanding_chunk* st = find_chunk(r, staged.data());
  ASSERT_NE(st, nullptr) << r;
  EXPECT_EQ(st->bytes_requested, 3000u);
  EXPECT_EQ(ids_of(*st), std::vector<std::uint64_t>{s2.id()});

  const pinpool::outstanding_chunk* sh = find_chunk(r, shared.data());
  ASSERT_NE(sh, nullptr) << r;
  EXPECT_EQ(sh->bytes_requested, 70000u);

  EXPECT_EQ(r.chunk_bytes(),
            host.capacity() + on_s1.capacity() + staged.capacity() + p->chunk_size_for(70000));
  EXPECT_EQ(r.bytes_requested(), 1000u + 65536u + 3000u + 70000u);

  const std::string text = r.to_string();
  EXPECT_NE(text.find(std::string("pool 'reported' (pinned_host, ") + this->be_->name() +
                      "): 4 outstanding chunk(s)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("65536 of " + std::to_string(on_s1.capacity()) + " bytes"), std::string::npos)
      << text;
  EXPECT_NE(text.find("streams #" + std::to_string(s1.id()) + " ("), std::string::npos) << text;
  EXPECT_NE(text.find("no stream"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << text;
  std::ostringstream os;
  os << r;
  EXPECT_EQ(os.str(), text);
  const std::string capped = r.to_string(1);
  EXPECT_NE(capped.find("... and 3 more"), std::string::npos) << capped;

  host.reset();
  on_s1.reset();
  staged.reset();
  EXPECT_EQ(p->leak_report().chunks.size(), 1u);
  shared.reset();
  EXPECT_EQ(p->leak_report().chunks.size(), 1u) << "a copy still holds it";
  copy.reset();
  const pinpool::pool_leak_report after = p->leak_report();
  EXPECT_TRUE(after.empty()) << after;
  EXPECT_NE(after.to_string().find("0 outstanding chunk(s), 0 bytes"), std::string::npos);
  s1.synchronize();
  s2.synchronize();
}

TYPED_TEST_P(leak_report_suite, raw_pointers_appear_with_their_streams) {
  pinpool::stream s1 = this->be_->create_stream();
  pinpool::stream s2 = this->be_->create_stream();
  auto p = this->make_pool("raw-reported");
  void* host = p->allocate(777);
  void* on_s1 = p->allocate(4096, s1);
  p->record_stream(on_s1, s2);
  void* aligned = p->allocate_aligned(100, 4096);
  const pinpool::buffer b = p->acquire(2000, s2);

  pinpool::pool_leak_report r = p->leak_report();
  ASSERT_EQ(r.chunks.size(), 4u) << r;
  const pinpool::outstanding_chunk* h = find_chunk(r, host);
  ASSERT_NE(h, nullptr) << r;
  EXPECT_EQ(h->holder, pinpool::chunk_holder::raw_pointer);
  EXPECT_EQ(h->bytes_requested, 777u);
  EXPECT_TRUE(h->streams.empty());
  const pinpool::outstanding_chunk* s = find_chunk(r, on_s1);
  ASSERT_NE(s, nullptr) << r;
  EXPECT_EQ(s->holder, pinpool::chunk_holder::raw_pointer);
  EXPECT_EQ(ids_of(*s), (std::vector<std::uint64_t>{s1.id(), s2.id()}));
  // An aligned pointer lies within its chunk, past the chunk's start where padded.
  const auto at = std::find_if(r.chunks.begin(), r.chunks.end(), [&](const auto& c) {
    const auto* start = static_cast<const std::byte*>(c.address);
    const auto* q = static_cast<const std::byte*>(aligned);
    return q >= start && q < start + c.chunk_bytes;
  });
  ASSERT_NE(at, r.chunks.end()) << r;
  EXPECT_EQ(at->holder, pinpool::chunk_holder::raw_pointer);
  EXPECT_GE(at->bytes_requested, 100u);
  const pinpool::outstanding_chunk* buf = find_chunk(r, b.data());
  ASSERT_NE(buf, nullptr) << r;
  EXPECT_EQ(buf->holder, pinpool::chunk_holder::buffer);
  EXPECT_NE(r.to_string().find("raw pointer"), std::string::npos) << r;

  p->deallocate(on_s1, s2);  // as cudaFreeAsync: released on s2, not listed any more
  p->deallocate(host);
  p->deallocate(aligned);
  r = p->leak_report();
  ASSERT_EQ(r.chunks.size(), 1u) << r;
  EXPECT_EQ(r.chunks[0].holder, pinpool::chunk_holder::buffer);
  // A chunk that was a raw pointer, reused by a buffer, is listed as a buffer.
  const pinpool::buffer again = p->acquire(777);
  r = p->leak_report();
  const pinpool::outstanding_chunk* reused = find_chunk(r, again.data());
  ASSERT_NE(reused, nullptr);
  EXPECT_EQ(reused->holder, pinpool::chunk_holder::buffer);
  s1.synchronize();
  s2.synchronize();
}

TYPED_TEST_P(leak_report_suite, a_pool_destroyed_with_live_buffers_reports_them_to_the_log_sink) {
  pinpool::stream s = this->be_->create_stream();
  const captured_log log;
  std::vector<pinpool::buffer> kept;
  {
    auto p = this->make_pool("leaky");
    for (int i = 0; i < 25; ++i) {
      kept.push_back(i % 2 == 0 ? p->acquire(1000 + i) : p->acquire(1000 + i, s));
    }
    const pinpool::buffer released = p->acquire(50);  // back before the pool goes: not reported
  }
  const std::vector<std::string> lines = log.with("pool 'leaky'");
  ASSERT_EQ(lines.size(), 1u + 20u + 1u);  // the count, 20 chunks, how many more
  EXPECT_NE(lines[0].find("pinpool: pool 'leaky' destroyed with 25 buffer(s) outstanding"),
            std::string::npos)
      << lines[0];
  for (std::size_t i = 1; i <= 20; ++i) {
    EXPECT_EQ(lines[i].find("pinpool: pool 'leaky': 0x"), 0u) << lines[i];
    EXPECT_NE(lines[i].find(" bytes (class "), std::string::npos) << lines[i];
  }
  EXPECT_EQ(lines[21], "pinpool: pool 'leaky': ... and 5 more");
  const std::string all = [&] {
    std::string joined;
    for (const std::string& l : lines) joined += l + "\n";
    return joined;
  }();
  EXPECT_NE(all.find("stream #" + std::to_string(s.id()) + " ("), std::string::npos) << all;
  for (const std::string& l : lines) EXPECT_EQ(l.find('\n'), std::string::npos) << l;
  kept.clear();  // the buffers outlive their pool; the last one frees its memory
  s.synchronize();
}

TYPED_TEST_P(leak_report_suite, reports_race_acquisitions_stream_records_and_releases_safely) {
  constexpr int workers = 3;
  constexpr int rounds = 400;
  std::vector<pinpool::stream> streams;
  for (int i = 0; i < workers + 1; ++i) streams.push_back(this->be_->create_stream());
  std::set<std::uint64_t> ids;
  for (const pinpool::stream& s : streams) ids.insert(s.id());
  auto p = this->make_pool("raced");
  std::atomic<int> running{workers};
  std::atomic<long> reports{0};
  std::atomic<long> bad{0};

  std::thread reader([&] {
    while (running.load() > 0 || reports.load() < 10) {
      const pinpool::pool_leak_report r = p->leak_report();
      std::set<const void*> seen;
      for (const pinpool::outstanding_chunk& c : r.chunks) {
        const bool ok = c.bytes_requested > 0 && c.bytes_requested <= c.chunk_bytes &&
                        seen.insert(c.address).second &&
                        std::all_of(c.streams.begin(), c.streams.end(),
                                    [&](const auto& s) { return ids.count(s.id) == 1; });
        if (!ok) bad.fetch_add(1);
      }
      if (r.to_string(8).empty()) bad.fetch_add(1);
      reports.fetch_add(1);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < workers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) + 1);
      const pinpool::stream& mine = streams[static_cast<std::size_t>(t)];
      const pinpool::stream& other = streams[static_cast<std::size_t>(t) + 1];
      std::vector<pinpool::buffer> held;
      for (int i = 0; i < rounds; ++i) {
        const std::size_t bytes = 256 + rng() % 70000;
        switch (rng() % 5) {
          case 0:  // host, then a thread-cache hit on a stream
            p->acquire(bytes).reset();
            held.push_back(p->acquire(bytes, mine));
            held.back().record_stream(other);
            break;
          case 1: {
            pinpool::buffer b = p->acquire(bytes);
            b.set_stream(mine);
            b.record_stream(other);
            held.push_back(std::move(b));
            break;
          }
          case 2: {
            void* q = p->allocate(bytes, mine);
            p->record_stream(q, other);
            if (rng() % 2 == 0) {
              p->deallocate(q, other);
            } else {
              p->deallocate(q);
            }
            break;
          }
          case 3:
            held.push_back(p->acquire(bytes));
            break;
          default:
            if (!held.empty()) held.erase(held.begin() + static_cast<long>(rng() % held.size()));
        }
        if (held.size() > 8) held.erase(held.begin());
      }
      held.clear();
      mine.synchronize();
      running.fetch_sub(1);
    });
  }
  for (std::thread& t : threads) t.join();
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GE(reports.load(), 10);
  const pinpool::pool_leak_report r = p->leak_report();
  EXPECT_TRUE(r.empty()) << r;
  for (const pinpool::stream& s : streams) s.synchronize();
}

REGISTER_TYPED_TEST_SUITE_P(leak_report_suite,
                            lists_exactly_the_outstanding_buffers_with_their_streams,
                            raw_pointers_appear_with_their_streams,
                            a_pool_destroyed_with_live_buffers_reports_them_to_the_log_sink,
                            reports_race_acquisitions_stream_records_and_releases_safely);

}  // namespace pinpool_test
