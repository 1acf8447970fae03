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

TEST(TraceIdTest, PathAcceptsBase64OfEightOrSixteenBytes) {
  // 16 bytes 0x00..0x0f in standard base64 (padded) and URL-safe raw.
  auto a = ParseTraceIdPath("AAECAwQFBgcICQoLDA0ODw==");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(FormatTraceId32(*a), "000102030405060708090a0b0c0d0e0f");
  auto b = ParseTraceIdPath("AAECAwQFBgcICQoLDA0ODw");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*a, *b);
  // 8 bytes -> low half.
  auto c = ParseTraceIdPath("_____________w");  // not 8/16 bytes after decoding
  EXPECT_FALSE(c.has_value());
  auto d = ParseTraceIdPath("AQIDBAUGBwg=");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(FormatTraceIdJaeger(*d), "0102030405060708");
  EXPECT_FALSE(ParseTraceIdPath("!!!!"));
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
