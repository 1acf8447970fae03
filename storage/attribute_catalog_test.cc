// The attribute catalog: what autocomplete offers, on its own (bounds, truncation, rows) and in
// a store (levels, counts, tenants, restart, expiry with the partitions, purge).

#include "storage/attribute_catalog.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "storage/index.h"
#include "storage/span_store.h"
#include "storage/span_terms.h"
#include "tests/testing/otlp_builders.h"
#include "tests/testing/store_helpers.h"

namespace skua::storage {
namespace {

using filter::Level;
using testing::AddResource;
using testing::AddSpan;
using testing::AddStringAttr;
using testing::ExportRequest;

constexpr int64_t kT0 = 1'700'000'000'000'000'000;
const SpanStore::WriterOptions kNoIdleUpkeep{.idle_upkeep_interval = std::chrono::milliseconds(0)};

std::vector<std::string> KeyNames(const std::vector<AttributeKeyCount>& keys) {
  std::vector<std::string> out;
  for (const auto& k : keys)
    out.push_back(fmt::format("{}:{}={}", static_cast<int>(k.level), k.key, k.count));
  return out;
}

std::vector<std::string> ValueNames(const AttributeValues& v) {
  std::vector<std::string> out;
  for (const auto& x : v.values) out.push_back(fmt::format("{}={}", x.value, x.count));
  return out;
}

// The term hash is persisted in sealed blocks: splitting it in two steps must not change it.
TEST(TermHashTest, StableAcrossTheTwoStepForm) {
  EXPECT_EQ(TermHash("http.method", "GET"), 11905128818094406814ULL);
  EXPECT_EQ(TermHash("", ""), 4114531071043816375ULL);
  EXPECT_EQ(TermHash("a.long.attribute.key", "a value longer than eight bytes"),
            5090474044099967152ULL);
  EXPECT_EQ(TermHashFrom(TermKeyState("http.method"), "GET"), TermHash("http.method", "GET"));
  EXPECT_EQ(KeyId("t", "svc", Level::kSpan, "k"),
            KeyIdFrom(ServiceIdentity("t", "svc"), Level::kSpan, TermKeyState("k")));
}

IndexBatch BatchOf(const ExportRequest& req, std::shared_ptr<const TruncatedKeys> truncated = {}) {
  IndexBatchBuilder b("", std::move(truncated));
  for (const auto& ref : testing::RefsOf(req)) b.Add(ref);
  return b.Finish();
}

TEST(AttributeCatalogTest, KeepsTheMostFrequentValuesAndMarksTheKeyTruncated) {
  AttributeCatalog::Limits limits;
  limits.values_per_key = 4;
  AttributeCatalog catalog(limits);
  ExportRequest req;
  auto* ss = AddResource(req, "svc");
  uint64_t id = 1;
  // "hot" on 50 spans, "warm" on 20, then 30 values seen once each.
  auto span = [&](const std::string& v) {
    auto* s = AddSpan(ss, "0af7651916cd43dd8448eb211c80319c", id++, 0, "op", kT0, 10);
    AddStringAttr(s->mutable_attributes(), "user", v);
  };
  for (int i = 0; i < 50; ++i) span("hot");
  for (int i = 0; i < 20; ++i) span("warm");
  for (int i = 0; i < 30; ++i) span(fmt::format("rare-{}", i));
  catalog.Add(BatchOf(req), kT0 / 1'000'000'000);

  AttributeQuery q;
  q.key = "user";
  auto v = catalog.ValuesOf(q);
  ASSERT_GE(v.values.size(), 2u);
  EXPECT_LE(v.values.size(), 2 * limits.values_per_key);
  EXPECT_EQ(v.values[0].value, "hot");
  EXPECT_EQ(v.values[0].count, 50u);
  EXPECT_EQ(v.values[1].value, "warm");
  EXPECT_TRUE(v.truncated);
  EXPECT_TRUE(catalog.Truncated()->contains(KeyId("", "svc", Level::kSpan, "user")));
  // The key itself is counted exactly, whatever happened to its values.
  q.key.clear();
  q.level = Level::kSpan;
  EXPECT_EQ(KeyNames(catalog.Keys(q)), std::vector<std::string>{"1:user=100"});
}

TEST(AttributeCatalogTest, TruncatedKeysAreSampledOnTheWritePathAndScaledBack) {
  auto truncated = std::make_shared<TruncatedKeys>();
  truncated->insert(KeyId("", "svc", Level::kSpan, "user"));
  ExportRequest req;
  auto* ss = AddResource(req, "svc");
  for (uint64_t id = 1; id <= 4096; ++id) {
    auto* s = AddSpan(ss, "0af7651916cd43dd8448eb211c80319c", id * 7919, 0, "op", kT0, 10);
    AddStringAttr(s->mutable_attributes(), "user", "u");
    AddStringAttr(s->mutable_attributes(), "other", "o");
  }
  IndexBatch batch = BatchOf(req, truncated);
  uint64_t user = 0, other = 0;
  for (const auto& o : batch.attributes) {
    if (o.key == "user") user += o.count;
    if (o.key == "other") other += o.count;
  }
  EXPECT_EQ(other, 4096u);
  EXPECT_EQ(user % AttributeCatalog::kSampleEvery, 0u);
  EXPECT_GT(user, 4096u / 2);  // about 4096: a sixteenth of the spans, each counting 16
  EXPECT_LT(user, 4096u * 2);
}

TEST(AttributeCatalogTest, LongAndStructuredValuesAreNotKeptButTheirKeysAre) {
  AttributeCatalog catalog;
  ExportRequest req;
  auto* s =
      AddSpan(AddResource(req, "svc"), "0af7651916cd43dd8448eb211c80319c", 1, 0, "op", kT0, 10);
  AddStringAttr(s->mutable_attributes(), "db.statement", std::string(500, 'x'));
  auto* arr = s->add_attributes();
  arr->set_key("list");
  arr->mutable_value()->mutable_array_value()->add_values()->set_int_value(1);
  auto* n = s->add_attributes();
  n->set_key("http.status_code");
  n->mutable_value()->set_int_value(200);
  catalog.Add(BatchOf(req), 1);
  AttributeQuery q;
  q.level = Level::kSpan;
  EXPECT_EQ(catalog.Keys(q).size(), 3u);
  q.key = "db.statement";
  EXPECT_TRUE(catalog.ValuesOf(q).values.empty());
  q.key = "list";
  EXPECT_TRUE(catalog.ValuesOf(q).values.empty());
  q.key = "http.status_code";
  auto v = catalog.ValuesOf(q);
  ASSERT_EQ(v.values.size(), 1u);
  EXPECT_EQ(v.values[0].value, "200");
  EXPECT_EQ(v.values[0].type, opentelemetry::proto::common::v1::AnyValue::kIntValue);
}

TEST(AttributeCatalogTest, BoundedInKeysAndValues) {
  AttributeCatalog::Limits limits;
  limits.keys_per_service = 10;
  limits.max_entries = 25;
  AttributeCatalog catalog(limits);
  ExportRequest req;
  auto* s =
      AddSpan(AddResource(req, "svc"), "0af7651916cd43dd8448eb211c80319c", 1, 0, "op", kT0, 10);
  for (int i = 0; i < 100; ++i) AddStringAttr(s->mutable_attributes(), fmt::format("k{}", i), "v");
  catalog.Add(BatchOf(req), 1);
  AttributeQuery q;
  q.limit = 1000;
  EXPECT_LE(catalog.Keys(q).size(), 10u + 2);  // and service.name, host.name of the resource
  EXPECT_LE(catalog.EntryCount(), 25u);
  // Many services, long keys: still within the bound.
  for (int i = 0; i < 50; ++i) {
    ExportRequest more;
    auto* m = AddSpan(AddResource(more, fmt::format("svc-{}", i)),
                      "0af7651916cd43dd8448eb211c80319c", 1, 0, "op", kT0, 10);
    AddStringAttr(m->mutable_attributes(), std::string(200, 'k'), "v");
    AddStringAttr(m->mutable_attributes(), fmt::format("k{}", i), fmt::format("v{}", i));
    catalog.Add(BatchOf(more), 1);
  }
  EXPECT_LE(catalog.EntryCount(), 25u);
  AttributeQuery all;
  all.limit = 1000;
  all.prefix = "kkkk";
  EXPECT_TRUE(catalog.Keys(all).empty()) << "a 200-byte key is not kept";
}

TEST(AttributeCatalogTest, RowsRoundTripAndGarbageIsRefused) {
  AttributeCatalog a;
  ExportRequest req;
  auto* s =
      AddSpan(AddResource(req, "svc"), "0af7651916cd43dd8448eb211c80319c", 1, 0, "op", kT0, 10);
  AddStringAttr(s->mutable_attributes(), "k", "v");
  a.Add(BatchOf(req), 5);
  AttributeCatalog b;
  int rows = 0;
  a.Dirty([&](std::string_view key, std::string_view value) {
    ++rows;
    EXPECT_TRUE(b.Load(key, value).ok());
    for (size_t cut = 0; cut < value.size(); ++cut) {
      AttributeCatalog c;
      EXPECT_FALSE(c.Load(key, value.substr(0, cut)).ok()) << cut;
    }
  });
  EXPECT_EQ(rows, 1);
  AttributeQuery q;
  q.limit = 1000;
  EXPECT_EQ(KeyNames(a.Keys(q)), KeyNames(b.Keys(q)));
  q.key = "k";
  EXPECT_EQ(ValueNames(a.ValuesOf(q)), ValueNames(b.ValuesOf(q)));
  a.Dirty([&](std::string_view, std::string_view) { ++rows; });
  EXPECT_EQ(rows, 1) << "nothing changed since";
  EXPECT_FALSE(b.Load("no-separator", "").ok());
}

class AttributeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           fmt::format("attributes-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open(config::StorageConfig c = testing::TestStorage("", 2)) {
    store_.reset();
    c.path = dir_.string();
    auto s = SpanStore::Open(c, clock_, kNoIdleUpkeep);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  // Spans of `service`, one per value, with a span, an event and a link attribute each.
  void Write(const std::string& service, const std::vector<std::string>& values,
             const std::string& tenant = "") {
    ExportRequest req;
    auto* ss = AddResource(req, service);
    AddStringAttr(req.mutable_resource_spans(0)->mutable_resource()->mutable_attributes(),
                  "deployment.environment", "prod");
    for (const auto& v : values) {
      ++next_;
      auto* s = AddSpan(ss, fmt::format("{:032x}", next_), 1, 0, "op", clock_.NowNanos(), 10);
      AddStringAttr(s->mutable_attributes(), "http.route", v);
      auto* e = s->add_events();
      e->set_name("exception");
      AddStringAttr(e->mutable_attributes(), "exception.type", "Timeout");
      auto* l = s->add_links();
      l->set_trace_id(testing::TraceIdBytes("0af7651916cd43dd8448eb211c80319c"));
      l->set_span_id(testing::SpanIdBytes(9));
      AddStringAttr(l->mutable_attributes(), "link.reason", "retry");
    }
    testing::StoreRequest(*store_, req, tenant);
  }
  AttributeValues Values(const std::string& key, const std::string& service = "",
                         const std::string& tenant = "") {
    AttributeQuery q;
    q.tenant = tenant;
    q.service = service;
    q.key = key;
    return store_->AttributeValuesOf(q);
  }

  std::filesystem::path dir_;
  common::FakeClock clock_{kT0};
  std::unique_ptr<SpanStore> store_;
  uint64_t next_ = 0;
};

TEST_F(AttributeStoreTest, KeysByLevelAndValuesByFrequency) {
  Open();
  Write("api", {"/tasks", "/tasks", "/tasks", "/users"});
  Write("db", {"/query"});
  AttributeQuery q;
  q.service = "api";
  q.limit = 100;
  auto keys = store_->AttributeKeys(q);
  std::map<std::string, std::pair<int, uint64_t>> by_key;
  for (const auto& k : keys) by_key[k.key] = {static_cast<int>(k.level), k.count};
  EXPECT_EQ(by_key["http.route"], std::make_pair(static_cast<int>(Level::kSpan), uint64_t{4}));
  EXPECT_EQ(by_key["exception.type"], std::make_pair(static_cast<int>(Level::kEvent), uint64_t{4}));
  EXPECT_EQ(by_key["link.reason"], std::make_pair(static_cast<int>(Level::kLink), uint64_t{4}));
  // Resource attributes count once per span exported under them.
  EXPECT_EQ(by_key["deployment.environment"],
            std::make_pair(static_cast<int>(Level::kResource), uint64_t{4}));
  EXPECT_EQ(by_key["service.name"],
            std::make_pair(static_cast<int>(Level::kResource), uint64_t{4}));

  EXPECT_EQ(ValueNames(Values("http.route", "api")),
            (std::vector<std::string>{"/tasks=3", "/users=1"}));
  EXPECT_EQ(ValueNames(Values("http.route")),
            (std::vector<std::string>{"/tasks=3", "/query=1", "/users=1"}));
  AttributeQuery p;
  p.key = "http.route";
  p.prefix = "/u";
  EXPECT_EQ(ValueNames(store_->AttributeValuesOf(p)), std::vector<std::string>{"/users=1"});
  p.prefix.clear();
  p.limit = 1;
  EXPECT_EQ(ValueNames(store_->AttributeValuesOf(p)), std::vector<std::string>{"/tasks=3"});
  p.level = Level::kResource;
  EXPECT_TRUE(store_->AttributeValuesOf(p).values.empty()) << "http.route is a span attribute";
  q.prefix = "exc";
  EXPECT_EQ(store_->AttributeKeys(q).size(), 1u);
}

TEST_F(AttributeStoreTest, TenantsSeeOnlyTheirOwn) {
  Open();
  Write("api", {"/a"}, "t1");
  Write("api", {"/b"}, "t2");
  EXPECT_EQ(ValueNames(Values("http.route", "", "t1")), std::vector<std::string>{"/a=1"});
  EXPECT_EQ(ValueNames(Values("http.route", "", "t2")), std::vector<std::string>{"/b=1"});
  EXPECT_TRUE(Values("http.route").values.empty());
}

TEST_F(AttributeStoreTest, SurvivesARestart) {
  Open();
  Write("api", {"/tasks", "/tasks", "/users"});
  Open();  // a clean close writes the catalog
  EXPECT_EQ(ValueNames(Values("http.route")), (std::vector<std::string>{"/tasks=2", "/users=1"}));
  Write("api", {"/users", "/users"});
  EXPECT_EQ(ValueNames(Values("http.route")), (std::vector<std::string>{"/users=3", "/tasks=2"}));
}

TEST_F(AttributeStoreTest, ExpiresWithThePartitionsOfItsRetention) {
  auto c = testing::TestStorage("", 1);
  c.retention = std::chrono::hours(1);  // partitions of 5 minutes
  Open(c);
  Write("api", {"/old"});
  clock_.Advance(std::chrono::minutes(30));
  Write("api", {"/new"});
  clock_.Advance(std::chrono::minutes(40));  // /old is 70 min old, /new 40
  store_->RunUpkeep();
  EXPECT_EQ(ValueNames(Values("http.route")), std::vector<std::string>{"/new=1"});
  Open(c);
  EXPECT_EQ(ValueNames(Values("http.route")), std::vector<std::string>{"/new=1"});
  clock_.Advance(std::chrono::minutes(30));
  store_->RunUpkeep();
  EXPECT_TRUE(Values("http.route").values.empty());
  AttributeQuery q;
  EXPECT_TRUE(store_->AttributeKeys(q).empty());
}

TEST_F(AttributeStoreTest, PurgeForgetsEverything) {
  Open();
  Write("api", {"/tasks"});
  ASSERT_TRUE(store_->Purge().ok());
  EXPECT_TRUE(Values("http.route").values.empty());
  Open();
  EXPECT_TRUE(Values("http.route").values.empty());
}

}  // namespace
}  // namespace skua::storage
