#include "heal/core/status.h"

#include <gtest/gtest.h>

namespace heal {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return Status::invalid_argument("x must be positive, got " + std::to_string(x));
  return x;
}

Result<int> twice(int x) {
  HEAL_ASSIGN_OR_RETURN(int v, parse_positive(x));
  return 2 * v;
}

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status().ok());
  Status s = Status::corruption("bad bytes");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.to_string(), "Corruption: bad bytes");
  EXPECT_EQ(s.with_context("loading a.npz").message(), "loading a.npz: bad bytes");
}

TEST(Result, ValueAndPropagation) {
  EXPECT_EQ(*twice(4), 8);
  auto r = twice(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THROW((void)r.value(), StatusError);
}

TEST(Result, OkStatusIsNotAValue) {
  Result<int> r{Status()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace heal
