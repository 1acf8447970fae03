// OTLP/JSON decoding: every field, snake_case keys and enum names, malformed input (with its
// path), nesting bounds, and encoded responses.

#include <gtest/gtest.h>

#include <cmath>

#include "common/ids.h"
#include "model/otlp_json.h"
#include "model/values.h"

namespace skua::model {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
using ExportRequest = otlp_collector::ExportTraceServiceRequest;

constexpr char kFull[] = R"({
  "resourceSpans": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "checkout"}},
      {"key": "pid", "value": {"intValue": 1234}}], "droppedAttributesCount": 1},
    "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
    "scopeSpans": [{
      "scope": {"name": "lib", "version": "2.0", "attributes": [{"key": "s", "value": {"boolValue": true}}]},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "eee19b7ec3c1b173",
        "traceState": "k=v",
        "flags": 257,
        "name": "I'm a server span",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "attributes": [
          {"key": "str", "value": {"stringValue": "x"}},
          {"key": "int", "value": {"intValue": "-9223372036854775808"}},
          {"key": "dbl", "value": {"doubleValue": 0.25}},
          {"key": "nan", "value": {"doubleValue": "NaN"}},
          {"key": "bool", "value": {"boolValue": false}},
          {"key": "bytes", "value": {"bytesValue": "AAEC"}},
          {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}}},
          {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}},
          {"key": "empty", "value": {}}
        ],
        "events": [{"timeUnixNano": "1544712660500000000", "name": "ev", "attributes": [{"key": "e", "value": {"intValue": 7}}]}],
        "links": [{"traceId": "00000000000000000000000000000001", "spanId": "0000000000000002", "attributes": [], "flags": 1}],
        "status": {"code": 2, "message": "boom"},
        "unknownField": {"ignored": [1, 2, 3]}
      }]
    }]
  }]
})";

TEST(OtlpJsonTest, DecodesEveryField) {
  ExportRequest req;
  ASSERT_TRUE(DecodeOtlpJson(kFull, req).ok());
  ASSERT_EQ(req.resource_spans_size(), 1);
  const auto& rs = req.resource_spans(0);
  EXPECT_EQ(rs.schema_url(), "https://opentelemetry.io/schemas/1.21.0");
  EXPECT_EQ(rs.resource().attributes(1).value().int_value(), 1234);
  EXPECT_EQ(rs.resource().dropped_attributes_count(), 1u);
  const auto& ss = rs.scope_spans(0);
  EXPECT_EQ(ss.scope().version(), "2.0");
  EXPECT_TRUE(ss.scope().attributes(0).value().bool_value());
  const auto& s = ss.spans(0);
  EXPECT_EQ(common::HexEncode(s.trace_id()), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(common::HexEncode(s.span_id()), "eee19b7ec3c1b174");
  EXPECT_EQ(common::HexEncode(s.parent_span_id()), "eee19b7ec3c1b173");
  EXPECT_EQ(s.trace_state(), "k=v");
  EXPECT_EQ(s.flags(), 257u);
  EXPECT_EQ(s.kind(), otlp_trace::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(s.start_time_unix_nano(), 1544712660000000000u);
  EXPECT_EQ(s.end_time_unix_nano(), 1544712661000000000u);
  EXPECT_EQ(s.attributes(1).value().int_value(), INT64_MIN);
  EXPECT_DOUBLE_EQ(s.attributes(2).value().double_value(), 0.25);
  EXPECT_TRUE(std::isnan(s.attributes(3).value().double_value()));
  EXPECT_TRUE(s.attributes(4).value().has_bool_value());
  EXPECT_EQ(s.attributes(5).value().bytes_value(), std::string("\x00\x01\x02", 3));
  EXPECT_EQ(s.attributes(6).value().array_value().values(1).int_value(), 1);
  EXPECT_EQ(s.attributes(7).value().kvlist_value().values(0).value().string_value(), "v");
  EXPECT_EQ(s.attributes(8).value().value_case(), otlp_common::AnyValue::VALUE_NOT_SET);
  EXPECT_EQ(s.events(0).time_unix_nano(), 1544712660500000000u);
  EXPECT_EQ(s.events(0).attributes(0).value().int_value(), 7);
  EXPECT_EQ(s.links(0).flags(), 1u);
  EXPECT_EQ(s.status().code(), otlp_trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(s.status().message(), "boom");
}

TEST(OtlpJsonTest, AcceptsSnakeCaseKeysAndEnumNames) {
  ExportRequest req;
  ASSERT_TRUE(DecodeOtlpJson(R"({"resource_spans":[{"scope_spans":[{"spans":[{
      "trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708",
      "start_time_unix_nano":5,"end_time_unix_nano":"6","kind":"SPAN_KIND_CLIENT",
      "status":{"code":"STATUS_CODE_OK"},"dropped_attributes_count":2}]}]}]})",
                             req)
                  .ok());
  const auto& s = req.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(s.kind(), otlp_trace::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(s.status().code(), otlp_trace::Status::STATUS_CODE_OK);
  EXPECT_EQ(s.end_time_unix_nano(), 6u);
  EXPECT_EQ(s.dropped_attributes_count(), 2u);
}

TEST(OtlpJsonTest, WrongLengthIdsAreLeftToSpanValidation) {
  ExportRequest req;
  ASSERT_TRUE(
      DecodeOtlpJson(
          R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","spanId":""}]}]}]})", req)
          .ok());
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).spans(0).trace_id().size(), 2u);
}

struct BadCase {
  const char* json;
  const char* expected_in_message;
};

class OtlpJsonMalformedTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(OtlpJsonMalformedTest, ReportsThePath) {
  ExportRequest req;
  absl::Status st = DecodeOtlpJson(GetParam().json, req);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(GetParam().expected_in_message), absl::string_view::npos)
      << st.message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OtlpJsonMalformedTest,
    ::testing::Values(
        BadCase{"{", "invalid JSON"}, BadCase{"[]", "request: expected an object"},
        BadCase{R"({"resourceSpans":{}})", "resourceSpans: expected an array"},
        BadCase{R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]})",
                "resourceSpans[0].scopeSpans[0].spans[0].traceId"},
        BadCase{
            R"({"resourceSpans":[{"scopeSpans":[{},{"spans":[{},{"startTimeUnixNano":"soon"}]}]}]})",
            "resourceSpans[0].scopeSpans[1].spans[1].startTimeUnixNano"},
        BadCase{R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":9}]}]}]})",
                "spans[0].kind: unknown value 9"},
        BadCase{R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SIDEWAYS"}]}]}]})",
                "spans[0].kind"},
        BadCase{R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"flags":-1}]}]}]})",
                "spans[0].flags"},
        BadCase{
            R"({"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"intValue":1.5}}]}}]})",
            "resourceSpans[0].resource.attributes[0].value.intValue"},
        BadCase{
            R"({"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"bytesValue":"!!"}}]}}]})",
            "bytesValue"},
        BadCase{R"({"resourceSpans":[{"resource":{"attributes":[{"key":5}]}}]})",
                "attributes[0].key: expected a string"},
        BadCase{R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":["x"]}]}]}]})",
                "spans[0].name: expected a string"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      return "Case" + std::to_string(info.index);
    });

TEST(OtlpJsonTest, EncodesResponses) {
  otlp_collector::ExportTraceServiceResponse r;
  EXPECT_EQ(EncodeExportResponseJson(r), "{}");
  r.mutable_partial_success()->set_rejected_spans(3);
  r.mutable_partial_success()->set_error_message("bad \"ids\"");
  EXPECT_EQ(EncodeExportResponseJson(r),
            R"({"partialSuccess":{"rejectedSpans":"3","errorMessage":"bad \"ids\""}})");
}

}  // namespace
}  // namespace skua::model

namespace skua::model {
namespace {

// A span whose one attribute holds a value nested `levels` deep in arrays.
std::string NestedValueJson(int levels) {
  std::string value = R"({"intValue":"1"})";
  for (int i = 1; i < levels; ++i) value = R"({"arrayValue":{"values":[)" + value + "]}}";
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02",)"
         R"("attributes":[{"key":"deep","value":)" +
         value + "}]}]}]}]}";
}

TEST(OtlpJsonTest, BoundsNestingWithoutRecursingOrQuadraticMemory) {
  otlp_collector::ExportTraceServiceRequest req;
  EXPECT_TRUE(DecodeOtlpJson(NestedValueJson(kMaxValueDepth), req).ok());
  absl::Status st = DecodeOtlpJson(NestedValueJson(kMaxValueDepth + 1), req);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value."),
            absl::string_view::npos)
      << st.message();
  EXPECT_NE(st.message().find("values nested deeper than 32 levels"), absl::string_view::npos);

  // 4,000 levels of values, and 200,000 of bare arrays: refused by the bounded parser.
  st = DecodeOtlpJson(NestedValueJson(4000), req);
  EXPECT_NE(st.message().find("nested deeper than"), absl::string_view::npos) << st.message();
  st = DecodeOtlpJson(std::string(200000, '['), req);
  EXPECT_NE(st.message().find("nested deeper than"), absl::string_view::npos) << st.message();
}

}  // namespace
}  // namespace skua::model
