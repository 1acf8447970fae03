// Tenants in one store: each sees only its own traces, services, operations and dependencies,
// whatever the others write (same service names, same trace IDs), live, after a clean restart
// and after a crash (replay of the index log); and each may be kept for its own retention.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "storage/partition.h"
#include "storage/span_store.h"
#include "tests/testing/otlp_builders.h"
#include "tests/testing/store_helpers.h"

namespace skua::storage {
namespace {

namespace fs = std::filesystem;
using testing::AddResource;
using testing::AddSpan;
using testing::AddStringAttr;
using testing::ExportRequest;

const SpanStore::WriterOptions kNoIdleUpkeep{.idle_upkeep_interval = std::chrono::milliseconds(0)};
constexpr int64_t kT0 = 1'700'000'000'000'000'000;

std::string TempDir(const std::string& name) {
  auto dir = fs::path(::testing::TempDir()) / fmt::format("{}-{}", name, ::getpid());
  fs::remove_all(dir);
  fs::remove_all(dir.string() + "-crash");
  return dir.string();
}

// The tenants of the test, "" (no tenancy) among them: the default store shares a directory
// with tenants.
const std::vector<std::string> kTenants = {"", "acme", "globex"};

// What tenant `t` writes: the same services (api calling db), operations and trace IDs as every
// other tenant, plus an operation, an attribute value and a trace of its own, so anything of
// another tenant in an answer shows.
ExportRequest RequestOf(const std::string& t, int64_t now) {
  auto start = static_cast<uint64_t>(now) - 60'000'000'000;
  std::string tag = t.empty() ? "none" : t;
  ExportRequest req;
  auto* api = AddResource(req, "api");
  auto* db = AddResource(req, "db");
  for (const std::string& trace : {std::string("5a4ed"), fmt::format("{:x}", 0x100 + t.size())}) {
    auto* root = AddSpan(api, trace, 1, 0, "GET /tasks", start, 100);
    AddStringAttr(root->mutable_attributes(), "owner", tag);
    AddSpan(api, trace, 2, 1, "only-" + tag, start + 1, 10);
    auto* call = AddSpan(db, trace, 3, 1, "SELECT", start + 2, 5);
    AddStringAttr(call->mutable_attributes(), "owner", tag);
  }
  return req;
}

// Every answer of the store for tenant `t` holds exactly what RequestOf(t) wrote.
void ExpectOnlyOwn(SpanStore& store, const std::string& t, const std::string& when) {
  SCOPED_TRACE(fmt::format("tenant '{}', {}", t, when));
  std::string tag = t.empty() ? "none" : t;
  EXPECT_EQ(store.Services(t), (std::vector<std::string>{"api", "db"}));
  std::set<std::string> ops;
  for (const auto& op : store.Operations(t, "api", "")) ops.insert(op.name);
  EXPECT_EQ(ops, (std::set<std::string>{"GET /tasks", "only-" + tag}));

  // The trace ID every tenant wrote: three spans, all this tenant's.
  auto shared = store.GetTrace(t, *common::ParseTraceIdHex("5a4ed"));
  ASSERT_TRUE(shared.ok()) << shared.status();
  ASSERT_TRUE(shared->has_value());
  EXPECT_EQ(testing::CountSpans(**shared), 3);
  for (const auto& rs : (*shared)->resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        for (const auto& kv : s.attributes()) {
          if (kv.key() == "owner") {
            EXPECT_EQ(kv.value().string_value(), tag);
          }
        }
      }
    }
  }
  // Another tenant's own trace is not found by ID.
  for (const auto& other : kTenants) {
    if (other == t) continue;
    auto theirs =
        store.GetTrace(t, *common::ParseTraceIdHex(fmt::format("{:x}", 0x100 + other.size())));
    ASSERT_TRUE(theirs.ok());
    EXPECT_FALSE(theirs->has_value()) << "trace of tenant '" << other << "'";
  }

  TraceQuery q;
  q.tenant = t;
  q.limit = 100;
  auto all = store.FindTraces(q);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 2u);
  for (const auto& other : kTenants) {
    q.tags = {{"owner", other.empty() ? "none" : other}};
    q.service = "db";
    auto hits = store.FindTraces(q);
    ASSERT_TRUE(hits.ok()) << hits.status();
    EXPECT_EQ(hits->size(), other == t ? 2u : 0u) << "owner=" << other;
  }

  auto links = store.Dependencies(t, kT0 - 3'600'000'000'000, kT0);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].parent, "api");
  EXPECT_EQ(links[0].child, "db");
  // The tenant's own two calls, each stored twice (dependency counts do not deduplicate
  // retried spans), and no one else's.
  EXPECT_EQ(links[0].call_count, 4u);
}

TEST(TenancyTest, TenantsSeeOnlyTheirOwnData) {
  common::FakeClock clock(kT0);
  std::string dir = TempDir("tenancy");
  std::string crashed = dir + "-crash";
  {
    auto store = SpanStore::Open(testing::TestStorage(dir, 2), clock, kNoIdleUpkeep);
    ASSERT_TRUE(store.ok()) << store.status();
    // Interleaved: the tenants' requests go through the same shard writers and open blocks.
    // The second round repeats every request (an exporter's retry): answers stay the same.
    for (int round = 0; round < 2; ++round) {
      for (const auto& t : kTenants) testing::StoreRequest(**store, RequestOf(t, kT0), t);
    }
    for (const auto& t : kTenants) ExpectOnlyOwn(**store, t, "live, unsealed");
    EXPECT_TRUE((*store)->Services("initech").empty());
    EXPECT_TRUE((*store)->Dependencies("initech", 0, kT0).empty());
    EXPECT_EQ((*store)->Tenants(), kTenants);
    // As a crash would leave the directory: the index entries only in the write-ahead log.
    fs::copy(dir, crashed, fs::copy_options::recursive);
  }
  for (const std::string& d : {dir, crashed}) {
    auto store = SpanStore::Open(testing::TestStorage(d, 2), clock, kNoIdleUpkeep);
    ASSERT_TRUE(store.ok()) << store.status();
    for (const auto& t : kTenants) {
      ExpectOnlyOwn(**store, t, d == dir ? "after a clean restart" : "after a crash");
    }
    EXPECT_EQ((*store)->Tenants(), kTenants);
  }
  fs::remove_all(dir);
  fs::remove_all(crashed);
}

TEST(TenancyTest, TenantRetentionOverride) {
  common::FakeClock clock(kT0);
  std::string dir = TempDir("tenancy-retention");
  config::StorageConfig c = testing::TestStorage(dir, 1);
  c.retention = std::chrono::hours(72);
  c.retention_overrides = {{"api", std::chrono::hours(720)}};
  c.tenant_retention_overrides = {{"trial", std::chrono::hours(1)}};
  auto store = SpanStore::Open(c, clock, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok()) << store.status();
  for (const std::string t : {"acme", "trial"}) {
    testing::StoreRequest(**store, RequestOf(t, kT0), t);
  }
  auto visible = [&](const std::string& t) {
    auto trace = (*store)->GetTrace(t, *common::ParseTraceIdHex("5a4ed"));
    return trace.ok() && trace->has_value();
  };
  clock.Advance(std::chrono::minutes(70));  // past an hour plus a partition width (5 min)
  (*store)->RunUpkeep();
  EXPECT_FALSE(visible("trial"));  // its override beats the per-service one
  EXPECT_TRUE((*store)->Services("trial").empty());
  EXPECT_TRUE(visible("acme"));
  clock.Advance(std::chrono::hours(80));
  (*store)->RunUpkeep();
  EXPECT_TRUE(visible("acme"));  // api is kept 720 h for tenants without an override
  store->reset();
  fs::remove_all(dir);
}

// Purge (a test facility) deletes every tenant's spans, index entries sealed or open, catalog and
// dependency counts, for good: nothing comes back at a restart, and writing goes on.
TEST(TenancyTest, PurgeDeletesEverythingOfEveryTenant) {
  common::FakeClock clock(kT0);
  std::string dir = TempDir("purge");
  auto gone = [](SpanStore& store) {
    for (const auto& t : kTenants) {
      SCOPED_TRACE(fmt::format("tenant '{}'", t));
      EXPECT_TRUE(store.Services(t).empty());
      EXPECT_TRUE(store.Dependencies(t, 0, kT0).empty());
      auto trace = store.GetTrace(t, *common::ParseTraceIdHex("5a4ed"));
      ASSERT_TRUE(trace.ok());
      EXPECT_FALSE(trace->has_value());
      TraceQuery q;
      q.tenant = t;
      auto hits = store.FindTraces(q);
      ASSERT_TRUE(hits.ok());
      EXPECT_TRUE(hits->empty());
    }
  };
  {
    auto store = SpanStore::Open(testing::TestStorage(dir, 2), clock, kNoIdleUpkeep);
    ASSERT_TRUE(store.ok()) << store.status();
    for (const auto& t : kTenants) testing::StoreRequest(**store, RequestOf(t, kT0), t);
    // Some index entries sealed, some still open.
    clock.Advance(std::chrono::minutes(1));
    (*store)->RunUpkeep();
    testing::StoreRequest(**store, RequestOf("acme", kT0), "acme");
    ASSERT_TRUE((*store)->Purge().ok());
    gone(**store);
    EXPECT_TRUE((*store)->Tenants().empty());
    for (int round = 0; round < 2; ++round) {  // twice, as ExpectOnlyOwn expects
      testing::StoreRequest(**store, RequestOf("globex", kT0), "globex");
    }
    ExpectOnlyOwn(**store, "globex", "written after the purge");
  }
  auto store = SpanStore::Open(testing::TestStorage(dir, 2), clock, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->Services("acme").empty());
  EXPECT_TRUE((*store)->Services("").empty());
  ASSERT_TRUE((*store)->Purge().ok());
  gone(**store);
  store->reset();
  fs::remove_all(dir);
}

TEST(TenancyTest, PartitionNamesCarryTheTenant) {
  EXPECT_EQ(PartitionName("", 3600, 300, 600), "r3600-w300-p600");
  EXPECT_EQ(PartitionName("a-b", 3600, 300, 600), "t612d62-r3600-w300-p600");
  for (const std::string t : {"", "acme", "A.b_c-d!*'()", "x"}) {
    auto p = ParsePartitionName(PartitionName(t, 86400, 7200, 14400));
    ASSERT_TRUE(p.has_value()) << t;
    EXPECT_EQ(p->tenant, t);
    EXPECT_EQ(p->retention_s, 86400);
    EXPECT_EQ(p->start_s, 14400);
  }
  for (const std::string bad :
       {"t-r1-w1-p0", "t6-r1-w1-p0", "tzz-r1-w1-p0", "t61r1-w1-p0", "t61-r1-w1", "T61-r1-w1-p0"}) {
    EXPECT_FALSE(ParsePartitionName(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace skua::storage
