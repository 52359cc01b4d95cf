// Small things adopters ask for: a log sink, the version, resetting the peak.
#include <pinpool/pinpool.hpp>

#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <vector>

namespace {

pinpool::pool_options host_pool(const char* name) {
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::host;
  o.name = name;
  return o;
}

TEST(log_sink, messages_go_to_the_sink_and_back_to_stderr_when_cleared) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  std::vector<std::string> seen;
  const pinpool::log_sink before =
      pinpool::set_log_sink([&seen](const std::string& m) { seen.push_back(m); });
  EXPECT_FALSE(before) << "the default sink is stderr (empty)";
  pinpool::buffer kept;
  {
    pinpool::pool p(be, host_pool("logged"));
    kept = p.acquire(1000);
  }  // destroyed with one buffer outstanding: reported
  kept.reset();
  const pinpool::log_sink mine = pinpool::set_log_sink({});
  EXPECT_TRUE(mine);
  ASSERT_EQ(seen.size(), 2u);  // the count, then the chunk (pool::leak_report)
  EXPECT_NE(seen[0].find("pool 'logged' destroyed with 1 buffer(s) outstanding"), std::string::npos)
      << seen[0];
  EXPECT_NE(seen[1].find("pool 'logged': 0x"), std::string::npos) << seen[1];
  EXPECT_NE(seen[1].find("1000 of "), std::string::npos) << seen[1];
  for (const std::string& m : seen) EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(log_sink, a_throwing_sink_loses_the_message_not_the_program) {
  pinpool::set_log_sink([](const std::string&) { throw std::runtime_error("sink down"); });
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::buffer kept;
  {
    pinpool::pool p(be, host_pool("throwing-sink"));
    kept = p.acquire(1000);
  }
  kept.reset();
  pinpool::set_log_sink({});
}

TEST(version, headers_library_and_build_agree) {
  const pinpool::version_info v = pinpool::version();
  EXPECT_EQ(v.major, PINPOOL_VERSION_MAJOR);
  EXPECT_EQ(v.minor, PINPOOL_VERSION_MINOR);
  EXPECT_EQ(v.patch, PINPOOL_VERSION_PATCH);
  EXPECT_STREQ(pinpool::version_string(), PINPOOL_VERSION_STRING);
  EXPECT_STREQ(PINPOOL_VERSION_STRING, PINPOOL_TEST_PROJECT_VERSION) << "CMake's project()";
  EXPECT_EQ(PINPOOL_VERSION, v.major * 10000 + v.minor * 100 + v.patch);
}

TEST(reset_peak, the_peak_starts_again_from_what_is_in_use) {
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool_options o = host_pool("peak");
  o.thread_cache = false;
  pinpool::pool p(be, o);
  pinpool::buffer a = p.acquire(4096);
  {
    pinpool::buffer b = p.acquire(1 << 20);
    pinpool::buffer c = p.acquire(1 << 20);
  }
  const std::size_t in_use = p.stats().bytes_in_use;
  EXPECT_GT(p.stats().peak_bytes_in_use, in_use);
  p.reset_peak();
  EXPECT_EQ(p.stats().peak_bytes_in_use, in_use);
  pinpool::buffer d = p.acquire(8192);
  EXPECT_EQ(p.stats().peak_bytes_in_use, p.stats().bytes_in_use);
}

}  // namespace
