// The byte and bit codes on their own: round trips, bounds, and malformed input.

#include "storage/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace skua::storage {
namespace {

TEST(CodingTest, VarintsAndBigEndianRoundTrip) {
  std::string out;
  const uint64_t values[] = {0, 1, 127, 128, 300, uint64_t{1} << 35, UINT64_MAX};
  for (uint64_t v : values) AppendVarint(out, v);
  std::string_view in = out;
  for (uint64_t v : values) EXPECT_EQ(ReadVarint(in), v);
  EXPECT_TRUE(in.empty());
  std::string_view truncated("\x80\x80", 2);
  EXPECT_EQ(ReadVarint(truncated), std::nullopt);
  EXPECT_TRUE(truncated.empty());

  std::string key;
  AppendBigEndian64(key, 0x0102030405060708ULL);
  EXPECT_EQ(key, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(DecodeBigEndian64(key), 0x0102030405060708ULL);
}

TEST(CodingTest, ByteWriterAndReaderRoundTripAndFailWithoutReadingPastTheEnd) {
  ByteWriter w;
  w.U8(7);
  w.Var(300);
  w.SVar(-5);
  w.SVar(INT64_MIN);
  w.Fixed(0xabcdef, 3);
  w.Str("hello");
  std::string bytes = w.Take();
  ByteReader r(bytes);
  EXPECT_EQ(r.U8(), 7);
  EXPECT_EQ(r.Var(), 300u);
  EXPECT_EQ(r.SVar(), -5);
  EXPECT_EQ(r.SVar(), INT64_MIN);
  EXPECT_EQ(LoadFixedLE(r.Bytes(3).data(), 3), 0xabcdefu);
  EXPECT_EQ(r.Str(), "hello");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.U8(), 0);  // past the end
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.Str(), "");

  // A count cannot promise more items than the bytes left can hold.
  ByteWriter c;
  c.Var(1000);
  c.Bytes("abcd");
  std::string counted = c.Take();
  ByteReader cr(counted);
  EXPECT_EQ(cr.Count(1), 0u);
  EXPECT_FALSE(cr.ok());
}

TEST(CodingTest, BitCodesRoundTripIncludingEscapes) {
  BitWriter w;
  w.Put(5, 3);
  w.Rice(0, 0);
  w.Rice(37, 3);
  w.Rice(uint64_t{1} << 50, 2);  // quotient past the escape: the value follows in 64 bits
  w.Gamma(1);
  w.Gamma(1000);
  w.Put(0x1ffffffffffffULL, 49);
  size_t bits = w.bit_position();
  std::string bytes = w.Take();
  EXPECT_EQ(bytes.size(), (bits + 7) / 8);
  BitReader r(bytes, 0);
  EXPECT_EQ(r.Get(3), 5u);
  EXPECT_EQ(r.Rice(0), 0u);
  EXPECT_EQ(r.Rice(3), 37u);
  EXPECT_EQ(r.Rice(2), uint64_t{1} << 50);
  EXPECT_EQ(r.Gamma(), 1u);
  EXPECT_EQ(r.Gamma(), 1000u);
  EXPECT_EQ(r.Get(49), 0x1ffffffffffffULL);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.Get(16), 0u);  // past the end
  EXPECT_FALSE(r.ok());

  BitReader outside(bytes, bytes.size() * 8 + 1);
  EXPECT_FALSE(outside.ok());
  std::string ones(8, '\xff');  // an endless unary run: refused, not read past the end
  BitReader unary(ones, 40);
  (void)unary.Gamma();
  EXPECT_FALSE(unary.ok());
}

}  // namespace
}  // namespace skua::storage
