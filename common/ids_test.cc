// Trace and span ID parsing and formatting.

#include "common/ids.h"

#include <gtest/gtest.h>

namespace skua::common {
namespace {

TEST(TraceIdTest, ShortHexIsLeftPadded) {
  auto id = ParseTraceIdHex("abc");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->High(), 0u);
  EXPECT_EQ(id->Low(), 0xabcu);
  EXPECT_EQ(FormatTraceIdJaeger(*id), "0000000000000abc");
  EXPECT_EQ(FormatTraceId32(*id), "00000000000000000000000000000abc");
}

TEST(TraceIdTest, SixteenAndThirtyTwoDigitFormsOfOneIdAreEqual) {
  auto a = ParseTraceIdHex("00000000000000010000000000000002");
  auto b = ParseTraceIdHex("10000000000000002");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->High(), 1u);
  EXPECT_EQ(a->Low(), 2u);
  EXPECT_EQ(FormatTraceIdJaeger(*a), "00000000000000010000000000000002");
  auto c = ParseTraceIdHex("0000000000000000000000000000002a");
  auto d = ParseTraceIdHex("000000000000002A");
  ASSERT_TRUE(c && d);
  EXPECT_EQ(*c, *d);
  EXPECT_EQ(FormatTraceIdJaeger(*c), "000000000000002a");
}

TEST(TraceIdTest, RejectsBadHex) {
  EXPECT_FALSE(ParseTraceIdHex(""));
  EXPECT_FALSE(ParseTraceIdHex("xyz"));
  EXPECT_FALSE(ParseTraceIdHex(std::string(33, 'a')));
  EXPECT_FALSE(ParseTraceIdHex("12 4"));
}

TEST(TraceIdTest, RefusalsAreWordedAsJaegersParser) {
  EXPECT_EQ(TraceIdHexError("xyz-not-hex"),
            "strconv.ParseUint: parsing \"xyz-not-hex\": invalid syntax");
  EXPECT_EQ(TraceIdHexError(std::string(33, 'a')),
            "TraceID cannot be longer than 32 hex characters: " + std::string(33, 'a'));
  // 20 digits: the high 4 are parsed first, then the low 16.
  EXPECT_EQ(TraceIdHexError("zz000000000000000001"),
            "strconv.ParseUint: parsing \"zz00\": invalid syntax");
  EXPECT_EQ(TraceIdHexError("00000000000000000zz1"),
            "strconv.ParseUint: parsing \"0000000000000zz1\": invalid syntax");
  EXPECT_EQ(TraceIdHexError(""), "strconv.ParseUint: parsing \"\": invalid syntax");
  // Base64 is not a trace ID (Jaeger v1.76 answers 400, not a lookup).
  EXPECT_FALSE(ParseTraceIdHex("AAECAwQFBgcICQoLDA0ODw=="));
  EXPECT_EQ(TraceIdHexError("0123456789abcdefABCDEF"), "");
}

TEST(TraceIdTest, FromBytesAndValidity) {
  EXPECT_FALSE(TraceId::FromBytes(std::string(15, '\1')));
  auto zero = TraceId::FromBytes(std::string(16, '\0'));
  ASSERT_TRUE(zero.has_value());
  EXPECT_FALSE(zero->IsValid());
  auto eight = TraceId::FromBytes(std::string("\1\2\3\4\5\6\7\x08", 8));
  ASSERT_TRUE(eight.has_value());
  EXPECT_EQ(eight->Low(), 0x0102030405060708u);
  EXPECT_TRUE(eight->IsValid());
  EXPECT_FALSE(SpanId::FromBytes("1234567"));
  EXPECT_FALSE(SpanId::FromBytes(std::string(8, '\0'))->IsValid());
}

TEST(HexTest, RoundTripAndCaseInsensitivity) {
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(HexDecode("00FF10"), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(HexDecode("abc"));
  EXPECT_FALSE(HexDecode("zz"));
}

}  // namespace
}  // namespace skua::common
