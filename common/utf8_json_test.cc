// UTF-8 validation and the bounded JSON parser.

#include <gtest/gtest.h>

#include <string>

#include "common/json_parse.h"
#include "common/utf8.h"

namespace skua::common {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, long enough for the eight-byte fast path"));
  EXPECT_TRUE(
      IsValidUtf8("t\xc3\xa2"
                  "che \xe2\x9c\x93 \xf0\x9f\x90\xa6 \xf4\x8f\xbf\xbf"));
  EXPECT_TRUE(IsValidUtf8(std::string("nul \0 inside", 12)));
}

TEST(Utf8Test, RefusesWhatProtobufRefuses) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // stray continuation byte
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("12345678abcdefg\xe9"));  // after an ASCII run
}

TEST(Utf8Test, ReplacesWhatIsNotUtf8AsGoDoes) {
  EXPECT_EQ(ToValidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(ToValidUtf8("caf\xe9!"), "caf\xef\xbf\xbd!");
  EXPECT_EQ(ToValidUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(ParseJsonTest, ParsesAndBoundsNesting) {
  rapidjson::Document doc;
  EXPECT_FALSE(ParseJson(R"({"a":[1,2,{"b":null}]})", doc, 3).has_value());
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc["a"].Size(), 3u);

  auto err = ParseJson(R"({"a":[1,2,{"b":[]}]})", doc, 3);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->what, "nested deeper than 3 levels");

  // Far deeper than any stack: refused early, without recursion.
  std::string deep(200000, '[');
  err = ParseJson(deep, doc, 64);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->what, "nested deeper than 64 levels");

  err = ParseJson("{} x", doc, 8);
  ASSERT_TRUE(err.has_value());
  err = ParseJson("[NaN]", doc, 8);
  EXPECT_TRUE(err.has_value());
  EXPECT_FALSE(ParseJson("[NaN, -Infinity]", doc, 8, /*nan_and_inf=*/true).has_value());
}

}  // namespace
}  // namespace skua::common
