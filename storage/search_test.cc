// Differential test of the search index: random spans, random queries; FindTraces must return
// exactly what a naive scan over the generated spans returns — with the index in open blocks,
// in sealed blocks, in a mix of both, and after a reopen that replays the index log.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "storage/index.h"
#include "storage/span_store.h"
#include "tests/testing/otlp_builders.h"
#include "tests/testing/store_helpers.h"

namespace skua::storage {
namespace {

// Upkeep only when the test asks for it (RunUpkeep) or commits run it, on the fake clock.
const SpanStore::WriterOptions kNoIdleUpkeep{.idle_upkeep_interval = std::chrono::milliseconds(0)};

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
using testing::ExportRequest;

constexpr int64_t kT0 = 1'700'000'000'000'000'000;  // ns
constexpr int64_t kWindow = 2 * 3600 * 1'000'000'000LL;

// One span as the test knows it, independent of how storage derives terms.
struct TestSpan {
  common::TraceId trace;
  std::string service, op;
  int64_t start, duration;
  std::set<std::pair<std::string, std::string>> terms;
};

struct Dataset {
  std::vector<ExportRequest> requests;
  std::vector<TestSpan> spans;
};

const char* const kServices[] = {"api", "db", "cache", "auth", "queue"};
const char* const kKinds[] = {"internal", "server", "client", "producer", "consumer"};

Dataset Generate(uint64_t seed, int traces, int traces_per_request) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  Dataset d;
  for (int t = 0; t < traces; ++t) {
    if (t % traces_per_request == 0) d.requests.emplace_back();
    ExportRequest& req = d.requests.back();
    auto trace_hex = fmt::format("{:x}{:08x}", seed, t + 1);
    auto trace = *common::ParseTraceIdHex(trace_hex);
    int n = 1 + pick(8);
    int64_t base = kT0 + static_cast<int64_t>(rng() % static_cast<uint64_t>(kWindow));
    for (int i = 0; i < n; ++i) {
      TestSpan ts;
      ts.trace = trace;
      ts.service = kServices[pick(5)];
      ts.op = fmt::format("op-{}", pick(6));
      // Coarse starts so that equal start times (ties) occur.
      ts.start = base + pick(20) * 1'000'000'000LL;
      ts.duration = pick(4) == 0 ? 0 : static_cast<int64_t>(rng() % 3'000'000'000ULL);
      std::string host = fmt::format("host-{}", pick(3));
      auto* rs = req.add_resource_spans();
      testing::AddStringAttr(rs->mutable_resource()->mutable_attributes(), "service.name",
                             ts.service);
      testing::AddStringAttr(rs->mutable_resource()->mutable_attributes(), "host.name", host);
      ts.terms.insert({"service.name", ts.service});
      ts.terms.insert({"host.name", host});
      auto* ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name("lib");
      ts.terms.insert({"otel.scope.name", "lib"});
      auto* s = ss->add_spans();
      s->set_trace_id(std::string(trace.AsBytes()));
      s->set_span_id(testing::SpanIdBytes(static_cast<uint64_t>(i + 1)));
      if (i > 0) s->set_parent_span_id(testing::SpanIdBytes(1));
      s->set_name(ts.op);
      int kind = pick(6);  // 0 = unspecified
      s->set_kind(static_cast<otlp_trace::Span::SpanKind>(kind));
      if (kind > 0) ts.terms.insert({"span.kind", kKinds[kind - 1]});
      s->set_start_time_unix_nano(static_cast<uint64_t>(ts.start));
      s->set_end_time_unix_nano(static_cast<uint64_t>(ts.start + ts.duration));
      for (int a = pick(4); a > 0; --a) {
        std::string key = fmt::format("k{}", pick(6));
        auto* kv = s->add_attributes();
        kv->set_key(key);
        if (pick(2) == 0) {
          int v = pick(5);
          kv->mutable_value()->set_int_value(v);
          ts.terms.insert({key, std::to_string(v)});
        } else {
          std::string v = fmt::format("v{}", pick(5));
          kv->mutable_value()->set_string_value(v);
          ts.terms.insert({key, v});
        }
      }
      if (pick(4) == 0) {
        auto* ev = s->add_events();
        ev->set_name("ev");
        std::string v = fmt::format("e{}", pick(3));
        testing::AddStringAttr(ev->mutable_attributes(), "evk", v);
        ts.terms.insert({"evk", v});
        ts.terms.insert({"event", "ev"});
      }
      if (pick(5) == 0) {
        s->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
        ts.terms.insert({"error", "true"});
        ts.terms.insert({"otel.status_code", "ERROR"});
      }
      d.spans.push_back(std::move(ts));
    }
  }
  return d;
}

std::vector<TraceHit> NaiveSearch(const std::vector<TestSpan>& spans, const TraceQuery& q) {
  std::map<common::TraceId, int64_t> best;
  for (const auto& s : spans) {
    if (!q.service.empty() && s.service != q.service) continue;
    if (!q.operation.empty() && s.op != q.operation) continue;
    if (q.start_min_ns != 0 && s.start < q.start_min_ns) continue;
    if (q.start_max_ns != 0 && s.start > q.start_max_ns) continue;
    if (q.duration_min_ns != 0 && s.duration < q.duration_min_ns) continue;
    if (q.duration_max_ns != 0 && s.duration > q.duration_max_ns) continue;
    bool all = std::all_of(q.tags.begin(), q.tags.end(),
                           [&](const auto& t) { return s.terms.count(t) > 0; });
    if (!all) continue;
    auto [it, inserted] = best.try_emplace(s.trace, s.start);
    if (!inserted) it->second = std::max(it->second, s.start);
  }
  std::vector<TraceHit> out;
  for (const auto& [id, start] : best) out.push_back({id, start, nullptr});
  std::sort(out.begin(), out.end(), [](const TraceHit& a, const TraceHit& b) {
    return a.start_ns != b.start_ns ? a.start_ns > b.start_ns : a.trace_id < b.trace_id;
  });
  if (out.size() > static_cast<size_t>(q.limit)) out.resize(static_cast<size_t>(q.limit));
  return out;
}

TraceQuery RandomQuery(std::mt19937_64& rng, const std::vector<TestSpan>& spans) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  TraceQuery q;
  const TestSpan& like = spans[rng() % spans.size()];
  if (pick(5) != 0) q.service = pick(6) == 0 ? "no-such-service" : like.service;
  if (pick(2) == 0) q.operation = like.op;
  for (int n = pick(3); n > 0; --n) {
    if (pick(8) == 0) {
      q.tags.push_back({"k1", "absent"});
    } else if (!like.terms.empty()) {
      auto it = like.terms.begin();
      std::advance(it, pick(static_cast<int>(like.terms.size())));
      q.tags.push_back(*it);
    }
  }
  if (pick(3) == 0) q.duration_min_ns = pick(3) * 1'000'000'000LL;
  if (pick(4) == 0) q.duration_max_ns = (1 + pick(3)) * 1'000'000'000LL;
  if (pick(2) == 0) {
    q.start_min_ns = kT0 + static_cast<int64_t>(rng() % static_cast<uint64_t>(kWindow));
    q.start_max_ns = q.start_min_ns + static_cast<int64_t>(rng() % static_cast<uint64_t>(kWindow));
  } else if (pick(2) == 0) {
    q.start_max_ns = kT0 + static_cast<int64_t>(rng() % static_cast<uint64_t>(kWindow));
  }
  q.limit = 1 + pick(30);
  return q;
}

std::string Describe(const TraceQuery& q) {
  std::string tags;
  for (const auto& [k, v] : q.tags) tags += fmt::format("{}={} ", k, v);
  return fmt::format("service={} op={} tags=[{}] start=[{},{}] dur=[{},{}] limit={}", q.service,
                     q.operation, tags, q.start_min_ns, q.start_max_ns, q.duration_min_ns,
                     q.duration_max_ns, q.limit);
}

void CheckQueries(SpanStore& store, const std::vector<TestSpan>& spans, uint64_t seed, int n,
                  const char* stage) {
  std::mt19937_64 rng(seed);
  int nonempty = 0;
  for (int i = 0; i < n; ++i) {
    TraceQuery q = RandomQuery(rng, spans);
    auto got = store.FindTraces(q);
    ASSERT_TRUE(got.ok()) << got.status();
    auto want = NaiveSearch(spans, q);
    nonempty += !want.empty();
    ASSERT_EQ(got->size(), want.size()) << stage << ": " << Describe(q);
    for (size_t j = 0; j < want.size(); ++j) {
      ASSERT_EQ(common::FormatTraceId32((*got)[j].trace_id),
                common::FormatTraceId32(want[j].trace_id))
          << stage << " #" << j << ": " << Describe(q);
      ASSERT_EQ((*got)[j].start_ns, want[j].start_ns) << stage << ": " << Describe(q);
      // Searches with tags verified their results, and hand over the traces they read.
      if (!q.tags.empty()) {
        const auto& trace = (*got)[j].trace;
        ASSERT_NE(trace, nullptr) << stage << ": " << Describe(q);
        ASSERT_GT(trace->resource_spans_size(), 0);
        ASSERT_EQ(trace->resource_spans(0).scope_spans(0).spans(0).trace_id(),
                  (*got)[j].trace_id.AsBytes());
      }
    }
  }
  // The generator must exercise real matches, not only empty answers.
  EXPECT_GT(nonempty, n / 3) << stage;
}

class SearchDifferentialTest : public ::testing::TestWithParam<int> {};

TEST_P(SearchDifferentialTest, IndexedSearchEqualsNaiveScan) {
  const int shards = GetParam();
  auto dir =
      std::filesystem::path(::testing::TempDir()) / fmt::format("search-{}-{}", ::getpid(), shards);
  std::filesystem::remove_all(dir);
  common::FakeClock clock(kT0);
  Dataset data = Generate(7 + static_cast<uint64_t>(shards), 1500, 25);
  {
    auto store = SpanStore::Open(testing::TestStorage(dir.string(), shards), clock, kNoIdleUpkeep);
    ASSERT_TRUE(store.ok()) << store.status();
    // First half: sealed block by block (an age-based seal after every few requests).
    size_t half = data.requests.size() / 2;
    for (size_t i = 0; i < half; ++i) {
      testing::StoreRequest(**store, data.requests[i]);
      if (i % 4 == 3) {
        clock.Advance(std::chrono::seconds(31));
        (*store)->RunUpkeep();
      }
    }
    clock.Advance(std::chrono::seconds(31));
    (*store)->RunUpkeep();
    // Second half: stays in the open blocks.
    for (size_t i = half; i < data.requests.size(); ++i)
      testing::StoreRequest(**store, data.requests[i]);
    CheckQueries(**store, data.spans, 100, 1500, "sealed+open");
  }
  // Reopen: the open blocks come back from the index log.
  auto store = SpanStore::Open(testing::TestStorage(dir.string(), shards), clock, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok()) << store.status();
  CheckQueries(**store, data.spans, 200, 1000, "after reopen");
  clock.Advance(std::chrono::seconds(31));
  (*store)->RunUpkeep();
  CheckQueries(**store, data.spans, 300, 1000, "all sealed");
  // Merged: the sealed blocks of each service become a few large ones.
  ASSERT_TRUE((*store)->CompactAll().ok());
  EXPECT_GT((*store)->Stats().index_blocks_merged, 0u);
  CheckQueries(**store, data.spans, 400, 1000, "merged");
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Shards, SearchDifferentialTest, ::testing::Values(1, 3));

// Sealed blocks key postings by 32 bits of the term hash. Two values whose hashes share those
// bits are indistinguishable to the block, so the answer must come from verifying candidates
// against the spans: the right traces, with the start of their newest *really* matching span.
TEST(SearchVerificationTest, TermsSharingAPostingsKeyAreTellApart) {
  std::string va, vb;
  {
    std::map<uint32_t, std::string> seen;
    for (int i = 0; vb.empty(); ++i) {
      std::string v = fmt::format("v{}", i);
      auto [it, fresh] = seen.try_emplace(static_cast<uint32_t>(TermHash("k", v) >> 32), v);
      if (!fresh) va = it->second, vb = v;
    }
  }
  ASSERT_NE(TermHash("k", va), TermHash("k", vb));

  auto dir = std::filesystem::path(::testing::TempDir()) / fmt::format("verify-{}", ::getpid());
  std::filesystem::remove_all(dir);
  common::FakeClock clock(kT0);
  auto store = SpanStore::Open(testing::TestStorage(dir.string(), 1), clock, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok()) << store.status();
  const uint64_t t = static_cast<uint64_t>(kT0);
  ExportRequest req;
  auto* ss = testing::AddResource(req, "api");
  auto tag = [](otlp_trace::Span* s, const std::string& v) {
    testing::AddStringAttr(s->mutable_attributes(), "k", v);
  };
  const std::string a = "0000000000000000000000000000000a", b = "0000000000000000000000000000000b",
                    c = "0000000000000000000000000000000c";
  tag(testing::AddSpan(ss, a, 1, 0, "op", t + 100, 5), va);  // decoy, newest of trace a
  tag(testing::AddSpan(ss, a, 2, 1, "op", t + 10, 5), vb);
  tag(testing::AddSpan(ss, b, 1, 0, "op", t + 50, 5), vb);
  tag(testing::AddSpan(ss, c, 1, 0, "op", t + 200, 5), va);  // decoy only
  testing::StoreRequest(**store, req);

  auto ids = [&](const std::string& value, int limit) {
    TraceQuery q;
    q.service = "api";
    q.tags = {{"k", value}};
    q.limit = limit;
    auto hits = (*store)->FindTraces(q);
    EXPECT_TRUE(hits.ok()) << hits.status();
    std::vector<std::pair<std::string, uint64_t>> out;
    for (const auto& h : *hits) {
      out.emplace_back(common::FormatTraceId32(h.trace_id), static_cast<uint64_t>(h.start_ns) - t);
    }
    return out;
  };
  using V = std::vector<std::pair<std::string, uint64_t>>;
  for (const char* where : {"open", "sealed"}) {
    SCOPED_TRACE(where);
    EXPECT_EQ(ids(vb, 20), (V{{b, 50}, {a, 10}}));
    EXPECT_EQ(ids(vb, 1), (V{{b, 50}}));
    EXPECT_EQ(ids(va, 20), (V{{c, 200}, {a, 100}}));
    clock.Advance(std::chrono::seconds(31));
    (*store)->RunUpkeep();
  }
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(CatalogTest, ServicesOperationsAndDependencies) {
  auto dir = std::filesystem::path(::testing::TempDir()) / fmt::format("catalog-{}", ::getpid());
  std::filesystem::remove_all(dir);
  common::FakeClock clock(kT0);
  ExportRequest req;
  auto* api = testing::AddResource(req, "api");
  auto* root = testing::AddSpan(api, "f1", 1, 0, "GET /x", kT0, 100);
  root->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
  auto* call = testing::AddSpan(api, "f1", 2, 1, "SELECT", kT0 + 1, 10);
  call->set_kind(otlp_trace::Span::SPAN_KIND_CLIENT);
  ExportRequest later;  // the child in another service arrives in a later request
  testing::AddSpan(testing::AddResource(later, "db"), "f1", 3, 2, "query", kT0 + 2, 5)
      ->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
  testing::AddSpan(testing::AddResource(later, "db"), "f2", 4, 0, "query", kT0 + 3, 5)
      ->set_kind(otlp_trace::Span::SPAN_KIND_UNSPECIFIED);
  {
    auto store = SpanStore::Open(testing::TestStorage(dir.string(), 2), clock, kNoIdleUpkeep);
    ASSERT_TRUE(store.ok());
    testing::StoreRequest(**store, req);
    testing::StoreRequest(**store, later);
    EXPECT_EQ((*store)->Services(""), (std::vector<std::string>{"api", "db"}));
    EXPECT_EQ((*store)->Operations("", "api", ""),
              (std::vector<Operation>{{"GET /x", "server"}, {"SELECT", "client"}}));
    EXPECT_EQ((*store)->Operations("", "api", "client"),
              (std::vector<Operation>{{"SELECT", "client"}}));
    EXPECT_EQ((*store)->Operations("", "db", ""),
              (std::vector<Operation>{{"query", ""}, {"query", "server"}}));
    EXPECT_TRUE((*store)->Operations("", "nope", "").empty());
    auto deps = (*store)->Dependencies("", kT0 - 1'000'000'000, kT0 + 1'000'000'000);
    ASSERT_EQ(deps.size(), 1u);
    EXPECT_EQ(deps[0].parent, "api");
    EXPECT_EQ(deps[0].child, "db");
    EXPECT_EQ(deps[0].call_count, 1u);
    EXPECT_TRUE((*store)->Dependencies("", kT0 + 120'000'000'000, kT0 + 180'000'000'000).empty());
    clock.Advance(std::chrono::seconds(31));
    (*store)->RunUpkeep();
  }
  auto store = SpanStore::Open(testing::TestStorage(dir.string(), 2), clock, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Services(""), (std::vector<std::string>{"api", "db"}));
  EXPECT_EQ((*store)->Operations("", "db", "server"),
            (std::vector<Operation>{{"query", "server"}}));
  auto deps = (*store)->Dependencies("", kT0 - 1'000'000'000, kT0 + 1'000'000'000);
  ASSERT_EQ(deps.size(), 1u);
  EXPECT_EQ(deps[0].call_count, 1u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace skua::storage
