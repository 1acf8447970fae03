// The storage rules: what is refused, and the field each refusal names.

#include "storage/storable.h"

#include <gtest/gtest.h>

#include "tests/testing/otlp_builders.h"

namespace skua::storage {
namespace {

using testing::AddResource;
using testing::AddSpan;
using testing::ExportRequest;

std::string Check(const ExportRequest& req) {
  absl::Status st = CheckStorable(req.resource_spans());
  return st.ok() ? "ok" : std::string(st.message());
}

TEST(StorableTest, AcceptsOrdinarySpans) {
  ExportRequest req;
  auto* span = AddSpan(AddResource(req, "svc"), "ab", 1, 0, "GET /tâches ✓", 1000, 10);
  testing::AddStringAttr(span->mutable_attributes(), "http.route", "/tâches");
  EXPECT_EQ(Check(req), "ok");
}

TEST(StorableTest, NamesTheFieldWithInvalidUtf8) {
  ExportRequest req;
  auto* ss = AddResource(req, "svc");
  AddSpan(ss, "ab", 1, 0, "fine", 1000, 10);
  auto* span = AddSpan(ss, "ab", 2, 0, "fine", 1000, 10);
  testing::AddStringAttr(span->mutable_attributes(), "k", "ok");
  testing::AddStringAttr(span->mutable_attributes(), "k2", "bad \xc3\x28");
  EXPECT_EQ(Check(req),
            "resource_spans[0].scope_spans[0].spans[1].attributes[1].value.string_value: "
            "invalid UTF-8");

  ExportRequest name;
  AddSpan(AddResource(name, "svc"), "ab", 1, 0, "\xed\xa0\x80", 1000, 10);  // a surrogate
  EXPECT_EQ(Check(name), "resource_spans[0].scope_spans[0].spans[0].name: invalid UTF-8");

  ExportRequest service;
  AddResource(service, "caf\xe9");
  EXPECT_EQ(Check(service),
            "resource_spans[0].resource.attributes[0].value.string_value: invalid UTF-8");
}

TEST(StorableTest, RefusesEmptyKeys) {
  ExportRequest req;
  auto* span = AddSpan(AddResource(req, "svc"), "ab", 1, 0, "op", 1000, 10);
  auto* event = span->add_events();
  event->set_name("e");
  testing::AddStringAttr(event->mutable_attributes(), "", "v");
  EXPECT_EQ(Check(req),
            "resource_spans[0].scope_spans[0].spans[0].events[0].attributes[0].key: must not be "
            "empty");
}

TEST(StorableTest, BoundsNesting) {
  auto nested = [](int levels) {
    ExportRequest req;
    auto* span = AddSpan(AddResource(req, "svc"), "ab", 1, 0, "op", 1000, 10);
    auto* kv = span->add_attributes();
    kv->set_key("deep");
    auto* v = kv->mutable_value();
    for (int i = 1; i < levels; ++i) v = v->mutable_array_value()->add_values();
    v->set_int_value(1);
    return req;
  };
  EXPECT_EQ(Check(nested(model::kMaxValueDepth)), "ok");
  std::string err = Check(nested(model::kMaxValueDepth + 1));
  EXPECT_NE(err.find("values nested deeper than 32 levels"), std::string::npos) << err;
  EXPECT_EQ(err.rfind("resource_spans[0].scope_spans[0].spans[0].attributes[0].value.", 0), 0u)
      << err;
  // Every level that protobuf must read back stays within its limit of 100 messages.
  ExportRequest deepest = nested(model::kMaxValueDepth);
  std::string wire = deepest.SerializeAsString();
  ExportRequest back;
  EXPECT_TRUE(back.ParseFromString(wire));
}

}  // namespace
}  // namespace skua::storage
