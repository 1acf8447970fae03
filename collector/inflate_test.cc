// Inflation stops at its limit and when the caller refuses more memory.

#include "collector/inflate.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace skua::collector {
namespace {

std::string Gzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(InflateTest, InflatesWithinTheLimitAndSaysWhyItStops) {
  std::string body(300'000, 'a');
  std::string gz = Gzip(body);
  EXPECT_TRUE(LooksGzipped(gz));
  EXPECT_FALSE(LooksGzipped("\x0a\x01x"));
  auto out = Inflate(gz, body.size(), /*gzip=*/true);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, body);

  EXPECT_EQ(Inflate(gz, body.size() - 1, true).status().code(),
            absl::StatusCode::kResourceExhausted);
  size_t asked = 0;
  auto refused = Inflate(gz, body.size(), true, [&](size_t n) {
    asked = n;
    return n <= 128 * 1024;
  });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAborted);
  EXPECT_GT(asked, 128u * 1024);
  EXPECT_EQ(Inflate(gz.substr(0, gz.size() / 2), body.size(), true).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Inflate("not gzip at all", 100, true).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skua::collector
