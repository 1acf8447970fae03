// The store through its interface: preparing writes, whole traces across requests,
// duplicates, parents, reopening, and the data directory checks at open.

#include "storage/span_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>

#include "skua/storage.pb.h"
#include "storage/keys.h"
#include "tests/testing/otlp_builders.h"
#include "tests/testing/store_helpers.h"

namespace skua::storage {
namespace {

// Upkeep only when the test asks for it (RunUpkeep) or commits run it, on the fake clock.
const SpanStore::WriterOptions kNoIdleUpkeep{.idle_upkeep_interval = std::chrono::milliseconds(0)};

// Real time: these tests do not depend on index sealing by age.
common::SystemClock clock_;

using testing::AddResource;
using testing::AddSpan;
using testing::CountSpans;
using testing::ExportRequest;
using testing::RefsOf;

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::path(::testing::TempDir()) /
             (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(PrepareWriteTest, OneChunkPerTraceAndResourceStoredOnce) {
  ExportRequest req;
  auto* ss = AddResource(req, "svc");
  AddSpan(ss, "a1", 1, 0, "root", 1000, 10);
  AddSpan(ss, "a2", 2, 0, "other", 1000, 10);
  AddSpan(ss, "a1", 3, 1, "child", 1001, 5);
  auto refs = RefsOf(req);
  PreparedWrite w = PrepareWrite("", refs, RetentionPolicy{});
  EXPECT_EQ(w.span_count, 3u);
  ASSERT_EQ(w.chunks.size(), 2u);
  EXPECT_EQ(w.resources.size(), 1u);
  EXPECT_EQ(w.scopes.size(), 1u);
  TraceChunk chunk;
  ASSERT_TRUE(chunk.ParseFromString(w.chunks[0].value));
  ASSERT_EQ(chunk.groups_size(), 1);
  EXPECT_EQ(chunk.groups(0).spans_size(), 2);
  EXPECT_EQ(chunk.groups(0).spans(1).name(), "child");
  EXPECT_EQ(chunk.groups(0).resource_id(), w.resources[0].first);
  // The child's parent is the chunk's span 0, referred to instead of stored (storage.proto).
  EXPECT_TRUE(chunk.groups(0).spans(1).parent_span_id().empty());
  EXPECT_EQ(std::vector<uint32_t>(chunk.parents().begin(), chunk.parents().end()),
            (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(chunk.external_parents_size(), 0);
}

TEST(SpanStoreTest, StoresAndReturnsWholeTracesAcrossRequests) {
  std::string dir = TempDir("store");
  auto store = SpanStore::Open(testing::TestStorage(dir, 2), clock_, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok()) << store.status();
  ExportRequest a, b;
  AddSpan(AddResource(a, "frontend"), "abc", 1, 0, "GET /", 1000, 500);
  auto* ss = AddResource(b, "backend", "host-2");
  AddSpan(ss, "abc", 2, 1, "query", 1100, 100);
  AddSpan(ss, "def", 9, 0, "unrelated", 1100, 100);
  testing::StoreRequest(**store, a);
  testing::StoreRequest(**store, b);

  auto trace = (*store)->GetTrace("", *common::ParseTraceIdHex("abc"));
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_TRUE(trace->has_value());
  const auto& td = **trace;
  EXPECT_EQ(CountSpans(td), 2);
  ASSERT_EQ(td.resource_spans_size(), 2);
  EXPECT_EQ(td.resource_spans(0).resource().attributes(0).value().string_value(), "frontend");
  EXPECT_EQ(td.resource_spans(1).resource().attributes(0).value().string_value(), "backend");
  EXPECT_EQ(td.resource_spans(1).scope_spans(0).scope().name(), "test-lib");
  EXPECT_EQ(td.resource_spans(1).scope_spans(0).spans(0).name(), "query");

  auto missing = (*store)->GetTrace("", *common::ParseTraceIdHex("abd"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST(SpanStoreTest, ExactDuplicatesAreReturnedOnce) {
  std::string dir = TempDir("dup");
  auto store = SpanStore::Open(testing::TestStorage(dir, 1), clock_, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok());
  ExportRequest req;
  AddSpan(AddResource(req, "svc"), "77", 1, 0, "op", 1000, 1);
  testing::StoreRequest(**store, req);
  testing::StoreRequest(**store, req);  // an exporter retry after a lost acknowledgement
  auto trace = (*store)->GetTrace("", *common::ParseTraceIdHex("77"));
  ASSERT_TRUE(trace.ok() && trace->has_value());
  EXPECT_EQ(CountSpans(**trace), 1);

  // Times are stored apart from the rest of the span: a span differing only in its times is
  // another span, and comes back with its own times.
  ExportRequest later;
  AddSpan(AddResource(later, "svc"), "77", 1, 0, "op", 5000, 7);
  testing::StoreRequest(**store, later);
  trace = (*store)->GetTrace("", *common::ParseTraceIdHex("77"));
  ASSERT_TRUE(trace.ok() && trace->has_value());
  ASSERT_EQ(CountSpans(**trace), 2);
  std::set<std::pair<uint64_t, uint64_t>> times;
  for (const auto& rs : (*trace)->resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        EXPECT_EQ(s.trace_id(), testing::TraceIdBytes("77"));
        times.insert({s.start_time_unix_nano(), s.end_time_unix_nano()});
      }
    }
  }
  EXPECT_EQ(times, (std::set<std::pair<uint64_t, uint64_t>>{{1000, 1001}, {5000, 5007}}));
}

// Parents are stored as references within a chunk when they can be: every span must come back
// with its own parent, whether that is in the same request, in another one, or absent; and a
// span is one span however the requests that carried it were composed.
TEST(SpanStoreTest, ParentsComeBackWhereverTheParentWasStored) {
  std::string dir = TempDir("parents");
  auto store = SpanStore::Open(testing::TestStorage(dir, 1), clock_, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok());
  ExportRequest first, retry;
  auto* ss = AddResource(first, "svc");
  AddSpan(ss, "88", 3, 2, "grandchild", 1002, 1);  // parent later in the same chunk
  AddSpan(ss, "88", 2, 1, "child", 1001, 3);
  AddSpan(ss, "88", 1, 0, "root", 1000, 9);
  AddSpan(ss, "88", 4, 99, "orphan", 1003, 1);  // parent never stored
  AddSpan(ss, "88", 5, 5, "own parent", 1004, 1);
  testing::StoreRequest(**store, first);
  // The same child and grandchild again without their parents: their parents are no longer
  // in the chunk, yet they are the same spans.
  auto* rs = AddResource(retry, "svc");
  AddSpan(rs, "88", 3, 2, "grandchild", 1002, 1);
  AddSpan(rs, "88", 2, 1, "child", 1001, 3);
  testing::StoreRequest(**store, retry);

  auto trace = (*store)->GetTrace("", *common::ParseTraceIdHex("88"));
  ASSERT_TRUE(trace.ok() && trace->has_value());
  std::map<std::string, std::string> parent_of;
  for (const auto& r : (*trace)->resource_spans()) {
    for (const auto& s : r.scope_spans()) {
      for (const auto& span : s.spans()) {
        EXPECT_TRUE(parent_of.emplace(span.name(), span.parent_span_id()).second) << span.name();
      }
    }
  }
  auto id = [](uint64_t v) { return v == 0 ? std::string() : testing::SpanIdBytes(v); };
  EXPECT_EQ(parent_of, (std::map<std::string, std::string>{{"grandchild", id(2)},
                                                           {"child", id(1)},
                                                           {"root", id(0)},
                                                           {"orphan", id(99)},
                                                           {"own parent", id(5)}}));
}

TEST(SpanStoreTest, DataSurvivesReopen) {
  std::string dir = TempDir("reopen");
  {
    auto store = SpanStore::Open(testing::TestStorage(dir, 3), clock_, kNoIdleUpkeep);
    ASSERT_TRUE(store.ok());
    ExportRequest req;
    AddSpan(AddResource(req, "svc"), "1234", 1, 0, "op", 1000, 1);
    testing::StoreRequest(**store, req);
  }
  auto store = SpanStore::Open(testing::TestStorage(dir, 0), clock_,
                               kNoIdleUpkeep);  // 0 = whatever the directory has
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->shard_count(), 3);
  ExportRequest req2;
  AddSpan(AddResource(req2, "svc"), "1234", 2, 1, "op2", 1000, 1);
  testing::StoreRequest(**store,
                        req2);  // sequence numbers continue: the first chunk is not overwritten
  auto trace = (*store)->GetTrace("", *common::ParseTraceIdHex("1234"));
  ASSERT_TRUE(trace.ok() && trace->has_value());
  EXPECT_EQ(CountSpans(**trace), 2);
}

TEST(SpanStoreTest, RefusesAnotherShardCountOrFormat) {
  std::string dir = TempDir("meta");
  { ASSERT_TRUE(SpanStore::Open(testing::TestStorage(dir, 2), clock_, kNoIdleUpkeep).ok()); }
  auto other = SpanStore::Open(testing::TestStorage(dir, 4), clock_, kNoIdleUpkeep);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("storage.shards=2"), absl::string_view::npos);
  {
    std::ofstream meta(std::filesystem::path(dir) / "SKUA_META", std::ios::trunc);
    meta << "format_version=999\nshards=2\n";
  }
  auto future = SpanStore::Open(testing::TestStorage(dir, 2), clock_, kNoIdleUpkeep);
  ASSERT_FALSE(future.ok());
  EXPECT_NE(future.status().message().find("format version 999"), absl::string_view::npos);

  std::string foreign = TempDir("foreign");
  std::filesystem::create_directories(foreign);
  std::ofstream(std::filesystem::path(foreign) / "something") << "x";
  auto f = SpanStore::Open(testing::TestStorage(foreign, 1), clock_, kNoIdleUpkeep);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kFailedPrecondition);
}

// A partition is two column families, spans and index (docs/storage.md). A crash between
// creating or dropping the two leaves an index family alone: the next open drops it; an unknown
// family is refused rather than misread.
TEST(SpanStoreTest, PartitionFamiliesAreCheckedAtOpen) {
  std::string dir = TempDir("families");
  {
    auto store = SpanStore::Open(testing::TestStorage(dir, 1), clock_, kNoIdleUpkeep);
    ASSERT_TRUE(store.ok());
    ExportRequest req;
    AddSpan(AddResource(req, "svc"), "aa", 1, 0, "op", 1000, 1);
    testing::StoreRequest(**store, req);
  }
  std::string shard = (std::filesystem::path(dir) / "shard-000").string();
  auto families = [&] {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), shard, &names).ok());
    return std::set<std::string>(names.begin(), names.end());
  };
  auto add_family = [&](const std::string& name) {
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : families()) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), shard, descriptors, &handles, &db).ok());
    rocksdb::ColumnFamilyHandle* h = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), name, &h).ok());
    handles.push_back(h);
    for (auto* x : handles) db->DestroyColumnFamilyHandle(x);
    delete db;
  };
  size_t before = families().size();
  EXPECT_EQ(before, 3u) << "default, one partition and its index family";

  add_family("r60-w5-p100-index");  // an index family without its partition
  {
    auto store = SpanStore::Open(testing::TestStorage(dir, 1), clock_, kNoIdleUpkeep);
    ASSERT_TRUE(store.ok()) << store.status();
    auto trace = (*store)->GetTrace("", *common::ParseTraceIdHex("aa"));
    ASSERT_TRUE(trace.ok() && trace->has_value());
  }
  EXPECT_FALSE(families().contains("r60-w5-p100-index"));
  EXPECT_EQ(families().size(), before);

  add_family("colour");
  auto refused = SpanStore::Open(testing::TestStorage(dir, 1), clock_, kNoIdleUpkeep);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("unknown column family 'colour'"),
            absl::string_view::npos);
}

TEST(SpanStoreTest, RoutingIsStableAndSpreads) {
  std::string dir = TempDir("route");
  auto store = SpanStore::Open(testing::TestStorage(dir, 4), clock_, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok());
  std::vector<int> counts(4);
  for (int i = 1; i <= 4000; ++i) {
    auto id = common::ParseTraceIdHex(fmt::format("{:x}", i * 2654435761u));
    int s = (*store)->ShardOf(*id);
    ASSERT_EQ(s, (*store)->ShardOf(*id));
    ++counts[s];
  }
  for (int c : counts) EXPECT_GT(c, 800);
}

TEST(SpanStoreTest, SubmitCompletesExactlyOnce) {
  std::string dir = TempDir("submit");
  auto store = SpanStore::Open(testing::TestStorage(dir, 2), clock_, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok());
  auto submit = [&](std::vector<SpanWriter::ShardWrite> writes) {
    int calls = 0;
    std::promise<absl::Status> done;
    (*store)->Submit(std::move(writes), [&](absl::Status st) {
      ++calls;
      done.set_value(std::move(st));
    });
    absl::Status st = done.get_future().get();
    EXPECT_EQ(calls, 1);
    return st;
  };
  EXPECT_TRUE(submit({}).ok());  // nothing to write: done at once
  EXPECT_EQ(submit({{7, PreparedWrite{}}}).code(), absl::StatusCode::kInvalidArgument);
  testing::ExportRequest req;
  testing::AddSpan(testing::AddResource(req, "svc"), "ab", 1, 0, "op", 1000, 10);
  ASSERT_TRUE(testing::SubmitAndWait(**store, req).ok());
  (*store)->RunUpkeep();
  (*store)->StopWriters();
  EXPECT_EQ(testing::SubmitAndWait(**store, req).code(), absl::StatusCode::kUnavailable);
  (*store)->RunUpkeep();  // on the caller's thread once the writers have stopped
  auto trace = (*store)->GetTrace("", *common::ParseTraceIdHex("ab"));
  ASSERT_TRUE(trace.ok() && trace->has_value());
}

}  // namespace
}  // namespace skua::storage
