#include "registry/range.h"

#include <gtest/gtest.h>

namespace wharf::registry {
namespace {

TEST(RangeTest, SingleRanges) {
  ByteRange r;
  ASSERT_EQ(ParseRange("bytes=0-9", 100, &r), RangeResult::kOk);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 9u);
  ASSERT_EQ(ParseRange("bytes=90-", 100, &r), RangeResult::kOk);
  EXPECT_EQ(r.length(), 10u);
  ASSERT_EQ(ParseRange("bytes=-30", 100, &r), RangeResult::kOk);
  EXPECT_EQ(r.first, 70u);
  ASSERT_EQ(ParseRange("bytes=-300", 100, &r), RangeResult::kOk);
  EXPECT_EQ(r.first, 0u);
  ASSERT_EQ(ParseRange("bytes=50-1000", 100, &r), RangeResult::kOk);
  EXPECT_EQ(r.last, 99u);
  ASSERT_EQ(ParseRange(" bytes= 1 - 2 ", 100, &r), RangeResult::kOk);
  EXPECT_EQ(r.length(), 2u);
}

TEST(RangeTest, Unsatisfiable) {
  ByteRange r;
  EXPECT_EQ(ParseRange("bytes=100-", 100, &r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 100, &r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-", 0, &r), RangeResult::kUnsatisfiable);
}

TEST(RangeTest, IgnoredForms) {
  ByteRange r;
  for (const char* h : {"", "items=0-1", "bytes=0-1,3-4", "bytes=5-2", "bytes=a-b", "bytes=",
                        "bytes=99999999999999999999-"})
    EXPECT_EQ(ParseRange(h, 100, &r), RangeResult::kNone) << h;
}

TEST(ContentRangeTest, Forms) {
  ByteRange r;
  ASSERT_TRUE(ParseContentRange("0-99", &r));
  EXPECT_EQ(r.length(), 100u);
  ASSERT_TRUE(ParseContentRange("bytes 100-199/*", &r));
  EXPECT_EQ(r.first, 100u);
  ASSERT_TRUE(ParseContentRange("bytes=5-5", &r));
  EXPECT_EQ(r.length(), 1u);
  for (const char* h : {"", "abc", "5-4", "-5", "5-", "1-2-3", "bytes */100"})
    EXPECT_FALSE(ParseContentRange(h, &r)) << h;
}

}  // namespace
}  // namespace wharf::registry
