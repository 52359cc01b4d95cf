// size_classes: the mapping of requests to classes (src/core/size_classes.hpp).
#include "core/size_classes.hpp"

#include <cstddef>
#include <cstdint>
#include <gtest/gtest.h>
#include <limits>
#include <vector>

namespace {

using pinpool::detail::size_classes;

struct config {
  std::size_t alignment;
  unsigned per_doubling;
};

const std::vector<config>& all_configs() {
  static const std::vector<config> configs = {{256, 8}, {16, 1},   {16, 8},  {16, 64}, {64, 2},
                                              {64, 4},  {128, 16}, {256, 1}, {256, 64}};
  return configs;
}

// The request is held, and the class below would not hold it: the smallest class that does.
void expect_smallest_holding(const size_classes& sc, std::size_t bytes) {
  const std::uint32_t i = sc.index_of(bytes);
  ASSERT_LT(i, sc.count()) << bytes;
  ASSERT_GE(sc.chunk_bytes(i), bytes) << "class " << i << " cannot hold " << bytes;
  if (i > 0) {
    ASSERT_LT(sc.chunk_bytes(i - 1), bytes) << "class " << i - 1 << " holds " << bytes;
  }
}

TEST(size_classes, defaults_map_known_requests) {
  const size_classes sc(256, 8);
  EXPECT_EQ(sc.index_of(1), 0u);
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(1)), 256u);
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(256)), 256u);
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(257)), 512u);
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(2048)), 2048u);  // end of the linear range
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(2049)), 2304u);  // 2048 + 2048/8
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(4096)), 4096u);
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(4097)), 4608u);  // 4096 + 4096/8
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(5000)), 5120u);
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(std::size_t{1} << 20)), std::size_t{1} << 20);
  EXPECT_EQ(sc.chunk_bytes(sc.index_of((std::size_t{1} << 20) + 1)),
            (std::size_t{1} << 20) + (std::size_t{1} << 17));
}

TEST(size_classes, linear_range_is_multiples_of_the_alignment) {
  for (const config& c : all_configs()) {
    SCOPED_TRACE(::testing::Message() << "alignment " << c.alignment << ", per " << c.per_doubling);
    const size_classes sc(c.alignment, c.per_doubling);
    for (std::uint32_t i = 0; i < c.per_doubling; ++i) {
      EXPECT_EQ(sc.chunk_bytes(i), (std::size_t{i} + 1) * c.alignment);
    }
  }
}

TEST(size_classes, every_small_request_maps_to_the_smallest_class_holding_it) {
  for (const config& c : all_configs()) {
    SCOPED_TRACE(::testing::Message() << "alignment " << c.alignment << ", per " << c.per_doubling);
    const size_classes sc(c.alignment, c.per_doubling);
    // Every request up to 16 times the end of the linear range (four doublings past it).
    const std::size_t limit = 16 * c.alignment * c.per_doubling;
    for (std::size_t bytes = 1; bytes <= limit; ++bytes) {
      expect_smallest_holding(sc, bytes);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(size_classes, every_class_boundary_up_to_max_request) {
  for (const config& c : all_configs()) {
    SCOPED_TRACE(::testing::Message() << "alignment " << c.alignment << ", per " << c.per_doubling);
    const size_classes sc(c.alignment, c.per_doubling);
    for (std::uint32_t i = 0; i < sc.count(); ++i) {
      const std::size_t size = sc.chunk_bytes(i);
      ASSERT_EQ(sc.index_of(size), i) << "a request of exactly class " << i << "'s size";
      if (i > 0) {
        ASSERT_EQ(sc.index_of(sc.chunk_bytes(i - 1) + 1), i)
            << "one byte more than class " << i - 1;
      }
    }
  }
}

TEST(size_classes, waste_is_bounded) {
  for (const config& c : all_configs()) {
    SCOPED_TRACE(::testing::Message() << "alignment " << c.alignment << ", per " << c.per_doubling);
    const size_classes sc(c.alignment, c.per_doubling);
    const std::size_t linear_end = c.alignment * c.per_doubling;
    auto check = [&](std::size_t bytes) {
      const std::size_t waste = sc.chunk_bytes(sc.index_of(bytes)) - bytes;
      if (bytes >= linear_end) {
        // At most 1/per of the request (12.5% with 8 classes per doubling).
        ASSERT_LE(waste * c.per_doubling, bytes) << bytes;
      } else {
        ASSERT_LT(waste, c.alignment) << bytes;
      }
    };
    for (std::size_t bytes = 1; bytes <= 16 * linear_end; ++bytes) {
      check(bytes);
      if (::testing::Test::HasFatalFailure()) return;
    }
    // The worst case of each class beyond: one byte more than the class below.
    for (std::uint32_t i = 1; i < sc.count(); ++i) {
      check(sc.chunk_bytes(i - 1) + 1);
      check(sc.chunk_bytes(i));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(size_classes, eight_per_doubling_wastes_at_most_an_eighth_from_eight_alignments) {
  const size_classes sc(256, 8);
  for (std::size_t bytes = 8 * 256; bytes <= (std::size_t{1} << 22); bytes += 7) {
    const std::size_t chunk = sc.chunk_bytes(sc.index_of(bytes));
    ASSERT_LE(static_cast<double>(chunk - bytes) / static_cast<double>(bytes), 0.125) << bytes;
  }
  for (std::size_t bytes = 1; bytes < 8 * 256; ++bytes) {
    ASSERT_LT(sc.chunk_bytes(sc.index_of(bytes)) - bytes, 256u) << bytes;
  }
}

TEST(size_classes, chunk_sizes_increase_and_are_aligned) {
  for (const config& c : all_configs()) {
    SCOPED_TRACE(::testing::Message() << "alignment " << c.alignment << ", per " << c.per_doubling);
    const size_classes sc(c.alignment, c.per_doubling);
    for (std::uint32_t i = 0; i < sc.count(); ++i) {
      ASSERT_EQ(sc.chunk_bytes(i) % c.alignment, 0u) << "class " << i;
      if (i > 0) {
        ASSERT_GT(sc.chunk_bytes(i), sc.chunk_bytes(i - 1)) << "class " << i;
      }
    }
  }
}

TEST(size_classes, index_of_never_decreases) {
  for (const config& c : all_configs()) {
    SCOPED_TRACE(::testing::Message() << "alignment " << c.alignment << ", per " << c.per_doubling);
    const size_classes sc(c.alignment, c.per_doubling);
    std::uint32_t last = 0;
    for (std::size_t bytes = 1; bytes <= 64 * c.alignment * c.per_doubling; ++bytes) {
      const std::uint32_t i = sc.index_of(bytes);
      ASSERT_GE(i, last) << bytes;
      ASSERT_LE(i, last + 1) << "no class skipped at " << bytes;
      last = i;
    }
    // Geometric samples up to the largest request.
    last = 0;
    for (std::size_t bytes = 1; bytes <= sc.max_request(); bytes = bytes * 3 / 2 + 1) {
      const std::uint32_t i = sc.index_of(bytes);
      ASSERT_GE(i, last) << bytes;
      last = i;
      if (bytes > sc.max_request() / 2) break;
    }
  }
}

TEST(size_classes, max_request_is_held_by_the_last_class) {
  for (const config& c : all_configs()) {
    SCOPED_TRACE(::testing::Message() << "alignment " << c.alignment << ", per " << c.per_doubling);
    const size_classes sc(c.alignment, c.per_doubling);
    EXPECT_EQ(sc.max_request(), std::size_t{1} << 62);
    EXPECT_EQ(sc.index_of(sc.max_request()), sc.count() - 1);
    EXPECT_EQ(sc.chunk_bytes(sc.count() - 1), sc.max_request());
    expect_smallest_holding(sc, sc.max_request());
    expect_smallest_holding(sc, sc.max_request() - 1);
    expect_smallest_holding(sc, (std::size_t{1} << 61) + 1);
  }
}

TEST(size_classes, sizes_no_class_holds_get_an_index_no_class_has) {
  for (const config& c : all_configs()) {
    SCOPED_TRACE(::testing::Message() << "alignment " << c.alignment << ", per " << c.per_doubling);
    const size_classes sc(c.alignment, c.per_doubling);
    EXPECT_GE(sc.index_of(0), sc.count());
    EXPECT_GE(sc.index_of(sc.max_request() + 1), sc.count());
    EXPECT_GE(sc.index_of(sc.max_request() * 2), sc.count());
    EXPECT_GE(sc.index_of(std::numeric_limits<std::size_t>::max()), sc.count());
  }
}

TEST(size_classes, class_count_follows_the_configuration) {
  // per linear classes, then per classes for each doubling from alignment*per up to 2^62.
  for (const config& c : all_configs()) {
    SCOPED_TRACE(::testing::Message() << "alignment " << c.alignment << ", per " << c.per_doubling);
    const size_classes sc(c.alignment, c.per_doubling);
    unsigned linear_log2 = 0;
    while ((std::size_t{1} << linear_log2) < c.alignment * c.per_doubling) ++linear_log2;
    EXPECT_EQ(sc.count(), c.per_doubling + (62 - linear_log2) * c.per_doubling);
  }
}

TEST(size_classes, one_class_per_doubling_gives_powers_of_two) {
  const size_classes sc(64, 1);
  EXPECT_EQ(sc.chunk_bytes(0), 64u);
  for (std::uint32_t i = 1; i < sc.count(); ++i) {
    EXPECT_EQ(sc.chunk_bytes(i), std::size_t{64} << i) << i;
  }
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(65)), 128u);
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(1000)), 1024u);
  EXPECT_EQ(sc.chunk_bytes(sc.index_of(1025)), 2048u);
}

TEST(size_classes, other_alignments_and_class_counts) {
  const size_classes a16(16, 4);  // 16, 32, 48, 64, then 80, 96, 112, 128, 160, ...
  EXPECT_EQ(a16.chunk_bytes(a16.index_of(1)), 16u);
  EXPECT_EQ(a16.chunk_bytes(a16.index_of(17)), 32u);
  EXPECT_EQ(a16.chunk_bytes(a16.index_of(64)), 64u);
  EXPECT_EQ(a16.chunk_bytes(a16.index_of(65)), 80u);
  EXPECT_EQ(a16.chunk_bytes(a16.index_of(129)), 160u);
  EXPECT_EQ(a16.chunk_bytes(a16.index_of(1000)), 1024u);
  EXPECT_EQ(a16.chunk_bytes(a16.index_of(1025)), 1280u);

  const size_classes a64(64, 64);  // linear up to 4096 in steps of 64, then steps of 64..
  EXPECT_EQ(a64.chunk_bytes(a64.index_of(4096)), 4096u);
  EXPECT_EQ(a64.chunk_bytes(a64.index_of(4097)), 4160u);  // 4096 + 4096/64
  EXPECT_EQ(a64.chunk_bytes(a64.index_of(8193)), 8320u);  // 8192 + 8192/64
}

}  // namespace
