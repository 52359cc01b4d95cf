// checked_options: validation and normalisation of pool_options (src/core/options.hpp), and the
// pool owning its name (through pinpool::pool too).
#include "core/options.hpp"
#include "cpu_backend.hpp"

#include <pinpool/pinpool.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using pinpool::pool_options;
using pinpool::detail::checked_options;

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (...) {
    return "<another exception>";
  }
  return "<no exception>";
}

struct options_test : ::testing::Test {
  std::shared_ptr<pinpool::backend> be = pinpool::detail::make_cpu_backend();

  pool_options named(const char* name = "unit-pool") const {
    pool_options o;
    o.kind = pinpool::memory_kind::host;
    o.name = name;
    return o;
  }
  std::string check(const pool_options& o) const {
    std::string storage;
    return message_of([&] { checked_options(be.get(), o, storage); });
  }
};

TEST_F(options_test, defaults_are_valid_and_come_back_unchanged_but_for_the_name) {
  std::string storage;
  const pool_options in = named();
  const pool_options out = checked_options(be.get(), in, storage);
  EXPECT_EQ(storage, "unit-pool");
  EXPECT_EQ(out.name, storage.c_str()) << "the name points into the owner's storage";
  EXPECT_NE(out.name, in.name);
  EXPECT_EQ(out.kind, in.kind);
  EXPECT_EQ(out.device, in.device);
  EXPECT_EQ(out.initial_bytes, in.initial_bytes);
  EXPECT_EQ(out.max_bytes, in.max_bytes);
  EXPECT_EQ(out.slab_bytes, in.slab_bytes);
  EXPECT_EQ(out.first_slab_bytes, in.first_slab_bytes);
  EXPECT_EQ(out.alignment, in.alignment);
  EXPECT_EQ(out.classes_per_doubling, in.classes_per_doubling);
  EXPECT_EQ(out.acquire_timeout, in.acquire_timeout);
  EXPECT_EQ(out.thread_cache, in.thread_cache);
}

TEST_F(options_test, a_null_name_becomes_pinpool) {
  std::string storage = "stale";
  const pool_options out = checked_options(be.get(), named(nullptr), storage);
  EXPECT_EQ(storage, "pinpool");
  EXPECT_STREQ(out.name, "pinpool");
  EXPECT_EQ(out.name, storage.c_str());

  pool_options bad = named(nullptr);
  bad.alignment = 3;
  EXPECT_NE(check(bad).find("pool 'pinpool'"), std::string::npos) << check(bad);
}

TEST_F(options_test, slab_bytes_is_rounded_up_to_the_alignment) {
  std::string storage;
  pool_options o = named();
  o.alignment = 64;
  o.slab_bytes = 1000;
  EXPECT_EQ(checked_options(be.get(), o, storage).slab_bytes, 1024u);
  o.slab_bytes = 1024;
  EXPECT_EQ(checked_options(be.get(), o, storage).slab_bytes, 1024u);
  o.slab_bytes = 64;
  EXPECT_EQ(checked_options(be.get(), o, storage).slab_bytes, 64u);
}

TEST_F(options_test, first_slab_bytes_is_rounded_up_and_at_most_slab_bytes) {
  std::string storage;
  pool_options o = named();
  o.alignment = 64;
  o.slab_bytes = 1 << 20;
  o.first_slab_bytes = 1000;
  EXPECT_EQ(checked_options(be.get(), o, storage).first_slab_bytes, 1024u);
  o.first_slab_bytes = 4 << 20;
  EXPECT_EQ(checked_options(be.get(), o, storage).first_slab_bytes, std::size_t{1} << 20);
}

TEST_F(options_test, a_pool_grows_from_first_slab_bytes_then_doubles) {
  pool_options o = named();
  o.kind = pinpool::memory_kind::host;
  o.slab_bytes = std::size_t{1} << 20;
  o.first_slab_bytes = std::size_t{256} << 10;
  pinpool::pool p(be, o);
  pinpool::buffer a = p.acquire(std::size_t{200} << 10);
  EXPECT_EQ(p.stats().bytes_reserved, std::size_t{256} << 10);
  pinpool::buffer b = p.acquire(std::size_t{200} << 10);
  EXPECT_EQ(p.stats().bytes_reserved, std::size_t{768} << 10) << "the second slab: 512 KiB";
}

TEST_F(options_test, every_bad_option_is_rejected_with_the_pools_name) {
  struct bad_case {
    const char* what;
    std::function<void(pool_options&)> spoil;
    const char* mentions;
  };
  const std::vector<bad_case> cases = {
      {"negative device", [](pool_options& o) { o.device = -1; }, "device -1"},
      {"device past the last", [](pool_options& o) { o.device = 1; }, "device 1"},
      {"alignment 0", [](pool_options& o) { o.alignment = 0; }, "alignment"},
      {"alignment 8 (< 16)", [](pool_options& o) { o.alignment = 8; }, "alignment"},
      {"alignment 48 (not a power of two)", [](pool_options& o) { o.alignment = 48; }, "alignment"},
      {"alignment 512 (> 256)", [](pool_options& o) { o.alignment = 512; }, "alignment"},
      {"classes_per_doubling 0", [](pool_options& o) { o.classes_per_doubling = 0; },
       "classes_per_doubling"},
      {"classes_per_doubling 3", [](pool_options& o) { o.classes_per_doubling = 3; },
       "classes_per_doubling"},
      {"classes_per_doubling 128", [](pool_options& o) { o.classes_per_doubling = 128; },
       "classes_per_doubling"},
      {"slab_bytes 0", [](pool_options& o) { o.slab_bytes = 0; }, "slab_bytes"},
      {"slab_bytes below the alignment",
       [](pool_options& o) {
         o.alignment = 256;
         o.slab_bytes = 255;
       },
       "slab_bytes"},
      {"slab_bytes above 2^62", [](pool_options& o) { o.slab_bytes = (std::size_t{1} << 62) + 1; },
       "slab_bytes"},
      {"first_slab_bytes 0", [](pool_options& o) { o.first_slab_bytes = 0; }, "first_slab_bytes"},
      {"initial_bytes above max_bytes",
       [](pool_options& o) {
         o.max_bytes = 1 << 20;
         o.initial_bytes = (1 << 20) + 1;
       },
       "initial_bytes"},
      {"negative acquire_timeout",
       [](pool_options& o) { o.acquire_timeout = std::chrono::milliseconds(-1); },
       "acquire_timeout"},
  };
  for (const bad_case& c : cases) {
    pool_options o = named("bad-pool");
    c.spoil(o);
    const std::string msg = check(o);
    EXPECT_NE(msg.find("pool 'bad-pool'"), std::string::npos) << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.mentions), std::string::npos) << c.what << ": " << msg;

    // The pool's constructor checks the same way.
    const std::string from_pool = message_of([&] { pinpool::pool p(be, o); });
    EXPECT_NE(from_pool.find("pool 'bad-pool'"), std::string::npos) << c.what << ": " << from_pool;
  }
}

TEST_F(options_test, no_backend_is_rejected_with_the_pools_name) {
  std::string storage;
  const std::string msg = message_of([&] { checked_options(nullptr, named("orphan"), storage); });
  EXPECT_NE(msg.find("pool 'orphan'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("backend"), std::string::npos) << msg;
}

TEST_F(options_test, limits_themselves_are_accepted) {
  std::string storage;
  for (std::size_t alignment : {16, 32, 64, 128, 256}) {
    pool_options o = named();
    o.alignment = alignment;
    o.slab_bytes = alignment;
    EXPECT_NO_THROW(checked_options(be.get(), o, storage)) << alignment;
  }
  for (unsigned per : {1u, 2u, 4u, 8u, 16u, 32u, 64u}) {
    pool_options o = named();
    o.classes_per_doubling = per;
    EXPECT_NO_THROW(checked_options(be.get(), o, storage)) << per;
  }
  pool_options o = named();
  o.slab_bytes = std::size_t{1} << 62;
  EXPECT_NO_THROW(checked_options(be.get(), o, storage));
  o = named();
  o.max_bytes = 1 << 20;
  o.initial_bytes = 1 << 20;  // equal is fine
  EXPECT_NO_THROW(checked_options(be.get(), o, storage));
  o = named();
  o.max_bytes = 0;  // no cap: any initial size
  o.initial_bytes = std::size_t{1} << 40;
  EXPECT_NO_THROW(checked_options(be.get(), o, storage));
}

TEST_F(options_test, the_name_survives_its_source_string) {
  std::string storage;
  pool_options out;
  {
    std::string source(40, 'n');  // longer than any small-string buffer: heap memory
    source.replace(0, 5, "temp-");
    out = checked_options(be.get(), named(source.c_str()), storage);
    source.assign(40, 'X');  // overwrite before it goes away
  }
  EXPECT_EQ(std::string(out.name), "temp-" + std::string(35, 'n'));
}

TEST_F(options_test, a_pool_owns_its_name) {
  pool_options o = named();
  std::unique_ptr<pinpool::pool> p;
  const std::string expected = "pool-from-a-temporary-string-" + std::string(30, 'z');
  {
    std::string source = expected;
    o.name = source.c_str();
    p = std::make_unique<pinpool::pool>(be, o);
    source.assign(source.size(), 'X');  // clobber, then free
  }
  EXPECT_EQ(std::string(p->options().name), expected);
  EXPECT_EQ(p->stats().name, expected);
  auto b = p->acquire(100);  // the name keeps working on every path that may use it
  EXPECT_EQ(p->stats().name, expected);
  const std::string msg = message_of([&] { (void)p->acquire(0); });
  EXPECT_NE(msg.find("pool '" + expected + "'"), std::string::npos) << msg;
}

TEST_F(options_test, a_pool_with_a_short_temporary_name) {
  // Short names live inside the std::string object itself (SSO): the same promise holds.
  std::unique_ptr<pinpool::pool> p;
  {
    std::string source = "tiny";
    pool_options o = named(source.c_str());
    p = std::make_unique<pinpool::pool>(be, o);
    source = "XXXX";
  }
  EXPECT_STREQ(p->options().name, "tiny");
  EXPECT_EQ(p->stats().name, "tiny");
}

TEST(options_round_up, rounds_to_multiples) {
  using pinpool::detail::round_up;
  EXPECT_EQ(round_up(0, 256), 0u);
  EXPECT_EQ(round_up(1, 256), 256u);
  EXPECT_EQ(round_up(256, 256), 256u);
  EXPECT_EQ(round_up(257, 256), 512u);
  EXPECT_EQ(round_up(10, 3), 12u);
}

}  // namespace
