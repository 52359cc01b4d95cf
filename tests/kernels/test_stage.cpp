// The stage table: complete rows, unique names, lookups, the choose-from text, and each row's
// launchers wired to its stage.
#include "reference.hpp"

#include <pinpool/kernels/gaussian.hpp>
#include <pinpool/kernels/stage.hpp>

#ifdef PINPOOL_KERNELS_HAS_CUDA
#include <pinpool/pinpool.hpp>
#endif

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace pinpool::kernels {
namespace {

/// The message of the std::invalid_argument `call` throws; fails the test when it throws none.
template <class Call>
std::string invalid_argument_message(Call call) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "no std::invalid_argument";
  return {};
}

TEST(stage_table, every_row_is_complete) {
  ASSERT_GT(stage_table().size(), 0u);
  for (const stage_info& row : stage_table()) {
    ASSERT_NE(row.name, nullptr);
    SCOPED_TRACE(row.name);
    EXPECT_GT(std::string(row.name).size(), 0u);
    EXPECT_NE(row.scratch_bytes, nullptr);
    EXPECT_NE(row.validate, nullptr);
    EXPECT_NE(row.cpu, nullptr);
#ifdef PINPOOL_KERNELS_HAS_CUDA
    EXPECT_NE(row.cuda, nullptr);
#else
    EXPECT_EQ(row.cuda, nullptr);
#endif
  }
}

TEST(stage_table, rows_follow_the_enumeration) {
  int index = 0;
  for (const stage_info& row : stage_table()) {
    EXPECT_EQ(static_cast<int>(row.id), index++) << row.name;
    EXPECT_EQ(&stage_info_of(row.id), &row) << row.name;
    EXPECT_EQ(&stage_named(row.name), &row) << row.name;
  }
}

TEST(stage_table, names_are_unique_lower_case_words) {
  std::set<std::string> seen;
  for (const stage_info& row : stage_table()) {
    const std::string name = row.name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    for (const char c : name) EXPECT_TRUE(c >= 'a' && c <= 'z') << name;
  }
}

TEST(stage_table, names_round_trip) {
  for (const stage_info& row : stage_table()) {
    EXPECT_STREQ(to_string(row.id), row.name);
    const auto parsed = parse_stage(row.name);
    ASSERT_TRUE(parsed.has_value()) << row.name;
    EXPECT_EQ(*parsed, row.id);
  }
  EXPECT_STREQ(to_string(stage::gray), "gray");
  EXPECT_STREQ(to_string(stage::equalize), "equalize");
}

TEST(stage_table, unknown_names_are_empty) {
  for (const char* name : {"", "Gray", "grey", "blur ", "sobelx", "equalise", "gray,blur"}) {
    EXPECT_FALSE(parse_stage(name).has_value()) << '"' << name << '"';
  }
  const std::string text = "xblurx";
  EXPECT_EQ(parse_stage(std::string_view(text).substr(1, 4)), stage::blur);
}

TEST(stage_table, choose_from_text_lists_every_row_in_order) {
  std::string expected;
  for (const stage_info& row : stage_table()) {
    expected += expected.empty() ? "" : ", ";
    expected += row.name;
  }
  EXPECT_EQ(stage_names(", "), expected);
  EXPECT_EQ(stage_names(" | ").substr(0, 14), "gray | blur | ");
}

TEST(stage_table, unknown_lookups_fail_clearly) {
  const std::string message = invalid_argument_message([] { (void)stage_named("sharpen"); });
  EXPECT_NE(message.find("unknown stage 'sharpen'"), std::string::npos) << message;
  EXPECT_NE(message.find("(choose from " + stage_names(", ") + ")"), std::string::npos) << message;
  const auto bad = static_cast<stage>(99);
  EXPECT_NE(invalid_argument_message([&] { (void)stage_info_of(bad); }).find("99"),
            std::string::npos);
  EXPECT_STREQ(to_string(bad), "unknown");
}

TEST(stage_table, validation_rejects_bad_parameters) {
  for (const stage_info& row : stage_table()) {
    SCOPED_TRACE(row.name);
    EXPECT_NO_THROW(row.validate(stage_params{}));
    EXPECT_NO_THROW(row.validate(stage_params{1.5f}));
  }
  const stage_info& blur = stage_info_of(stage::blur);
  for (const float sigma : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), 170.7f, 1e9f}) {
    SCOPED_TRACE(sigma);
    EXPECT_NE(invalid_argument_message([&] { blur.validate(stage_params{sigma}); }).find("sigma"),
              std::string::npos);
  }
}

TEST(stage_table, scratch_sizes) {
  EXPECT_EQ(stage_info_of(stage::blur).scratch_bytes(7, 5), blur_scratch_bytes(7, 5));
  EXPECT_EQ(stage_info_of(stage::gray).scratch_bytes(7, 5), 0u);
}

/// A 9 x 7 grey source, a view of it with null data, a padded destination and `row`'s scratch.
struct launch_images {
  explicit launch_images(const stage_info& row)
      : scratch(row.scratch_bytes(9, 7) / sizeof(float) + 1) {
    no_data.data = nullptr;
  }
  testing::test_image src = testing::make_image(9, 7, 1, testing::pattern::random);
  testing::test_image dst{9, 7, 1, 3};
  const_image_view no_data = src.cview();
  std::vector<float> scratch;
};

// Each row reaches its own launcher: a null source is reported by "<name>_cpu".
TEST(stage_table, cpu_launchers_are_the_rows_own) {
  for (const stage_info& row : stage_table()) {
    SCOPED_TRACE(row.name);
    launch_images im(row);
    const std::string message = invalid_argument_message(
        [&] { row.cpu(im.no_data, im.dst.view(), stage_params{}, im.scratch.data()); });
    EXPECT_NE(message.find(std::string(row.name) + "_cpu"), std::string::npos) << message;
    EXPECT_NO_THROW(row.cpu(im.src.cview(), im.dst.view(), stage_params{}, im.scratch.data()));
    EXPECT_TRUE(im.dst.padding_intact());
  }
}

#ifdef PINPOOL_KERNELS_HAS_CUDA
// The CUDA column reaches the row's own launcher: its argument check, made before any CUDA call
// (no device needed), names "<name>_cuda".
TEST(stage_table, cuda_launchers_are_the_rows_own) {
  auto cpu = make_backend(backend_kind::cpu);
  stream s = cpu->create_stream();
  pool_options opt;
  opt.kind = memory_kind::device;
  pool device_pool(cpu, opt);
  for (const stage_info& row : stage_table()) {
    SCOPED_TRACE(row.name);
    launch_images im(row);
    const std::string message = invalid_argument_message([&] {
      row.cuda(im.no_data, im.dst.view(), stage_params{}, im.scratch.data(), device_pool, s);
    });
    EXPECT_NE(message.find(std::string(row.name) + "_cuda"), std::string::npos) << message;
  }
  s.synchronize();
}
#endif

// needs_grey says which launchers take colour: the others reject a 3-channel source.
TEST(stage_table, needs_grey_matches_the_launchers) {
  for (const stage_info& row : stage_table()) {
    SCOPED_TRACE(row.name);
    testing::test_image src = testing::make_image(6, 4, 3, testing::pattern::random);
    testing::test_image dst(6, 4, 1);
    std::vector<float> scratch(row.scratch_bytes(6, 4) / sizeof(float) + 1);
    auto call = [&] { row.cpu(src.cview(), dst.view(), stage_params{}, scratch.data()); };
    if (row.needs_grey) {
      EXPECT_THROW(call(), std::invalid_argument);
    } else {
      EXPECT_NO_THROW(call());
    }
  }
}

}  // namespace
}  // namespace pinpool::kernels
