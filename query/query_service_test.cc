// The query service's rules on a fake reader: defaults, limits, deadlines, not-found, and the
// cut of an answer past query.max_response_bytes.

#include "query/query_service.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "query/fake_reader.h"

namespace skua::query {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int64_t kHour = 3600LL * 1'000'000'000;

class QueryServiceTest : public ::testing::Test {
 protected:
  QueryServiceTest() : clock_(kNow) {
    config_.max_limit = 50;
    config_.timeout = std::chrono::milliseconds(2000);
  }
  QueryService Service() { return QueryService(reader_, config_, clock_); }

  FakeReader reader_;
  config::QueryConfig config_;
  common::FakeClock clock_;
};

TEST_F(QueryServiceTest, LimitsDefaultAndClamp) {
  auto s = Service();
  EXPECT_EQ(s.SearchLimit(0), 50);  // the default 100 is above max_limit
  EXPECT_EQ(s.SearchLimit(-3), 50);
  EXPECT_EQ(s.SearchLimit(7), 7);
  EXPECT_EQ(s.SearchLimit(1'000'000), 50);
  config_.max_limit = 10'000;
  EXPECT_EQ(Service().SearchLimit(0), kDefaultSearchLimit);
}

TEST_F(QueryServiceTest, DefaultWindows) {
  auto s = Service();
  auto w = s.SearchWindow(std::nullopt, std::nullopt);
  EXPECT_EQ(w.end_ns, kNow);
  EXPECT_EQ(w.start_ns, kNow - 48 * kHour);
  w = s.SearchWindow(std::nullopt, kNow - kHour);
  EXPECT_EQ(w.start_ns, kNow - 49 * kHour);
  w = s.SearchWindow(5, 10);
  EXPECT_EQ(w.start_ns, 5);
  EXPECT_EQ(w.end_ns, 10);
  auto d = s.DependencyWindow(std::nullopt, std::nullopt);
  EXPECT_EQ(d.end_ns, kNow);
  EXPECT_EQ(d.start_ns, kNow - 24 * kHour);
  d = s.DependencyWindow(kHour, 2 * kHour);
  EXPECT_EQ(d.start_ns, 0);  // never before the epoch
}

TEST_F(QueryServiceTest, SearchCarriesTheDeadlineAndReadsNewestFirst) {
  reader_.Put(OneSpanTrace("a", "00000000000000000000000000000001", kNow - 2 * kHour));
  reader_.Put(OneSpanTrace("a", "00000000000000000000000000000002", kNow - kHour));
  reader_.Put(OneSpanTrace("b", "00000000000000000000000000000003", kNow));
  storage::TraceQuery q;
  q.service = "a";
  q.limit = 10;
  auto found = Service().FindTraces(q, QueryService::Adjust::kRaw);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(reader_.last_query()->deadline_ns, kNow + 2'000'000'000);
  ASSERT_EQ(found->traces.size(), 2u);
  EXPECT_EQ(found->matched, 2u);
  EXPECT_FALSE(found->cut);
  EXPECT_EQ(found->traces[0].resource_spans(0).scope_spans(0).spans(0).start_time_unix_nano(),
            static_cast<uint64_t>(kNow - kHour));
}

TEST_F(QueryServiceTest, StreamedSearchTakesTheSoonerDeadline) {
  reader_.Put(OneSpanTrace("a", "00000000000000000000000000000001", kNow));
  int sent = 0;
  auto st = Service().StreamTraces(storage::TraceQuery{}, std::chrono::milliseconds(300),
                                   QueryService::Adjust::kOtlp, [&](otlp_trace::TracesData&) {
                                     ++sent;
                                     return true;
                                   });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(sent, 1);
  EXPECT_EQ(reader_.last_query()->deadline_ns, kNow + 300'000'000);
}

TEST_F(QueryServiceTest, AnswerIsCutPastMaxResponseBytes) {
  for (int i = 1; i <= 5; ++i) {
    reader_.Put(OneSpanTrace("a", fmt::format("{:032x}", i), kNow - i));
  }
  config_.max_response_bytes = 1;  // every trace is larger: the first is returned anyway
  auto s = Service();
  storage::TraceQuery q;
  q.limit = 10;
  auto found = s.FindTraces(q, QueryService::Adjust::kRaw);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->traces.size(), 1u);
  EXPECT_EQ(found->matched, 5u);
  EXPECT_TRUE(found->cut);
  EXPECT_EQ(s.CutMessage(*found),
            "answer cut at 1 of 5 traces: their spans exceed query.max_response_bytes (1 bytes); "
            "narrow the search or lower its limit");
}

TEST_F(QueryServiceTest, NotFoundAndFailures) {
  auto s = Service();
  auto id = *common::ParseTraceIdHex("00000000000000000000000000000009");
  auto missing = s.GetTrace("", id, QueryService::Adjust::kRaw);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_TRUE(s.Operations("", "", "").empty());  // no service: none, storage not asked
  reader_.FailWith(absl::UnavailableError("shard 0: IO error"));
  EXPECT_EQ(s.GetTrace("", id, QueryService::Adjust::kRaw).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.FindTraces({}, QueryService::Adjust::kRaw).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(QueryServiceTest, DependenciesOfOneService) {
  reader_.AddLink({"web", "api", 3});
  reader_.AddLink({"api", "db", 2});
  reader_.AddLink({"batch", "db", 1});
  auto s = Service();
  EXPECT_EQ(s.Dependencies("", {0, kNow}, "").size(), 3u);
  auto api = s.Dependencies("", {0, kNow}, "api");
  ASSERT_EQ(api.size(), 2u);
  EXPECT_EQ(api[0].parent, "web");
  EXPECT_EQ(api[1].child, "db");
}

}  // namespace
}  // namespace skua::query
