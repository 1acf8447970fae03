// Rows that cannot be decoded (bit rot, a bug, a format this build does not know) cost the spans
// they hold, never the rest of the store: lookups, searches, dependencies and the start (clean or
// after a crash) go on without them.

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <set>

#include "common/hash.h"
#include "model/values.h"
#include "storage/keys.h"
#include "storage/span_store.h"
#include "tests/testing/otlp_builders.h"
#include "tests/testing/store_helpers.h"

namespace skua::storage {
namespace {

// Upkeep only when the test asks for it (RunUpkeep) or commits run it, on the fake clock.
const SpanStore::WriterOptions kNoIdleUpkeep{.idle_upkeep_interval = std::chrono::milliseconds(0)};

namespace fs = std::filesystem;
using testing::AddResource;
using testing::AddSpan;
using testing::ExportRequest;

common::SystemClock clock_;

std::string TempDir(const std::string& name) {
  auto dir = fs::path(::testing::TempDir()) /
             (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
  fs::remove_all(dir);
  return dir.string();
}

// Overwrites, straight in the shard's RocksDB, the first chunk of trace "a1" and every index
// block of service "beta" with bytes no decoder accepts, and adds an index log row that is
// garbage.
void Corrupt(const std::string& dir) {
  std::string shard = (fs::path(dir) / "shard-000").string();
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), shard, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), shard, descriptors, &handles, &db).ok());
  const std::string garbage = "\xff\xff\xff\xff\x0f garbage \x80\x80";
  const std::string a1 = TracePrefix(*common::ParseTraceIdHex("a1"));
  const std::string beta = BlockPrefix(common::StableHash64("beta"));
  bool chunk_done = false;
  for (auto* cf : handles) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
    std::vector<std::string> keys;
    for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
    for (const auto& key : keys) {
      if (!chunk_done && key.starts_with(a1)) {
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, key, garbage).ok());
        chunk_done = true;
      }
      if (key.starts_with(beta)) {
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, key, garbage).ok());
      }
    }
  }
  EXPECT_TRUE(chunk_done);
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), IndexLogKey(uint64_t{1} << 40),
                      std::string(8, '\0') + garbage)
                  .ok());
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), IndexLogKey((uint64_t{1} << 40) + 1), "xy").ok());
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

std::set<std::string> Found(SpanStore& store, const std::string& service) {
  TraceQuery q;
  q.service = service;
  q.limit = 100;
  auto hits = store.FindTraces(q);
  EXPECT_TRUE(hits.ok()) << hits.status();
  std::set<std::string> out;
  if (hits.ok()) {
    for (const auto& h : *hits) out.insert(common::FormatTraceId32(h.trace_id));
  }
  return out;
}

// Everything but the corrupted rows answers as before.
void ExpectReadableAroundCorruption(const std::string& dir) {
  auto store = SpanStore::Open(testing::TestStorage(dir, 1), clock_, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok()) << store.status();
  SpanStore& s = **store;

  auto a1 = s.GetTrace("", *common::ParseTraceIdHex("a1"));
  ASSERT_TRUE(a1.ok()) << a1.status();
  ASSERT_TRUE(a1->has_value());
  ASSERT_EQ(testing::CountSpans(**a1), 1) << "the span of the intact chunk";
  const auto& span = (*a1)->resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(span.name(), "second");
  bool warned = false;
  for (const auto& kv : span.attributes()) {
    if (kv.key() == model::kWarningsAttribute) {
      warned = kv.value().array_value().values(0).string_value().find("could not be decoded") !=
               std::string::npos;
    }
  }
  EXPECT_TRUE(warned);

  auto c1 = s.GetTrace("", *common::ParseTraceIdHex("c1"));
  ASSERT_TRUE(c1.ok() && c1->has_value());
  EXPECT_EQ(testing::CountSpans(**c1), 2);

  EXPECT_EQ(Found(s, "gamma"),
            (std::set<std::string>{common::FormatTraceId32(*common::ParseTraceIdHex("c1"))}));
  EXPECT_TRUE(Found(s, "alpha").contains(common::FormatTraceId32(*common::ParseTraceIdHex("a1"))));
  Found(s, "beta");  // its blocks are unreadable: answers, whatever it finds
  Found(s, "");
  auto services = s.Services("");
  EXPECT_EQ(std::set<std::string>(services.begin(), services.end()),
            (std::set<std::string>{"alpha", "beta", "gamma"}));
  auto deps = s.Dependencies("", 0, INT64_MAX);
  bool gamma_calls_alpha = false;
  for (const auto& d : deps) gamma_calls_alpha |= d.parent == "gamma" && d.child == "alpha";
  EXPECT_TRUE(gamma_calls_alpha);
  EXPECT_GT(s.Stats().undecodable_rows, 0u);
}

TEST(UnreadableRowsTest, LookupsSearchesAndStartsGoOnWithoutThem) {
  std::string dir = TempDir("unreadable");
  std::string crashed = dir + "-crash";
  {
    auto store = SpanStore::Open(testing::TestStorage(dir, 1), clock_, kNoIdleUpkeep);
    ASSERT_TRUE(store.ok()) << store.status();
    // Recent spans: dependencies older than the retention are forgotten.
    const auto t = static_cast<uint64_t>(clock_.NowNanos()) - 60'000'000'000;
    ExportRequest first, second, third;
    AddSpan(AddResource(first, "alpha"), "a1", 1, 0, "first", t, 10);
    AddSpan(AddResource(second, "alpha"), "a1", 2, 1, "second", t + 1, 5);
    AddSpan(AddResource(second, "beta"), "b1", 3, 0, "b-op", t + 2, 5);
    auto* gamma = AddResource(third, "gamma");
    AddSpan(gamma, "c1", 4, 0, "c-root", t + 3, 50);
    AddSpan(AddResource(third, "alpha"), "c1", 5, 4, "c-child", t + 4, 5);
    testing::StoreRequest(**store, first);
    testing::StoreRequest(**store, second);
    testing::StoreRequest(**store, third);
    // The directory as a crash (kill -9) would leave it: the write-ahead log holds the index
    // entries that were never sealed.
    fs::copy(dir, crashed, fs::copy_options::recursive);
  }
  Corrupt(dir);
  ExpectReadableAroundCorruption(dir);
  ExpectReadableAroundCorruption(dir);  // and again after a clean stop

  Corrupt(crashed);
  ExpectReadableAroundCorruption(crashed);
}

}  // namespace
}  // namespace skua::storage
