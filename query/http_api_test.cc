// The query port's HTTP adapters (v1 and api_v3) on a fake reader: routes, status codes,
// envelopes, parameter errors, and what reaches storage.

#include "query/http_api.h"

#include <gtest/gtest.h>

#include "query/fake_reader.h"

namespace skua::query {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int64_t kHour = 3600LL * 1'000'000'000;
constexpr char kTraceHex[] = "0000000000000000000000000000002a";

class HttpApiTest : public ::testing::Test {
 protected:
  HttpApiTest() : clock_(kNow) {
    config_.max_limit = 500;
    reader_.Put(OneSpanTrace("task-api", kTraceHex, kNow - kHour));
    reader_.AddOperation("task-api", {"GET /tasks", "server"});
    reader_.AddOperation("task-api", {"poll", ""});
  }

  common::HttpResponse Get(const std::string& target, const std::string& method = "GET",
                           const common::Tenancy* tenancy = nullptr,
                           const std::string* tenant = nullptr) {
    QueryService service(reader_, config_, clock_);
    auto handler = MakeQueryHttpHandler(service, metrics_, tenancy);
    common::HttpRequest req;
    if (tenant != nullptr) req.headers.emplace_back("x-tenant", *tenant);
    req.method = method;
    req.target = target;
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    return handler(req);
  }

  FakeReader reader_;
  config::QueryConfig config_;
  common::FakeClock clock_;
  common::MetricsRegistry metrics_;
};

TEST_F(HttpApiTest, RoutesAndMethods) {
  EXPECT_EQ(Get("/api/nothing").status, 404);
  EXPECT_EQ(Get("/api/nothing").body, "404 page not found\n");
  auto post = Get("/api/services", "POST");
  EXPECT_EQ(post.status, 405);
  auto search = [](const char* path) {
    common::HttpRequest req;
    req.path = path;
    return IsSearchRequest(req);
  };
  EXPECT_TRUE(search("/api/traces"));
  EXPECT_TRUE(search("/api/v3/trace-summaries"));
  EXPECT_FALSE(search("/api/traces/abc"));
  EXPECT_FALSE(search("/api/services"));
}

TEST_F(HttpApiTest, V1Envelope) {
  auto r = Get("/api/services");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"data":["task-api"],"total":1,"limit":0,"offset":0,"errors":null})");
  r = Get("/api/services/task-api/operations");
  EXPECT_EQ(r.body,
            R"({"data":["GET /tasks","poll"],"total":2,"limit":0,"offset":0,"errors":null})");
  r = Get("/api/operations?service=task-api&spanKind=server");
  EXPECT_EQ(
      r.body,
      R"({"data":[{"name":"GET /tasks","spanKind":"server"}],"total":1,"limit":0,"offset":0,"errors":null})");
}

TEST_F(HttpApiTest, V1ParameterErrors) {
  auto r = Get("/api/operations");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body,
            "{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":[{\"code\":400,\"msg\":"
            "\"parameter 'service' is required\"}]}\n");
  r = Get("/api/traces?service=a&limit=ten");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"(strconv.ParseInt: parsing \"ten\": invalid syntax)"), std::string::npos);
  r = Get("/api/traces?service=a&minDuration=2s&maxDuration=1s");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'maxDuration' should be greater than 'minDuration'"), std::string::npos);
  r = Get("/api/traces?tag=novalue");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("malformed 'tag' parameter"), std::string::npos);
  r = Get("/api/traces/xyz");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"(strconv.ParseUint: parsing \"xyz\": invalid syntax)"),
            std::string::npos);
  r = Get("/api/v3/traces/xyz-not-hex");  // no base64 fallback (Jaeger v1.76 has none)
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("malformed parameter trace_id: strconv.ParseUint"), std::string::npos);
  EXPECT_EQ(reader_.last_query(), std::nullopt);  // no bad request reached storage
}

TEST_F(HttpApiTest, V1SearchDefaultsReachStorage) {
  auto r = Get("/api/traces?service=task-api&limit=100000&tag=http.method:GET");
  EXPECT_EQ(r.status, 200);
  auto q = reader_.last_query();
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->service, "task-api");
  EXPECT_EQ(q->limit, 500);  // clamped to query.max_limit
  EXPECT_EQ(q->start_max_ns, kNow);
  EXPECT_EQ(q->start_min_ns, kNow - 48 * kHour);
  ASSERT_EQ(q->tags.size(), 1u);
  EXPECT_EQ(q->tags[0], (std::pair<std::string, std::string>{"http.method", "GET"}));
  EXPECT_NE(r.body.find("\"traceID\":\"000000000000002a\""), std::string::npos);
}

TEST_F(HttpApiTest, V1TraceNotFoundAndStorageFailures) {
  auto r = Get("/api/traces/00000000000000000000000000000bad");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("\"msg\":\"trace not found\""), std::string::npos);
  EXPECT_EQ(Get(std::string("/api/traces/") + kTraceHex).status, 200);
  reader_.FailWith(absl::UnavailableError("shard 3 at /data/shard-003: IO error"));
  r = Get(std::string("/api/traces/") + kTraceHex);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("/data"), std::string::npos);  // the cause stays in the log
  reader_.FailWith(absl::DeadlineExceededError("the search ran out of time"));
  r = Get("/api/traces?service=task-api");
  EXPECT_EQ(r.status, 504);
  EXPECT_NE(r.body.find("query.timeout (30000 ms)"), std::string::npos);
}

TEST_F(HttpApiTest, V1DependenciesWindow) {
  reader_.AddLink({"web", "task-api", 4});
  auto r = Get("/api/dependencies?endTs=1700000000000&lookback=3600000");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      R"({"data":[{"parent":"web","child":"task-api","callCount":4}],"total":0,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(reader_.last_dependency_range(), (std::pair<int64_t, int64_t>{kNow - kHour, kNow}));
  EXPECT_EQ(Get("/api/dependencies?lookback=-1").status, 400);
}

TEST_F(HttpApiTest, V3EnvelopeAndErrors) {
  auto r = Get("/api/v3/services");
  EXPECT_EQ(r.body, R"({"services":["task-api"]})");
  r = Get("/api/v3/operations?service=task-api");
  EXPECT_EQ(
      r.body,
      R"({"operations":[{"name":"GET /tasks","spanKind":"server"},{"name":"poll","spanKind":"internal"}]})");
  EXPECT_EQ(Get("/api/v3/operations").body, R"({"operations":[]})");
  r = Get("/api/v3/traces?query.service_name=task-api");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            "{\"error\":{\"httpCode\":400,\"message\":\"query.start_time_min and "
            "query.start_time_max are required\"}}\n");
  r = Get("/api/v3/traces/00000000000000000000000000000bad");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"error\":{\"httpCode\":404,\"message\":\"No traces found\"}}\n");
  r = Get(std::string("/api/v3/traces/") + kTraceHex + "?startTime=yesterday");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("malformed parameter startTime"), std::string::npos);
}

TEST_F(HttpApiTest, V3SearchAndSummaries) {
  std::string window =
      "query.start_time_min=2023-11-14T00:00:00Z&query.start_time_max=2023-11-15T00:00:00Z";
  auto r = Get("/api/v3/traces?query.service_name=task-api&query.search_depth=3&" + window);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(reader_.last_query()->limit, 3);
  EXPECT_EQ(r.body.rfind("{\"result\":{\"resourceSpans\":[", 0), 0u) << r.body;
  r = Get("/api/v3/trace-summaries?query.service_name=task-api&" + window);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"rootServiceName\":\"task-api\""), std::string::npos) << r.body;
  r = Get("/api/v3/traces?query.service_name=nobody&" + window);
  EXPECT_EQ(r.status, 404);
}

// With tenancy on, every call names an allowed tenant and sees only its data; refusals come in
// each API's error envelope.
TEST_F(HttpApiTest, TenantsNeedTheirHeaderAndSeeOnlyTheirData) {
  reader_.set_tenant("acme");
  common::TenancyConfig tc;
  tc.enabled = true;
  tc.tenants = {"acme", "globex"};
  common::Tenancy tenancy(tc);
  std::string acme = "acme", globex = "globex", other = "initech";
  auto missing = Get("/api/services", "GET", &tenancy);
  EXPECT_EQ(missing.status, 401);
  EXPECT_NE(missing.body.find("missing tenant header 'x-tenant'"), std::string::npos);
  auto unknown = Get("/api/v3/services", "GET", &tenancy, &other);
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(unknown.body, "{\"error\":{\"httpCode\":403,\"message\":\"unknown tenant\"}}\n");
  EXPECT_EQ(Get("/api/services", "GET", &tenancy, &acme).body,
            R"({"data":["task-api"],"total":1,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(Get("/api/services", "GET", &tenancy, &globex).body,
            R"({"data":[],"total":0,"limit":0,"offset":0,"errors":null})");
  EXPECT_EQ(Get(std::string("/api/traces/") + kTraceHex, "GET", &tenancy, &acme).status, 200);
  EXPECT_EQ(Get(std::string("/api/traces/") + kTraceHex, "GET", &tenancy, &globex).status, 404);
  Get("/api/traces?service=task-api", "GET", &tenancy, &globex);
  ASSERT_TRUE(reader_.last_query().has_value());
  EXPECT_EQ(reader_.last_query()->tenant, "globex");
  // Without tenancy the header means nothing: everything is tenant "".
  reader_.set_tenant("");
  EXPECT_EQ(Get("/api/services", "GET", nullptr, &globex).body,
            R"({"data":["task-api"],"total":1,"limit":0,"offset":0,"errors":null})");
}

}  // namespace
}  // namespace skua::query
