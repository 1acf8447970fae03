// The small parts a shard is built from, on their own: the open index's sealing policy and
// search, and the compactor's queue and record of finished partitions.

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>

#include "storage/compactor.h"
#include "storage/open_index.h"

namespace skua::storage {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSecond;

// A batch of `n` entries of `service`, traces 1..n, starting at kT0.
IndexBatch Batch(const std::string& service, int n) {
  IndexBatch b;
  b.strings = {service, "op"};
  b.origins.push_back({7, {}});
  for (int i = 0; i < n; ++i) {
    IndexBatch::Entry e;
    e.trace_id.bytes[15] = static_cast<uint8_t>(i + 1);
    e.span_id = static_cast<uint64_t>(i + 1);
    e.start_ns = kT0 + i;
    e.service = 0;
    e.operation = 1;
    b.entries.push_back(e);
  }
  return b;
}

TEST(OpenIndexTest, SealsWhenOldEnoughOrInANewPeriodOrForced) {
  OpenIndex index;
  OpenIndex::SealPolicy policy{30 * kSecond, {3600}};
  EXPECT_FALSE(index.SealIfDue(true, kT0, policy).has_value());  // nothing open
  IndexBatch a = Batch("web", 3), b = Batch("db", 2);
  index.Apply({{&a, 5}, {&b, 6}}, kT0);
  EXPECT_FALSE(index.SealIfDue(false, kT0 + 10 * kSecond, policy).has_value());
  EXPECT_TRUE(index.SealIfDue(false, kT0 + 30 * kSecond, policy).has_value());    // old
  EXPECT_TRUE(index.SealIfDue(false, kT0 + 3600 * kSecond, policy).has_value());  // new period
  auto sealing = index.SealIfDue(true, kT0, policy);
  ASSERT_TRUE(sealing.has_value());
  EXPECT_EQ(sealing->through_seq, 6u);
  EXPECT_EQ(sealing->oldest_arrival_s, kT0 / kSecond);
  std::set<std::string> services;
  for (const auto& block : sealing->blocks) services.insert(block.service);
  EXPECT_EQ(services, (std::set<std::string>{"db", "web"}));
  // Open (and searched) until Sealed().
  EXPECT_FALSE(index.NothingOpenBefore(kT0 / kSecond + 1));
  index.Sealed();
  EXPECT_TRUE(index.NothingOpenBefore(kT0 / kSecond + 1));
  EXPECT_FALSE(index.SealIfDue(true, kT0, policy).has_value());
}

TEST(OpenIndexTest, SearchesItsOpenBlocksByService) {
  OpenIndex index;
  IndexBatch a = Batch("web", 3), b = Batch("db", 2);
  index.Apply({{&a, 1}, {&b, 2}}, kT0);
  TraceQuery q;
  q.limit = 10;
  Hits all;
  index.Search(q, all);
  EXPECT_EQ(all.best.size(), 3u);  // traces 1..3 (db's two share traces 1 and 2)
  q.service = "db";
  Hits db;
  index.Search(q, db);
  EXPECT_EQ(db.best.size(), 2u);
}

TEST(CompactorTest, FinishesEachQueuedPartitionOnceAndStops) {
  std::mutex mu;
  std::multiset<std::string> finished;
  std::promise<void> two_done;
  std::atomic<int> count{0};
  Compactor compactor(
      0,
      [&](const Partition& p) {
        {
          std::lock_guard lock(mu);
          finished.insert(p.name);
        }
        if (++count == 2) two_done.set_value();
        return absl::OkStatus();
      },
      [](const std::string&) { return true; });
  Partition a, b;
  a.name = "r1-w1-p1";
  b.name = "r1-w1-p2";
  EXPECT_FALSE(compactor.Handled(a.name));
  compactor.Enqueue(a);
  compactor.Enqueue(a);  // already queued: once
  compactor.Enqueue(b);
  EXPECT_TRUE(compactor.Handled(a.name));
  two_done.get_future().wait();
  compactor.MarkFinished(a.name);
  EXPECT_TRUE(compactor.Handled(a.name));
  compactor.Forget(a.name);
  EXPECT_FALSE(compactor.Handled(a.name));
  bool interrupted = false;
  compactor.Stop([&] { interrupted = true; });
  EXPECT_TRUE(interrupted);  // the thread ran
  compactor.Enqueue(a);      // after the stop: refused
  std::lock_guard lock(mu);
  EXPECT_EQ(finished, (std::multiset<std::string>{"r1-w1-p1", "r1-w1-p2"}));
}

}  // namespace
}  // namespace skua::storage
