#include "filter/filter.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>

namespace skua::filter {
namespace {

namespace otlp = ::opentelemetry::proto::trace::v1;

absl::StatusOr<std::shared_ptr<const Filter>> Parse(const std::string& json) {
  jaeger::expression::v1::Call call;
  auto st = google::protobuf::util::JsonStringToMessage(json, &call);
  if (!st.ok()) return absl::InvalidArgumentError(std::string(st.message()));
  return FromProto(call);
}

std::shared_ptr<const Filter> Must(const std::string& json) {
  auto f = Parse(json);
  EXPECT_TRUE(f.ok()) << json << ": " << f.status();
  return f.ok() ? *f : nullptr;
}

std::string Leaf(const std::string& op, const std::string& a, const std::string& b) {
  return R"({"op":")" + op + R"(","args":[)" + a + "," + b + "]}";
}
std::string Attr(const std::string& key, const std::string& level = "") {
  return R"({"attr":{"key":")" + key + R"(","level":")" + level + R"("}})";
}
std::string Field(const std::string& level, const std::string& name) {
  return R"({"field":{"level":")" + level + R"(","name":")" + name + R"("}})";
}
std::string Scalar(const std::string& v, const std::string& type = "") {
  return R"({"scalar":{"value":")" + v + R"(","type":")" + type + R"("}})";
}
std::string Call(const std::string& call) { return R"({"call":)" + call + "}"; }

// A span of service "task-api": attributes http.status_code=500 (int), ratio=0.25,
// user="ann", flag=true; resource host=h1; scope "lib" with attribute lang=cpp; two events
// ("exception" at +60us with attribute kind=timeout, "retry" at +10us); one link with
// attribute peer=p1; 2 s long, server, status error.
struct Fixture {
  otlp::ResourceSpans rs;
  otlp::ScopeSpans* ss;
  otlp::Span* span;
  Fixture() {
    auto add = [](auto* attrs, const std::string& k) {
      auto* kv = attrs->Add();
      kv->set_key(k);
      return kv->mutable_value();
    };
    add(rs.mutable_resource()->mutable_attributes(), "service.name")->set_string_value("task-api");
    add(rs.mutable_resource()->mutable_attributes(), "host")->set_string_value("h1");
    rs.set_schema_url("https://opentelemetry.io/schemas/1.21.0");
    ss = rs.add_scope_spans();
    ss->mutable_scope()->set_name("lib");
    add(ss->mutable_scope()->mutable_attributes(), "lang")->set_string_value("cpp");
    span = ss->add_spans();
    span->set_trace_id(std::string(15, '\0') + "\x2a");
    span->set_span_id(std::string(7, '\0') + "\x07");
    span->set_name("POST /tasks");
    span->set_kind(otlp::Span::SPAN_KIND_SERVER);
    span->set_start_time_unix_nano(1'000'000'000'000);
    span->set_end_time_unix_nano(1'002'000'000'000);
    span->mutable_status()->set_code(otlp::Status::STATUS_CODE_ERROR);
    add(span->mutable_attributes(), "http.status_code")->set_int_value(500);
    add(span->mutable_attributes(), "ratio")->set_double_value(0.25);
    add(span->mutable_attributes(), "user")->set_string_value("ann");
    add(span->mutable_attributes(), "flag")->set_bool_value(true);
    auto* e = span->add_events();
    e->set_name("exception");
    e->set_time_unix_nano(span->start_time_unix_nano() + 60'000);
    add(e->mutable_attributes(), "kind")->set_string_value("timeout");
    e = span->add_events();
    e->set_name("retry");
    e->set_time_unix_nano(span->start_time_unix_nano() + 10'000);
    auto* l = span->add_links();
    l->set_trace_id(std::string(16, '\x11'));
    l->set_span_id(std::string(8, '\x22'));
    add(l->mutable_attributes(), "peer")->set_string_value("p1");
  }
  bool Matches(const std::string& json) {
    auto f = Must(json);
    return f && f->Matches(rs, *ss, *span);
  }
};

TEST(FilterTest, ComparisonsAtTheStoredType) {
  Fixture x;
  EXPECT_TRUE(x.Matches(Leaf("eq", Attr("http.status_code"), Scalar("500"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Attr("http.status_code"), Scalar("500", "int"))));
  EXPECT_FALSE(x.Matches(Leaf("eq", Attr("http.status_code"), Scalar("500", "string"))));
  EXPECT_TRUE(x.Matches(Leaf("gt", Attr("http.status_code"), Scalar("99"))));  // numeric, not text
  EXPECT_TRUE(x.Matches(Leaf("gte", Attr("http.status_code"), Scalar("499.5"))));
  EXPECT_TRUE(x.Matches(Leaf("lt", Attr("ratio"), Scalar("0.3", "double"))));
  EXPECT_FALSE(x.Matches(Leaf("lt", Attr("ratio"), Scalar("1", "int"))));  // typed: ints only
  EXPECT_TRUE(x.Matches(Leaf("eq", Attr("flag"), Scalar("true"))));
  EXPECT_FALSE(x.Matches(Leaf("gt", Attr("flag"), Scalar("false"))));  // booleans have no order
  EXPECT_TRUE(x.Matches(Leaf("gt", Attr("user"), Scalar("al"))));      // text, lexicographic
  // A constant on the left is turned around: 600 > status_code.
  EXPECT_TRUE(x.Matches(Leaf("gt", Scalar("600"), Attr("http.status_code"))));
  // Unqualified = span or resource; levels are exact.
  EXPECT_TRUE(x.Matches(Leaf("eq", Attr("host"), Scalar("h1"))));
  EXPECT_FALSE(x.Matches(Leaf("eq", Attr("host", "span"), Scalar("h1"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Attr("lang", "scope"), Scalar("cpp"))));
  EXPECT_FALSE(x.Matches(Leaf("eq", Attr("lang"), Scalar("cpp"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Attr("peer", "link"), Scalar("p1"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Attr("kind", "event"), Scalar("timeout"))));
}

TEST(FilterTest, MissingValuesAndNegation) {
  Fixture x;
  // A leaf over an absent reference is false, ne included; only `not` turns it around.
  EXPECT_FALSE(x.Matches(Leaf("ne", Attr("absent"), Scalar("x"))));
  EXPECT_TRUE(
      x.Matches(R"({"op":"not","args":[)" + Call(Leaf("eq", Attr("absent"), Scalar("x"))) + "]}"));
  EXPECT_TRUE(x.Matches(Leaf("ne", Attr("user"), Scalar("bob"))));
  EXPECT_FALSE(x.Matches(Leaf("ne", Attr("user"), Scalar("ann"))));
  // A typed constant counts only values of its type: a string attribute is not "present".
  EXPECT_FALSE(x.Matches(Leaf("ne", Attr("user"), Scalar("5", "int"))));
  EXPECT_TRUE(x.Matches(R"({"op":"exists","args":[)" + Attr("ratio") + "]}"));
  EXPECT_FALSE(x.Matches(R"({"op":"exists","args":[)" + Field("span", "parentSpanID") + "]}"));
  EXPECT_TRUE(x.Matches(R"({"op":"in","args":[)" + Attr("user") +
                        R"(,{"list":{"values":["bob","ann"]}}]})"));
  EXPECT_FALSE(x.Matches(R"({"op":"not_in","args":[)" + Attr("user") +
                         R"(,{"list":{"values":["bob","ann"]}}]})"));
  EXPECT_FALSE(x.Matches(R"({"op":"not_in","args":[)" + Attr("absent") +
                         R"(,{"list":{"values":["bob"]}}]})"));
}

TEST(FilterTest, BuiltInFields) {
  Fixture x;
  EXPECT_TRUE(x.Matches(Leaf("gt", Field("span", "duration"), Scalar("1.5s"))));
  EXPECT_FALSE(x.Matches(Leaf("gt", Field("span", "duration"), Scalar("2s"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Field("span", "kind"), Scalar("server"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Field("span", "status"), Scalar("error"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Field("resource", "service"), Scalar("task-api"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Field("span", "name"), Scalar("POST /tasks"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Field("span", "traceID"),
                             Scalar("0000000000000000000000000000002A"))));  // case-insensitive
  EXPECT_TRUE(x.Matches(Leaf("eq", Field("span", "spanID"), Scalar("0000000000000007"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Field("link", "spanID"), Scalar("2222222222222222"))));
  EXPECT_TRUE(x.Matches(Leaf("gte", Field("span", "startTime"), Scalar("1970-01-01T00:16:40Z"))));
  EXPECT_TRUE(x.Matches(Leaf("eq", Field("scope", "name"), Scalar("lib"))));
  EXPECT_TRUE(x.Matches(R"({"op":"exists","args":[)" + Field("resource", "schemaURL") + "]}"));
  // Two references: the span ends after it starts.
  EXPECT_TRUE(x.Matches(Leaf("lt", Field("span", "startTime"), Field("span", "endTime"))));
}

TEST(FilterTest, SomeBindsOneEvent) {
  Fixture x;
  std::string named = Leaf("eq", Field("event", "name"), Scalar("exception"));
  std::string late = Leaf("gt", Field("event", "timeSinceStart"), Scalar("50us"));
  std::string early = Leaf("lt", Field("event", "timeSinceStart"), Scalar("50us"));
  auto some = [](const std::string& a, const std::string& b) {
    return R"({"op":"some","args":[{"nested":{"level":"event"}},)" +
           Call(R"({"op":"and","args":[)" + Call(a) + "," + Call(b) + "]}") + "]}";
  };
  EXPECT_TRUE(x.Matches(some(named, late)));
  EXPECT_FALSE(x.Matches(some(named, early)));  // the early event is "retry"
  // Without `some`, each leaf may be met by a different event.
  EXPECT_TRUE(x.Matches(R"({"op":"and","args":[)" + Call(named) + "," + Call(early) + "]}"));
}

TEST(FilterTest, Regex) {
  Fixture x;
  EXPECT_TRUE(x.Matches(Leaf("regex", Field("span", "name"), Scalar("/ta.k"))));
  EXPECT_TRUE(x.Matches(Leaf("regex", Attr("http.status_code"), Scalar("5[0-9]{2}"))));
  EXPECT_FALSE(x.Matches(Leaf("regex", Field("span", "name"), Scalar("post"))));  // case-sensitive
}

absl::StatusCode CodeOf(const std::string& json) { return Parse(json).status().code(); }

TEST(FilterTest, RefusesWhatIsMalformedOrUnsupported) {
  using absl::StatusCode;
  EXPECT_EQ(CodeOf(R"({"op":"matches","args":[]})"), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("phrase", Attr("x"), R"({"list":{"values":["a"]}})")),
            StatusCode::kUnimplemented);
  EXPECT_EQ(CodeOf(Leaf("eq", Attr("x", "trace"), Scalar("1"))), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("eq", Attr("x"), Scalar("1", "long"))), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("eq", Attr("x"), Scalar("banana", "int"))), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("gt", Field("span", "duration"), Scalar("banana"))),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("gt", Field("span", "duration"), Scalar("5", "int"))),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("eq", Field("span", "kind"), Scalar("serverless"))),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("gt", Field("span", "kind"), Scalar("server"))),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("eq", Field("span", "color"), Scalar("x"))), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("eq", Field("span", "duration"), Field("span", "name"))),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Leaf("lt", Attr("x"), Field("span", "duration"))), StatusCode::kUnimplemented);
  EXPECT_EQ(CodeOf(R"({"op":"and","args":[)" + Call(Leaf("eq", Attr("x"), Scalar("1"))) + "]}"),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(R"({"op":"in","args":[)" + Attr("x") + R"(,{"list":{}}]})"),
            StatusCode::kInvalidArgument);
  for (const char* pattern : {"^a", "a$", "\\\\bword", "a*?", "(?i)a", "(", "\\\\Aa"}) {
    EXPECT_EQ(CodeOf(Leaf("regex", Attr("x"), Scalar(pattern))), StatusCode::kInvalidArgument)
        << pattern;
  }
  EXPECT_EQ(CodeOf(Leaf("regex", Attr("x"), Scalar("[$^]\\\\$"))), StatusCode::kOk);
  EXPECT_EQ(CodeOf(Leaf("regex", Field("span", "duration"), Scalar("1"))),
            StatusCode::kInvalidArgument);
  std::string inner = Leaf("eq", Field("event", "name"), Scalar("x"));
  std::string some = R"({"op":"some","args":[{"nested":{"level":"event"}},)" + Call(inner) + "]}";
  std::string nested = R"({"op":"some","args":[{"nested":{"level":"event"}},)" + Call(some) + "]}";
  EXPECT_EQ(CodeOf(some), StatusCode::kOk);
  EXPECT_EQ(CodeOf(nested), StatusCode::kInvalidArgument);
  // Bounds: depth and size.
  std::string deep = Leaf("eq", Attr("x"), Scalar("1"));
  for (int i = 0; i < kMaxDepth + 1; ++i) deep = R"({"op":"not","args":[)" + Call(deep) + "]}";
  EXPECT_EQ(CodeOf(deep), StatusCode::kInvalidArgument);
  std::string wide = R"({"op":"or","args":[)";
  for (int i = 0; i < kMaxNodes; ++i) {
    wide += (i ? "," : "") + Call(Leaf("eq", Attr("x"), Scalar(std::to_string(i))));
  }
  EXPECT_EQ(CodeOf(wide + "]}"), StatusCode::kInvalidArgument);
  // A pattern whose program exceeds the memory bound.
  EXPECT_EQ(CodeOf(Leaf("regex", Attr("x"), Scalar("((a{100}){100}){100}"))),
            StatusCode::kInvalidArgument);
}

TEST(FilterTest, NarrowsOnlyByWhatTheFilterImplies) {
  auto f = Must(R"({"op":"and","args":[)" +
                Call(Leaf("eq", Field("resource", "service"), Scalar("task-api"))) + "," +
                Call(Leaf("eq", Field("span", "name"), Scalar("POST /tasks"))) + "," +
                Call(Leaf("gt", Field("span", "duration"), Scalar("1s"))) + "," +
                Call(Leaf("lte", Field("span", "duration"), Scalar("3s"))) + "," +
                Call(Leaf("eq", Attr("http.status_code"), Scalar("500"))) + "," +
                Call(Leaf("eq", Attr("ratio"), Scalar("5.0"))) + "," +
                Call(Leaf("eq", Field("span", "kind"), Scalar("server"))) + "," +
                Call(R"({"op":"or","args":[)" + Call(Leaf("eq", Attr("a"), Scalar("1"))) + "," +
                     Call(Leaf("eq", Attr("b"), Scalar("2"))) + "]}") +
                "]}");
  ASSERT_TRUE(f);
  IndexHints h = Narrow(*f);
  EXPECT_EQ(h.service, "task-api");
  EXPECT_EQ(h.operation, "POST /tasks");
  EXPECT_EQ(h.duration_min_ns, 1'000'000'001);
  EXPECT_EQ(h.duration_max_ns, 3'000'000'000);
  // "5.0" equals the integer 5, indexed as "5": no term; the `or` implies none either.
  std::vector<std::pair<std::string, std::string>> want = {{"http.status_code", "500"},
                                                           {"span.kind", "server"}};
  EXPECT_EQ(h.terms, want);
  // ... but the `or` implies that one of its terms is there.
  std::vector<std::vector<std::pair<std::string, std::string>>> any = {{{"a", "1"}, {"b", "2"}}};
  EXPECT_EQ(h.any_terms, any);
  // An `or` with a branch that implies no term implies no group; `in` implies one per value.
  auto g = Must(R"({"op":"and","args":[)" +
                Call(R"({"op":"or","args":[)" + Call(Leaf("eq", Attr("a"), Scalar("1"))) + "," +
                     Call(Leaf("regex", Attr("b"), Scalar("x"))) + "]}") +
                "," +
                Call(R"({"op":"in","args":[)" + Attr("c") + R"(,{"list":{"values":["x","y"]}}]})") +
                "]}");
  ASSERT_TRUE(g);
  any = {{{"c", "x"}, {"c", "y"}}};
  EXPECT_EQ(Narrow(*g).any_terms, any);
}

}  // namespace
}  // namespace skua::filter
