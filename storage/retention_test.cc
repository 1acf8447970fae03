// Retention by time partitions, per-service overrides and the disk cap, on a fake clock.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "storage/partition.h"
#include "storage/rocks_options.h"
#include "storage/span_store.h"
#include "tests/testing/otlp_builders.h"
#include "tests/testing/store_helpers.h"

namespace skua::storage {
namespace {

// Upkeep only when the test asks for it (RunUpkeep) or commits run it, on the fake clock.
const SpanStore::WriterOptions kNoIdleUpkeep{.idle_upkeep_interval = std::chrono::milliseconds(0)};

using testing::AddResource;
using testing::AddSpan;
using testing::ExportRequest;

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           fmt::format("retention-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open(config::StorageConfig c) {
    store_.reset();
    c.path = dir_.string();
    auto s = SpanStore::Open(c, clock_, kNoIdleUpkeep);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  // One span of `service` in trace `trace_hex`, started now, plus `padding` bytes of attribute.
  void Write(const std::string& service, const std::string& trace_hex, size_t padding = 0) {
    ExportRequest req;
    auto* span = AddSpan(AddResource(req, service), trace_hex, 1, 0, "op", clock_.NowNanos(), 10);
    if (padding > 0) {
      // Incompressible, so the bytes reach the disk.
      std::string pad(padding, ' ');
      for (auto& ch : pad) ch = static_cast<char>('!' + rng_() % 90);
      testing::AddStringAttr(span->mutable_attributes(), "pad", pad);
    }
    testing::StoreRequest(*store_, req);
  }

  bool Visible(const std::string& trace_hex) {
    auto t = store_->GetTrace("", *common::ParseTraceIdHex(trace_hex));
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() && t->has_value();
  }

  size_t Found(const std::string& service) {
    TraceQuery q;
    q.service = service;
    q.limit = 1000;
    auto hits = store_->FindTraces(q);
    EXPECT_TRUE(hits.ok()) << hits.status();
    return hits.ok() ? hits->size() : 0;
  }

  void MaintainAll() { store_->RunUpkeep(); }

  std::filesystem::path dir_;
  common::FakeClock clock_{kT0};
  std::mt19937_64 rng_{42};
  std::unique_ptr<SpanStore> store_;
};

TEST_F(RetentionTest, PartitionWidthAdaptsToRetention) {
  EXPECT_EQ(PartitionWidthSeconds(72 * 3600), 6 * 3600);
  EXPECT_EQ(PartitionWidthSeconds(3600), 300);
  EXPECT_EQ(PartitionWidthSeconds(6), 1);
  EXPECT_EQ(PartitionWidthSeconds(1), 1);
  EXPECT_EQ(PartitionWidthSeconds(10LL * 365 * 86400), 86400);
}

TEST_F(RetentionTest, ExpiredSpansDisappearFromEveryQuery) {
  config::StorageConfig c;
  c.shards = 2;
  c.retention = std::chrono::seconds(60);  // partitions of 5 s
  Open(c);
  Write("svc", "a1");
  EXPECT_TRUE(Visible("a1"));
  EXPECT_EQ(Found("svc"), 1u);
  clock_.Advance(std::chrono::seconds(30));
  Write("svc", "a2");
  MaintainAll();
  EXPECT_TRUE(Visible("a1"));
  // a1's partition [t0, t0+5) ends before now - 60 once now >= t0 + 65.
  clock_.Advance(std::chrono::seconds(36));
  EXPECT_FALSE(Visible("a1")) << "expired data must not answer, even before it is dropped";
  EXPECT_TRUE(Visible("a2"));
  MaintainAll();
  EXPECT_EQ(store_->Stats().partitions_dropped_retention, 1u);
  EXPECT_FALSE(Visible("a1"));
  EXPECT_EQ(Found("svc"), 1u);
  clock_.Advance(std::chrono::seconds(40));
  MaintainAll();
  EXPECT_FALSE(Visible("a2"));
  EXPECT_EQ(Found("svc"), 0u);
  // After a restart the partitions are gone, not misread.
  Open(c);
  EXPECT_FALSE(Visible("a1"));
  EXPECT_FALSE(Visible("a2"));
  Write("svc", "a3");
  EXPECT_TRUE(Visible("a3"));
}

// The compactor thread marks a partition finished while the writer thread may be dropping it. A
// write to a dropped column family must not leave the database refusing every later write.
TEST_F(RetentionTest, AWriteToADroppedPartitionLeavesTheDatabaseWritable) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, dir_.string(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "p", &cf).ok());
  ASSERT_TRUE(db->DropColumnFamily(cf).ok());
  EXPECT_TRUE(db->Put(WriteThatMayOutliveItsPartition(), cf, "marker", "").ok());
  EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), "after", "v").ok())
      << "the database must still take writes";
  ASSERT_TRUE(db->DestroyColumnFamilyHandle(cf).ok());
}

// The bound on arrival time says what ExpiredAt says of the partition holding the arrival.
TEST(PartitionExpiryTest, ArrivalBoundAgreesWithThePartitionsRule) {
  for (int64_t retention : {1, 6, 3600, 72 * 3600}) {
    int64_t width = PartitionWidthSeconds(retention);
    for (int64_t now = kT0 / 1'000'000'000; now < kT0 / 1'000'000'000 + 3 * width; now += 7) {
      for (int64_t t = now - retention - 3 * width; t <= now;
           t += std::max<int64_t>(1, width / 5)) {
        Partition p;
        p.retention_s = retention;
        p.width_s = width;
        p.start_s = t - t % width;
        EXPECT_EQ(t < ExpiredArrivalsBefore(retention, now), p.ExpiredAt(now))
            << retention << " " << now << " " << t;
      }
    }
  }
}

TEST_F(RetentionTest, PerServiceOverridesAreHonoured) {
  config::StorageConfig c;
  c.shards = 1;
  c.retention = std::chrono::seconds(60);
  c.retention_overrides = {{"checkout", std::chrono::seconds(3600)},
                           {"healthcheck", std::chrono::seconds(12)}};
  Open(c);
  Write("web", "b1");
  Write("checkout", "b2");
  Write("healthcheck", "b3");
  clock_.Advance(std::chrono::seconds(20));
  MaintainAll();
  EXPECT_TRUE(Visible("b1"));
  EXPECT_TRUE(Visible("b2"));
  EXPECT_FALSE(Visible("b3"));
  EXPECT_EQ(Found("healthcheck"), 0u);
  clock_.Advance(std::chrono::seconds(60));
  MaintainAll();
  EXPECT_FALSE(Visible("b1"));
  EXPECT_EQ(Found("web"), 0u);
  EXPECT_TRUE(Visible("b2"));
  EXPECT_EQ(Found("checkout"), 1u);
  clock_.Advance(std::chrono::seconds(3600 + 300));  // checkout's partitions are 5 min wide
  MaintainAll();
  EXPECT_FALSE(Visible("b2"));
}

// Services and operations are listed while some partition holds their spans, and no longer.
TEST_F(RetentionTest, ServicesAndOperationsExpireWithTheirSpans) {
  config::StorageConfig c;
  c.shards = 2;
  c.retention = std::chrono::seconds(60);  // partitions of 5 s
  c.retention_overrides = {{"checkout", std::chrono::seconds(3600)}};
  Open(c);
  Write("web", "e1");
  Write("checkout", "e2");
  clock_.Advance(std::chrono::seconds(30));
  Write("web", "e3");  // a second partition holding web
  using Names = std::vector<std::string>;
  EXPECT_EQ(store_->Services(""), (Names{"checkout", "web"}));
  clock_.Advance(std::chrono::seconds(36));
  MaintainAll();  // drops the first partition of web; e3 keeps web listed
  EXPECT_EQ(store_->Services(""), (Names{"checkout", "web"}));
  EXPECT_EQ(store_->Operations("", "web", "").size(), 1u);
  Open(c);  // the catalog is rebuilt from the partitions left
  EXPECT_EQ(store_->Services(""), (Names{"checkout", "web"}));
  clock_.Advance(std::chrono::seconds(40));
  MaintainAll();
  EXPECT_EQ(store_->Services(""), (Names{"checkout"}));
  EXPECT_TRUE(store_->Operations("", "web", "").empty());
  Open(c);
  EXPECT_EQ(store_->Services(""), (Names{"checkout"}));
  EXPECT_EQ(store_->Operations("", "checkout", "").size(), 1u);
}

TEST_F(RetentionTest, ClosedPartitionsGetTheirIndexBlocksMerged) {
  config::StorageConfig c;
  c.shards = 1;
  c.retention = std::chrono::seconds(3600);  // partitions of 5 min
  Open(c);
  clock_.Advance(std::chrono::seconds(300 - clock_.NowNanos() / 1'000'000'000 % 300));
  // Eight sealed blocks of "svc" in one partition (a seal every 31 s).
  for (int i = 0; i < 8; ++i) {
    Write("svc", fmt::format("c{:03x}", i));
    clock_.Advance(std::chrono::seconds(31));
    MaintainAll();
  }
  EXPECT_EQ(store_->Stats().index_blocks_merged, 0u) << "the partition is still written to";
  clock_.Advance(std::chrono::seconds(300));
  Write("svc", "d001");  // the next partition; the first one is closed once this is sealed
  clock_.Advance(std::chrono::seconds(31));
  MaintainAll();
  MaintainAll();
  EXPECT_EQ(store_->Stats().index_blocks_merged, 8u);
  EXPECT_EQ(Found("svc"), 9u);
  // The compactor thread then rewrites the partition with dictionary compression and marks it.
  for (int i = 0; i < 600 && store_->Stats().partitions_finished == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(store_->Stats().partitions_finished, 1u);
  EXPECT_TRUE(Visible("c000"));
  EXPECT_EQ(Found("svc"), 9u);
  // Marked finished: a restart neither merges nor recompresses it again.
  Open(c);
  MaintainAll();
  EXPECT_EQ(store_->Stats().index_blocks_merged, 0u);
  EXPECT_EQ(store_->Stats().partitions_finished, 0u);
  EXPECT_EQ(Found("svc"), 9u);
}

TEST_F(RetentionTest, DiskCapDropsTheOldestPartitionsFirst) {
  config::StorageConfig c;
  c.shards = 1;
  c.retention = std::chrono::seconds(12 * 3600);  // partitions of one hour
  Open(c);
  // Six hours of data, ~1 MB an hour, each flushed to its own files.
  for (int h = 0; h < 6; ++h) {
    for (int i = 0; i < 40; ++i) Write("svc", fmt::format("{:x}{:04x}", h + 1, i), 25000);
    clock_.Advance(std::chrono::hours(1));
  }
  c.max_disk_bytes = 3 << 20;
  Open(c);  // a clean close flushed everything; the cap applies at start
  EXPECT_GT(store_->Stats().partitions_dropped_disk_cap, 0u);
  EXPECT_LE(store_->Stats().disk_bytes, c.max_disk_bytes);
  EXPECT_FALSE(Visible("10000")) << "the oldest hour goes first";
  EXPECT_TRUE(Visible("60027")) << "the newest hour stays";
}

}  // namespace
}  // namespace skua::storage
