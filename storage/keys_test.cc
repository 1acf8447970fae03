// The key layout: ordering and round trips of every kind of key.

#include "storage/keys.h"

#include <gtest/gtest.h>

namespace skua::storage {
namespace {

TEST(KeysTest, TraceChunkKeyLayout) {
  auto id = common::ParseTraceIdHex("0102030405060708090a0b0c0d0e0f10");
  ASSERT_TRUE(id);
  std::string key = TraceChunkKey(*id, 0x1122334455667788ULL);
  ASSERT_EQ(key.size(), kTraceChunkKeyLength);
  EXPECT_EQ(key[0], 'T');
  EXPECT_EQ(key.substr(1, 16), std::string(id->AsBytes()));
  EXPECT_EQ(common::HexEncode(key.substr(17)), "1122334455667788");
  EXPECT_EQ(key.substr(0, kTracePrefixLength), TracePrefix(*id));
  auto decoded = DecodeTraceChunkKey(key);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->trace_id, *id);
  EXPECT_EQ(decoded->seq, 0x1122334455667788ULL);
  EXPECT_FALSE(DecodeTraceChunkKey(key.substr(1)));
  EXPECT_FALSE(DecodeTraceChunkKey(ResourceKey(1)));
}

TEST(KeysTest, SequenceNumbersSortInCommitOrder) {
  auto id = common::ParseTraceIdHex("ff");
  EXPECT_LT(TraceChunkKey(*id, 255), TraceChunkKey(*id, 256));
  EXPECT_LT(TraceChunkKey(*id, 1), TraceChunkKey(*id, 1ULL << 40));
}

TEST(KeysTest, RowKeysAreDistinctByTag) {
  EXPECT_EQ(ResourceKey(0x0102).size(), 9u);
  EXPECT_EQ(ResourceKey(1)[0], 'R');
  EXPECT_EQ(ScopeKey(1)[0], 'S');
  EXPECT_NE(ResourceKey(7), ScopeKey(7));
  EXPECT_EQ(DecodeBigEndian64(ResourceKey(0xabcdef).substr(1)), 0xabcdefu);
}

}  // namespace
}  // namespace skua::storage
