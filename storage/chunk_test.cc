// Trace chunks round-trip: what is encoded decodes to the same spans, parents and times.

#include "storage/chunk.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/otlp_builders.h"

namespace skua::storage {
namespace {

namespace otlp = ::opentelemetry::proto::trace::v1;
using testing::AddResource;
using testing::AddSpan;
using testing::ExportRequest;

struct Decoded {
  uint64_t resource_id, scope_id;
  otlp::Span span;
};

std::vector<Decoded> Decode(const std::string& chunk, std::string_view trace_hex) {
  auto id = *common::ParseTraceIdHex(trace_hex);
  std::vector<Decoded> out;
  bool ok = ForEachChunkSpan(chunk, [&](uint64_t rid, uint64_t sid, const ChunkSpan& cs) {
    Decoded d{rid, sid, {}};
    EXPECT_TRUE(ParseChunkSpan(id, cs, &d.span));
    out.push_back(std::move(d));
  });
  EXPECT_TRUE(ok);
  return out;
}

TEST(ChunkTest, RoundTripsSpansGroupsTimesAndParents) {
  ExportRequest req;
  auto* a = AddResource(req, "a");
  auto* b = AddResource(req, "b");
  otlp::Span* root = AddSpan(a, "ab", 1, 0, "root", 2'000, 500);
  otlp::Span* child = AddSpan(a, "ab", 2, 1, "child", 1'500, 100);  // starts before its parent
  otlp::Span* remote = AddSpan(b, "ab", 3, 77, "remote parent", 3'000, 0);
  otlp::Span* late = AddSpan(b, "ab", 4, 2, "ends before it starts", 4'000, 0);
  late->set_end_time_unix_nano(3'999);
  testing::AddStringAttr(child->mutable_attributes(), "k", "v");
  ChunkEncoder encoder;
  std::string chunk = encoder.Encode({{11, 12, {root, child}}, {21, 22, {remote, late}}});

  auto spans = Decode(chunk, "ab");
  ASSERT_EQ(spans.size(), 4u);
  const otlp::Span* in[] = {root, child, remote, late};
  for (size_t i = 0; i < spans.size(); ++i) {
    EXPECT_EQ(spans[i].span.SerializeAsString(), in[i]->SerializeAsString()) << i;
    EXPECT_EQ(spans[i].resource_id, i < 2 ? 11u : 21u);
    EXPECT_EQ(spans[i].scope_id, i < 2 ? 12u : 22u);
  }
  // The encoder is reused: a second chunk is encoded alone.
  std::string again = encoder.Encode({{21, 22, {remote}}});
  auto one = Decode(again, "ab");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].span.SerializeAsString(), remote->SerializeAsString());
}

TEST(ChunkTest, MalformedChunksAreRefusedWhole) {
  ExportRequest req;
  auto* ss = AddResource(req, "a");
  otlp::Span* root = AddSpan(ss, "ab", 1, 0, "root", 2'000, 500);
  otlp::Span* child = AddSpan(ss, "ab", 2, 1, "child", 2'100, 100);
  std::string chunk = ChunkEncoder().Encode({{1, 2, {root, child}}});
  int calls = 0;
  auto count = [&](uint64_t, uint64_t, const ChunkSpan&) { ++calls; };
  for (size_t cut = 0; cut < chunk.size(); ++cut) {
    // A proper prefix is refused without a span reported, unless it only lacks the trailing
    // (optional) parent references: then both spans come back, without parents.
    calls = 0;
    bool ok = ForEachChunkSpan(chunk.substr(0, cut), count);
    EXPECT_EQ(calls, ok && cut > 0 ? 2 : 0) << cut;  // an empty chunk holds no span
  }
  calls = 0;
  EXPECT_FALSE(ForEachChunkSpan("\xff\xff\xff\xff\x0f garbage", count));
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace skua::storage
