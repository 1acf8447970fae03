// OTLP/JSON encoding: the Jaeger api_v3 snapshot, and values in the OTLP/JSON encoding.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <limits>

#include "model/otlp_json.h"
#include "tests/testing/otlp_builders.h"

namespace skua::model {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;

TEST(OtlpJsonRenderTest, MatchesTheJaegerApiV3Snapshot) {
  // Jaeger's GetTrace snapshot: a span with only ids, name, kind and status.
  otlp_trace::TracesData td;
  auto* s = td.add_resource_spans()->add_scope_spans()->add_spans();
  s->set_trace_id(skua::testing::TraceIdBytes("1"));
  s->set_span_id(skua::testing::SpanIdBytes(2));
  s->set_name("foobar");
  s->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
  s->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(RenderOtlpTracesData(td),
            R"({"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[{)"
            R"("traceId":"00000000000000000000000000000001","spanId":"0000000000000002",)"
            R"("name":"foobar","kind":2,"startTimeUnixNano":"0","endTimeUnixNano":"0",)"
            R"("status":{"code":2}}]}]}]})");
}

TEST(OtlpJsonRenderTest, ValuesUseTheOtlpJsonEncoding) {
  otlp_trace::TracesData td;
  auto* rs = td.add_resource_spans();
  rs->set_schema_url("u");
  auto* ss = rs->add_scope_spans();
  auto* s = ss->add_spans();
  s->set_trace_id(skua::testing::TraceIdBytes("abc"));
  s->set_span_id(skua::testing::SpanIdBytes(1));
  s->set_parent_span_id(skua::testing::SpanIdBytes(2));
  s->set_start_time_unix_nano(1700000000000000001);
  auto add = [&](const char* k) {
    auto* kv = s->add_attributes();
    kv->set_key(k);
    return kv->mutable_value();
  };
  add("i")->set_int_value(-5);
  add("d")->set_double_value(std::numeric_limits<double>::infinity());
  add("b")->set_bytes_value("hi");
  add("a")->mutable_array_value()->add_values()->set_bool_value(true);
  auto* e = s->add_events();
  e->set_time_unix_nano(7);
  e->set_name("ev");
  rapidjson::Document doc;
  std::string json = RenderOtlpTracesData(td);
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  const auto& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_STREQ(span["parentSpanId"].GetString(), "0000000000000002");
  EXPECT_STREQ(span["startTimeUnixNano"].GetString(), "1700000000000000001");
  EXPECT_STREQ(span["attributes"][0]["value"]["intValue"].GetString(), "-5");
  EXPECT_STREQ(span["attributes"][1]["value"]["doubleValue"].GetString(), "Infinity");
  EXPECT_STREQ(span["attributes"][2]["value"]["bytesValue"].GetString(), "aGk=");
  EXPECT_TRUE(span["attributes"][3]["value"]["arrayValue"]["values"][0]["boolValue"].GetBool());
  EXPECT_STREQ(span["events"][0]["timeUnixNano"].GetString(), "7");
  EXPECT_FALSE(span.HasMember("kind"));
  EXPECT_STREQ(doc["resourceSpans"][0]["schemaUrl"].GetString(), "u");
}

}  // namespace
}  // namespace skua::model
