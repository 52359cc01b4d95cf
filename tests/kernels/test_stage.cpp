#include <pinpool/kernels/stage.hpp>

#include <gtest/gtest.h>
#include <string>

namespace pinpool::kernels {
namespace {

TEST(stage, names_round_trip) {
  for (const stage s : {stage::gray, stage::blur, stage::sobel, stage::equalize}) {
    const auto parsed = parse_stage(to_string(s));
    ASSERT_TRUE(parsed.has_value()) << to_string(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_STREQ(to_string(stage::gray), "gray");
  EXPECT_STREQ(to_string(stage::equalize), "equalize");
}

TEST(stage, unknown_names_are_empty) {
  for (const char* name : {"", "Gray", "grey", "blur ", "sobelx", "equalise", "gray,blur"}) {
    EXPECT_FALSE(parse_stage(name).has_value()) << '"' << name << '"';
  }
  const std::string text = "xblurx";
  EXPECT_EQ(parse_stage(std::string_view(text).substr(1, 4)), stage::blur);
}

}  // namespace
}  // namespace pinpool::kernels
