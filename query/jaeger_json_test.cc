// The v1 JSON rendering against Jaeger's field names and shapes.

#include "query/jaeger_json.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "common/json_write.h"
#include "tests/testing/otlp_builders.h"

namespace skua::query {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
using skua::testing::SpanIdBytes;
using skua::testing::TraceIdBytes;

otlp_common::KeyValue* Attr(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* a,
                            const std::string& key) {
  auto* kv = a->Add();
  kv->set_key(key);
  return kv;
}

otlp_trace::ResourceSpans* AddResource(otlp_trace::TracesData& td, const std::string& service,
                                       const std::string& host) {
  auto* rs = td.add_resource_spans();
  Attr(rs->mutable_resource()->mutable_attributes(), "service.name")
      ->mutable_value()
      ->set_string_value(service);
  Attr(rs->mutable_resource()->mutable_attributes(), "host.name")
      ->mutable_value()
      ->set_string_value(host);
  return rs;
}

const rapidjson::Value* Tag(const rapidjson::Value& tags, const char* key) {
  for (const auto& t : tags.GetArray()) {
    if (std::string(t["key"].GetString()) == key) return &t;
  }
  return nullptr;
}

class JaegerJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 64-bit trace ID (high half zero) -> 16 hex digits in v1 JSON.
    const std::string trace = TraceIdBytes("00000000000000000000000000c0ffee");
    auto* rs = AddResource(td_, "frontend", "h1");
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("io.opentelemetry.http");
    ss->mutable_scope()->set_version("1.2.3");
    auto* root = ss->add_spans();
    root->set_trace_id(trace);
    root->set_span_id(SpanIdBytes(1));
    root->set_name("GET /tasks");
    root->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
    root->set_start_time_unix_nano(1700000000123456789);
    root->set_end_time_unix_nano(1700000000223456789);
    root->set_trace_state("vendor=x");
    auto* a = root->mutable_attributes();
    Attr(a, "z.last")->mutable_value()->set_string_value("z");
    Attr(a, "http.status_code")->mutable_value()->set_int_value(500);
    Attr(a, "big")->mutable_value()->set_int_value(9223372036854775222);
    Attr(a, "ratio")->mutable_value()->set_double_value(72.5);
    Attr(a, "cached")->mutable_value()->set_bool_value(false);
    Attr(a, "blob")->mutable_value()->set_bytes_value(std::string("\x00\x00\x30\x39", 4));
    auto* arr = Attr(a, "list")->mutable_value()->mutable_array_value();
    arr->add_values()->set_string_value("a");
    arr->add_values()->set_int_value(2);
    auto* map = Attr(a, "map")->mutable_value()->mutable_kvlist_value();
    map->add_values()->set_key("k");
    map->mutable_values(0)->mutable_value()->set_string_value("v");
    Attr(a, "nothing");
    root->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
    root->mutable_status()->set_message("db down");
    auto* ev = root->add_events();
    ev->set_name("exception");
    ev->set_time_unix_nano(1700000000150000000);
    Attr(ev->mutable_attributes(), "exception.type")->mutable_value()->set_string_value("IOError");
    auto* ev2 = root->add_events();
    ev2->set_name("annotated");
    ev2->set_time_unix_nano(1700000000160000000);
    Attr(ev2->mutable_attributes(), "event")->mutable_value()->set_string_value("own");
    auto* link = root->add_links();
    link->set_trace_id(TraceIdBytes("1234567890abcdef1234567890abcdef"));
    link->set_span_id(SpanIdBytes(77));

    // A second resource identical to the first shares process p1; a third differs.
    auto* rs2 = AddResource(td_, "frontend", "h1");
    auto* child = rs2->add_scope_spans()->add_spans();
    child->set_trace_id(trace);
    child->set_span_id(SpanIdBytes(2));
    child->set_parent_span_id(SpanIdBytes(1));
    child->set_name("");
    child->set_kind(otlp_trace::Span::SPAN_KIND_CLIENT);
    child->set_start_time_unix_nano(1700000000130000000);
    child->set_end_time_unix_nano(1700000000120000000);  // ends before it starts
    child->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_OK);
    auto* parent_link = child->add_links();
    parent_link->set_trace_id(trace);
    parent_link->set_span_id(SpanIdBytes(1));
    Attr(parent_link->mutable_attributes(), "opentracing.ref_type")
        ->mutable_value()
        ->set_string_value("follows_from");
    auto* rs3 = AddResource(td_, "backend", "h2");
    auto* b = rs3->add_scope_spans()->add_spans();
    b->set_trace_id(trace);
    b->set_span_id(SpanIdBytes(3));
    b->set_parent_span_id(SpanIdBytes(2));
    b->set_name("SELECT");
    auto* warn = Attr(b->mutable_attributes(), "@jaeger@warnings")->mutable_value();
    warn->mutable_array_value()->add_values()->set_string_value("w1");

    json_ = RenderJaegerTrace(td_, true);
    doc_.Parse(json_.c_str());
    ASSERT_FALSE(doc_.HasParseError()) << json_;
  }

  otlp_trace::TracesData td_;
  std::string json_;
  rapidjson::Document doc_;
};

TEST_F(JaegerJsonTest, TraceEnvelopeAndProcesses) {
  EXPECT_STREQ(doc_["traceID"].GetString(), "0000000000c0ffee");
  EXPECT_TRUE(doc_["warnings"].IsNull());
  ASSERT_EQ(doc_["spans"].Size(), 3u);
  const auto& procs = doc_["processes"];
  ASSERT_EQ(procs.MemberCount(), 2u);
  EXPECT_STREQ(procs["p1"]["serviceName"].GetString(), "frontend");
  EXPECT_STREQ(procs["p1"]["tags"][0]["key"].GetString(), "host.name");
  EXPECT_STREQ(procs["p2"]["serviceName"].GetString(), "backend");
  EXPECT_STREQ(doc_["spans"][0]["processID"].GetString(), "p1");
  EXPECT_STREQ(doc_["spans"][1]["processID"].GetString(), "p1");
  EXPECT_STREQ(doc_["spans"][2]["processID"].GetString(), "p2");
}

TEST_F(JaegerJsonTest, SpanFieldsTagsAndTypes) {
  const auto& s = doc_["spans"][0];
  EXPECT_STREQ(s["traceID"].GetString(), "0000000000c0ffee");
  EXPECT_STREQ(s["spanID"].GetString(), "0000000000000001");
  EXPECT_FALSE(s.HasMember("flags"));
  EXPECT_FALSE(s.HasMember("parentSpanID"));
  EXPECT_STREQ(s["operationName"].GetString(), "GET /tasks");
  EXPECT_EQ(s["startTime"].GetUint64(), 1700000000123456u);
  EXPECT_EQ(s["duration"].GetUint64(), 100000u);
  EXPECT_TRUE(s["warnings"].IsNull());
  const auto& tags = s["tags"];
  // Every tag sorted by key (then type and value), as Jaeger's SortTagsAndLogFields adjuster
  // leaves them, whether from an attribute, the scope, the kind or the status.
  std::vector<std::string> keys;
  for (const auto& t : tags.GetArray()) keys.emplace_back(t["key"].GetString());
  std::vector<std::string> want = {"big",
                                   "blob",
                                   "cached",
                                   "error",
                                   "http.status_code",
                                   "list",
                                   "map",
                                   "nothing",
                                   "otel.scope.name",
                                   "otel.scope.version",
                                   "otel.status_code",
                                   "otel.status_description",
                                   "ratio",
                                   "span.kind",
                                   "w3c.tracestate",
                                   "z.last"};
  EXPECT_EQ(keys, want);
  EXPECT_STREQ((*Tag(tags, "big"))["type"].GetString(), "int64");
  EXPECT_STREQ((*Tag(tags, "big"))["value"].GetString(), "9223372036854775222");
  EXPECT_EQ((*Tag(tags, "http.status_code"))["value"].GetInt(), 500);
  EXPECT_STREQ((*Tag(tags, "ratio"))["type"].GetString(), "float64");
  EXPECT_DOUBLE_EQ((*Tag(tags, "ratio"))["value"].GetDouble(), 72.5);
  EXPECT_STREQ((*Tag(tags, "cached"))["type"].GetString(), "bool");
  EXPECT_FALSE((*Tag(tags, "cached"))["value"].GetBool());
  EXPECT_STREQ((*Tag(tags, "blob"))["type"].GetString(), "binary");
  EXPECT_STREQ((*Tag(tags, "blob"))["value"].GetString(), "AAAwOQ==");
  EXPECT_STREQ((*Tag(tags, "list"))["type"].GetString(), "string");
  EXPECT_STREQ((*Tag(tags, "list"))["value"].GetString(), R"(["a",2])");
  EXPECT_STREQ((*Tag(tags, "map"))["value"].GetString(), R"({"k":"v"})");
  EXPECT_STREQ((*Tag(tags, "nothing"))["value"].GetString(), "");
  EXPECT_STREQ((*Tag(tags, "span.kind"))["value"].GetString(), "server");
  EXPECT_STREQ((*Tag(tags, "otel.status_code"))["value"].GetString(), "ERROR");
  EXPECT_TRUE((*Tag(tags, "error"))["value"].IsBool());
  EXPECT_TRUE((*Tag(tags, "error"))["value"].GetBool());
  EXPECT_STREQ((*Tag(tags, "otel.status_description"))["value"].GetString(), "db down");
  EXPECT_STREQ((*Tag(tags, "w3c.tracestate"))["value"].GetString(), "vendor=x");
}

TEST_F(JaegerJsonTest, ReferencesAndLogs) {
  const auto& root = doc_["spans"][0];
  ASSERT_EQ(root["references"].Size(), 1u);
  EXPECT_STREQ(root["references"][0]["refType"].GetString(), "FOLLOWS_FROM");
  EXPECT_STREQ(root["references"][0]["traceID"].GetString(), "1234567890abcdef1234567890abcdef");
  EXPECT_STREQ(root["references"][0]["spanID"].GetString(), "000000000000004d");
  // Logs in the events' order; the name goes in an "event" field unless one exists, and that
  // field comes first.
  const auto& logs = root["logs"];
  ASSERT_EQ(logs.Size(), 2u);
  EXPECT_STREQ(logs[0]["fields"][0]["key"].GetString(), "event");
  EXPECT_STREQ(logs[0]["fields"][0]["value"].GetString(), "exception");
  EXPECT_STREQ(logs[0]["fields"][1]["key"].GetString(), "exception.type");
  EXPECT_EQ(logs[1]["timestamp"].GetUint64(), 1700000000160000u);
  ASSERT_EQ(logs[1]["fields"].Size(), 1u);
  EXPECT_STREQ(logs[1]["fields"][0]["value"].GetString(), "own");

  const auto& child = doc_["spans"][1];
  ASSERT_EQ(child["references"].Size(), 1u);  // the link to the parent only sets its type
  EXPECT_STREQ(child["references"][0]["refType"].GetString(), "FOLLOWS_FROM");
  EXPECT_STREQ(child["references"][0]["traceID"].GetString(), "0000000000c0ffee");
  EXPECT_STREQ(child["references"][0]["spanID"].GetString(), "0000000000000001");
  EXPECT_STREQ(child["operationName"].GetString(), "empty-span-name");
  EXPECT_EQ(child["duration"].GetUint64(), 0u);
  EXPECT_STREQ((*Tag(child["tags"], "otel.status_code"))["value"].GetString(), "OK");
  EXPECT_EQ(Tag(child["tags"], "error"), nullptr);
  EXPECT_TRUE(child["logs"].IsArray());

  const auto& db = doc_["spans"][2];
  EXPECT_STREQ(db["references"][0]["refType"].GetString(), "CHILD_OF");
  ASSERT_TRUE(db["warnings"].IsArray());
  EXPECT_STREQ(db["warnings"][0].GetString(), "w1");
  EXPECT_EQ(Tag(db["tags"], "@jaeger@warnings"), nullptr);
  EXPECT_EQ(Tag(db["tags"], "span.kind"), nullptr);  // UNSPECIFIED kind: no tag
}

TEST(ServiceNameTest, SanitizedLikeJaeger) {
  otlp_trace::TracesData td;
  auto add = [&](auto fill) {
    auto* rs = td.add_resource_spans();
    fill(rs->mutable_resource());
    auto* s = rs->add_scope_spans()->add_spans();
    s->set_trace_id(TraceIdBytes("1"));
    s->set_span_id(SpanIdBytes(td.resource_spans_size()));
  };
  add([](auto*) {});
  add([](auto* r) {
    Attr(r->mutable_attributes(), "host.name")->mutable_value()->set_string_value("h");
  });
  add([](auto* r) {
    Attr(r->mutable_attributes(), "service.name")->mutable_value()->set_string_value("");
  });
  add([](auto* r) {
    Attr(r->mutable_attributes(), "service.name")->mutable_value()->set_int_value(1);
  });
  rapidjson::Document doc;
  doc.Parse(RenderJaegerTrace(td, true).c_str());
  ASSERT_FALSE(doc.HasParseError());
  // Jaeger's ingest sanitizer names an empty resource's service too (the translator's
  // "OTLPResourceNoServiceName" is never reached).
  EXPECT_STREQ(doc["processes"]["p1"]["serviceName"].GetString(), "missing-service-name");
  EXPECT_STREQ(doc["processes"]["p2"]["serviceName"].GetString(), "missing-service-name");
  EXPECT_STREQ(doc["processes"]["p3"]["serviceName"].GetString(), "empty-service-name");
  EXPECT_STREQ(doc["processes"]["p4"]["serviceName"].GetString(), "service-name-wrong-type");
}

}  // namespace
}  // namespace skua::query

namespace skua::query {
namespace {

TEST(JsonUtilTest, InvalidUtf8IsWrittenAsReplacementCharacters) {
  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  w.StartObject();
  common::WriteKey(w, "k\xff");
  common::WriteString(w, "caf\xe9");
  w.EndObject();
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(buf.GetString());
  ASSERT_FALSE(doc.HasParseError()) << buf.GetString();
  EXPECT_STREQ(doc["k\xef\xbf\xbd"].GetString(), "caf\xef\xbf\xbd");
}

}  // namespace
}  // namespace skua::query
