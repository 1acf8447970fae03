// The data model's rules: value strings, span kind names, service names, durations.

#include <gtest/gtest.h>

#include "model/go_duration.h"
#include "model/values.h"

namespace skua::model {
namespace {

TEST(GoDurationTest, ParsesGoSyntax) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(*ParseGoDuration("100ms"), nanoseconds(100'000'000));
  EXPECT_EQ(*ParseGoDuration("1.5s"), nanoseconds(1'500'000'000));
  EXPECT_EQ(*ParseGoDuration("500us"), nanoseconds(500'000));
  EXPECT_EQ(*ParseGoDuration("500\xC2\xB5s"), nanoseconds(500'000));
  EXPECT_EQ(*ParseGoDuration("1m30s"), nanoseconds(90'000'000'000));
  EXPECT_EQ(*ParseGoDuration("72h"), nanoseconds(72LL * 3600 * 1'000'000'000));
  EXPECT_EQ(*ParseGoDuration("0"), nanoseconds(0));
  EXPECT_FALSE(ParseGoDuration("100").ok());
  EXPECT_FALSE(ParseGoDuration("1x").ok());
  EXPECT_FALSE(ParseGoDuration("").ok());
  EXPECT_FALSE(ParseGoDuration("9999999999h").ok());  // past 64-bit nanoseconds
}

TEST(ValuesTest, StringFormsKindsAndServiceNames) {
  opentelemetry::proto::common::v1::AnyValue v;
  v.set_int_value(42);
  EXPECT_EQ(ValueAsString(v), "42");
  v.set_bool_value(true);
  EXPECT_EQ(ValueAsString(v), "true");
  v.set_double_value(0.25);
  EXPECT_EQ(ValueAsString(v), "0.25");
  EXPECT_EQ(SpanKindName(opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER), "server");
  EXPECT_EQ(SpanKindName(opentelemetry::proto::trace::v1::Span::SPAN_KIND_UNSPECIFIED), "");
  opentelemetry::proto::resource::v1::Resource r;
  EXPECT_EQ(ServiceNameOf(r), "missing-service-name");
  auto* kv = r.add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("task-api");
  EXPECT_EQ(ServiceNameOf(r), "task-api");
}

}  // namespace
}  // namespace skua::model
