// Structured filters (Jaeger RFC 0005) from their JSON form: whatever the text, parsing either
// refuses it (400 or 501 kinds) or yields a filter that can be evaluated on a span and narrowed
// for the index without crashing, looping or allocating beyond the filter's bounds.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "filter/filter.h"
#include "query/params.h"

namespace {

namespace otlp = ::opentelemetry::proto::trace::v1;

const otlp::ResourceSpans& Sample() {
  static const otlp::ResourceSpans* rs = [] {
    auto* r = new otlp::ResourceSpans;
    auto* kv = r->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("api");
    auto* ss = r->add_scope_spans();
    ss->mutable_scope()->set_name("lib");
    auto* s = ss->add_spans();
    s->set_trace_id(std::string(16, '\x01'));
    s->set_span_id(std::string(8, '\x02'));
    s->set_name("GET /x");
    s->set_start_time_unix_nano(1'700'000'000'000'000'000);
    s->set_end_time_unix_nano(1'700'000'001'000'000'000);
    for (const char* k : {"a", "b", "http.status_code"}) {
      auto* a = s->add_attributes();
      a->set_key(k);
      a->mutable_value()->set_int_value(500);
    }
    auto* e = s->add_events();
    e->set_name("exception");
    e->add_attributes()->set_key("a");
    s->add_links()->set_trace_id(std::string(16, '\x03'));
    return r;
  }();
  return *rs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto f = skua::query::ParseFilterJson(text);
  if (!f.ok()) {
    auto code = f.status().code();
    if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kUnimplemented) {
      __builtin_trap();
    }
    return 0;
  }
  const auto& rs = Sample();
  (void)(*f)->Matches(rs, rs.scope_spans(0), rs.scope_spans(0).spans(0));
  (void)skua::filter::Narrow(**f);
  (void)(*f)->CanonicalString();
  return 0;
}
