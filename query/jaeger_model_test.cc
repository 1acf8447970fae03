// Jaeger's query adjusters, on the span model (v1 API, api_v2) and on OTLP (api_v3). The expected
// tags, attributes and warnings are what Jaeger v1.76 (cmd/jaeger, Badger) answered for the same
// spans on /api/traces and /api/v3/traces.

#include "query/jaeger_model.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "query/otlp_adjust.h"

namespace skua::query {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace model = ::jaeger::api_v2;

constexpr uint64_t kT0 = 1'700'000'000'000'000'000;

// `v` as a big-endian ID of `bytes` bytes (8 or 16).
std::string Id(uint64_t v, int bytes) {
  std::string out(static_cast<size_t>(bytes), '\0');
  for (int i = 0; i < 8; ++i)
    out[static_cast<size_t>(bytes - 1 - i)] = static_cast<char>(v >> (8 * i));
  return out;
}

class JaegerModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* rs = trace_.add_resource_spans();
    AddString(rs->mutable_resource()->mutable_attributes(), "service.name", "probe");
    AddString(rs->mutable_resource()->mutable_attributes(), "zeta", "z");
    AddString(rs->mutable_resource()->mutable_attributes(), "alpha", "a");
    scope_ = rs->add_scope_spans();
    scope_->mutable_scope()->set_name("lib");
    auto* root = Span(1, 0, kT0, 5'000'000, "op");
    root->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
    root->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
    AddString(root->mutable_attributes(), "zz", "1");
    AddString(root->mutable_attributes(), "aa", "2");
    AddString(root->mutable_attributes(), "telemetry.sdk.language", "go");
    auto* ip = root->add_attributes();
    ip->set_key("peer.ipv4");
    ip->mutable_value()->set_int_value(16909060);
    auto* beta = root->add_events();
    beta->set_name("beta");
    beta->set_time_unix_nano(kT0 + 2000);
    AddInt(beta->mutable_attributes(), "y", 1);
    AddInt(beta->mutable_attributes(), "b", 2);
    auto* alpha = root->add_events();
    alpha->set_name("alpha");
    alpha->set_time_unix_nano(kT0 + 1000);
    AddInt(alpha->mutable_attributes(), "x", 1);
    AddString(alpha->mutable_attributes(), "event", "custom");
    auto* empty_link = root->add_links();
    empty_link->set_trace_id(std::string(16, '\0'));
    empty_link->set_span_id(std::string(8, '\0'));
    auto* link = root->add_links();
    link->set_trace_id(Id(0x1234, 16));
    link->set_span_id(Id(9, 8));
    Span(2, 1, kT0 - 5'123'456, 1'000'000, "skewed child");
    Span(3, 0x99, kT0 + 1000, 10, "orphan");
    Span(4, 1, kT0 + 6'000'000, 2'500'000'123, "long child");
    Span(5, 1, kT0 + 1000, 100, "dup a");
    Span(5, 1, kT0 + 2000, 100, "dup b");
    Span(6, 4, kT0 - 3'600'000'000'000 - 61'000'000'000, 5, "far");
    AppendJaegerSpans(trace_, true, out_);
    for (const auto& s : out_.spans()) by_name_[s.operation_name()] = &s;
  }

  otlp_trace::Span* Span(uint64_t id, uint64_t parent, uint64_t start, uint64_t duration,
                         const std::string& name) {
    auto* s = scope_->add_spans();
    s->set_trace_id(Id(0xabcd, 16));
    s->set_span_id(Id(id, 8));
    if (parent != 0) s->set_parent_span_id(Id(parent, 8));
    s->set_name(name);
    s->set_start_time_unix_nano(start);
    s->set_end_time_unix_nano(start + duration);
    return s;
  }
  static void AddString(
      google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>* a,
      const std::string& k, const std::string& v) {
    auto* kv = a->Add();
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  }
  static void AddInt(
      google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>* a,
      const std::string& k, int64_t v) {
    auto* kv = a->Add();
    kv->set_key(k);
    kv->mutable_value()->set_int_value(v);
  }
  static std::vector<std::string> Keys(
      const google::protobuf::RepeatedPtrField<model::KeyValue>& t) {
    std::vector<std::string> out;
    for (const auto& kv : t) out.push_back(kv.key());
    return out;
  }
  static std::vector<std::string> Warnings(const model::Span& s) {
    return {s.warnings().begin(), s.warnings().end()};
  }

  otlp_trace::TracesData trace_;
  otlp_trace::ScopeSpans* scope_ = nullptr;
  model::SpansResponseChunk out_;
  std::map<std::string, const model::Span*> by_name_;
};

TEST_F(JaegerModelTest, TagsAreSortedAndLibraryAndIpTagsAdjusted) {
  const model::Span& root = *by_name_.at("op");
  using V = std::vector<std::string>;
  EXPECT_EQ(Keys(root.tags()), (V{"aa", "error", "otel.scope.name", "otel.status_code", "peer.ipv4",
                                  "span.kind", "zz"}));
  EXPECT_EQ(root.tags(4).v_type(), model::STRING);
  EXPECT_EQ(root.tags(4).v_str(), "1.2.3.4");
  EXPECT_EQ(Keys(root.process().tags()), (V{"alpha", "telemetry.sdk.language", "zeta"}));
  EXPECT_EQ(Keys(by_name_.at("orphan")->process().tags()), (V{"alpha", "zeta"}));
  // Logs keep the events' order; the event field first, the others sorted.
  ASSERT_EQ(root.logs_size(), 2);
  EXPECT_EQ(Keys(root.logs(0).fields()), (V{"event", "b", "y"}));
  EXPECT_EQ(root.logs(0).fields(0).v_str(), "beta");
  EXPECT_EQ(Keys(root.logs(1).fields()), (V{"event", "x"}));
  EXPECT_EQ(root.logs(1).fields(0).v_str(), "custom");
}

TEST_F(JaegerModelTest, ReferencesAndWarningsAreJaegers) {
  const model::Span& root = *by_name_.at("op");
  ASSERT_EQ(root.references_size(), 1);
  EXPECT_EQ(root.references(0).span_id(), Id(9, 8));
  using V = std::vector<std::string>;
  EXPECT_EQ(Warnings(root),
            (V{"Invalid span reference removed {TraceID:0000000000000000 SpanID:0000000000000000 "
               "RefType:FOLLOWS_FROM XXX_NoUnkeyedLiteral:{} XXX_unrecognized:[] "
               "XXX_sizecache:0}"}));
  EXPECT_EQ(Warnings(*by_name_.at("skewed child")),
            (V{"clock skew adjustment disabled; not applying calculated delta of 7.123456ms"}));
  EXPECT_EQ(Warnings(*by_name_.at("orphan")),
            (V{"invalid parent span IDs=0000000000000099; skipping clock skew adjustment"}));
  EXPECT_EQ(Warnings(*by_name_.at("long child")), V{});
  EXPECT_EQ(Warnings(*by_name_.at("dup a")), V{});
  EXPECT_EQ(Warnings(*by_name_.at("dup b")),
            (V{"duplicate span IDs; skipping clock skew adjustment"}));
  EXPECT_EQ(Warnings(*by_name_.at("far")),
            (V{"clock skew adjustment disabled; not applying calculated delta of "
               "1h1m2.256000059s"}));
}

// raw=true: the translator's output, no adjuster (Jaeger's answer to raw=true).
TEST_F(JaegerModelTest, RawSpansAreTheTranslatorsOutput) {
  model::SpansResponseChunk raw;
  AppendJaegerSpans(trace_, false, raw);
  const model::Span& root = raw.spans(0);
  using V = std::vector<std::string>;
  EXPECT_EQ(Keys(root.tags()), (V{"otel.scope.name", "zz", "aa", "telemetry.sdk.language",
                                  "peer.ipv4", "span.kind", "otel.status_code", "error"}));
  EXPECT_EQ(root.tags(4).v_type(), model::INT64);
  EXPECT_EQ(Keys(root.process().tags()), (V{"zeta", "alpha"}));
  EXPECT_EQ(root.references_size(), 2);
  for (const auto& s : raw.spans()) EXPECT_EQ(s.warnings_size(), 0) << s.operation_name();
  EXPECT_EQ(Keys(root.logs(0).fields()), (V{"event", "y", "b"}));
}

// The same spans as api_v3 returns them (Jaeger v2's OTLP adjusters).
TEST_F(JaegerModelTest, OtlpAdjustersForApiV3) {
  otlp_trace::TracesData t = trace_;
  AdjustOtlpAsJaegerQuery(t);
  using V = std::vector<std::string>;
  const auto& rs = t.resource_spans(0);
  V resource;
  for (const auto& kv : rs.resource().attributes()) resource.push_back(kv.key());
  EXPECT_EQ(resource, (V{"alpha", "service.name", "zeta", "telemetry.sdk.language"}));
  std::map<std::string, const otlp_trace::Span*> spans;
  for (const auto& s : rs.scope_spans(0).spans()) spans[s.name()] = &s;
  auto warnings = [](const otlp_trace::Span& s) {
    V out;
    for (const auto& kv : s.attributes()) {
      if (kv.key() != "@jaeger@warnings") continue;
      for (const auto& v : kv.value().array_value().values()) out.push_back(v.string_value());
    }
    return out;
  };
  const otlp_trace::Span& root = *spans.at("op");
  V keys;
  for (const auto& kv : root.attributes()) keys.push_back(kv.key());
  EXPECT_EQ(keys, (V{"aa", "peer.ipv4", "zz", "@jaeger@warnings"}));
  EXPECT_EQ(root.attributes(1).value().string_value(), "1.2.3.4");
  EXPECT_EQ(warnings(root), V{"Invalid span link removed"});
  ASSERT_EQ(root.links_size(), 1);
  ASSERT_EQ(root.events_size(), 2);
  EXPECT_EQ(root.events(0).name(), "alpha");  // events sorted by name, attributes by key
  EXPECT_EQ(root.events(0).attributes(0).key(), "event");
  EXPECT_EQ(root.events(1).attributes(0).key(), "b");
  EXPECT_EQ(warnings(*spans.at("skewed child")),
            V{"clock skew adjustment disabled; not applying calculated delta of 7.123456ms"});
  EXPECT_EQ(warnings(*spans.at("orphan")),
            V{"parent span ID=0000000000000099 is not in the trace; skipping clock skew "
              "adjustment"});
  EXPECT_EQ(warnings(*spans.at("dup b")), V{"duplicate span IDs; skipping clock skew adjustment"});
  EXPECT_EQ(warnings(*spans.at("far")),
            V{"clock skew adjustment disabled; not applying calculated delta of "
              "1h1m2.256000059s"});
}

// Jaeger's ingest sanitizers, applied when traces are read: its wording and Go's time format.
TEST(SanitizeTest, ServiceNamesAndSpansThatDoNotEndAfterTheyStart) {
  otlp_trace::TracesData t;
  t.add_resource_spans();  // no attributes at all
  auto* wrong = t.add_resource_spans()->mutable_resource()->add_attributes();
  wrong->set_key("service.name");
  wrong->mutable_value()->set_int_value(7);
  auto* rs = t.add_resource_spans();
  auto* empty = rs->mutable_resource()->add_attributes();
  empty->set_key("service.name");
  empty->mutable_value()->set_string_value("");
  auto* span = rs->add_scope_spans()->add_spans();
  span->set_start_time_unix_nano(kT0 + 5000);
  span->set_end_time_unix_nano(kT0 + 1000);
  auto* instant = rs->mutable_scope_spans(0)->add_spans();
  instant->set_start_time_unix_nano(kT0);
  instant->set_end_time_unix_nano(kT0);
  SanitizeAsJaegerIngest(t);
  EXPECT_EQ(t.resource_spans(0).resource().attributes(0).value().string_value(),
            "missing-service-name");
  EXPECT_EQ(t.resource_spans(1).resource().attributes(0).value().string_value(),
            "service-name-wrong-type");
  EXPECT_EQ(t.resource_spans(2).resource().attributes(0).value().string_value(),
            "empty-service-name");
  EXPECT_EQ(span->end_time_unix_nano(), kT0 + 5001);
  ASSERT_EQ(span->attributes_size(), 1);
  EXPECT_EQ(span->attributes(0).value().array_value().values(0).string_value(),
            "Negative duration detected, sanitizing end timestamp. Original end timestamp: "
            "2023-11-14 22:13:20.000001 +0000 UTC, adjusted to: 2023-11-14 22:13:20.000005001 "
            "+0000 UTC");
  EXPECT_EQ(instant->end_time_unix_nano(), kT0 + 1);  // zero durations too, as in Jaeger
  EXPECT_EQ(instant->attributes(0).value().array_value().values(0).string_value(),
            "Negative duration detected, sanitizing end timestamp. Original end timestamp: "
            "2023-11-14 22:13:20 +0000 UTC, adjusted to: 2023-11-14 22:13:20.000000001 +0000 UTC");
}

}  // namespace
}  // namespace skua::query
