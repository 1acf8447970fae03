// The rules a span must meet to be stored (so that it can always be read back).

#include "storage/storable.h"

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.h"

namespace skua::storage {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;

// Walks a request depth first, keeping the path of the field being checked; the path is only
// formatted when a rule fails.
class Checker {
 public:
  absl::Status Run(const google::protobuf::RepeatedPtrField<otlp_trace::ResourceSpans>& rss) {
    for (int r = 0; r < rss.size() && ok(); ++r) {
      Scope rs(*this, "resource_spans", r);
      ResourceSpans(rss[r]);
    }
    return std::move(status_);
  }

 private:
  struct Segment {
    std::string_view name;
    int index;  // -1: not a list element
  };
  // Pushes a path segment for its lifetime.
  class Scope {
   public:
    Scope(Checker& c, std::string_view name, int index = -1) : c_(c) {
      c_.path_.push_back({name, index});
    }
    ~Scope() { c_.path_.pop_back(); }

   private:
    Checker& c_;
  };

  bool ok() const { return status_.ok(); }

  void Fail(std::string_view what) {
    std::string path;
    for (const auto& s : path_) {
      if (!path.empty()) path.push_back('.');
      path.append(s.name);
      if (s.index >= 0) path += fmt::format("[{}]", s.index);
    }
    status_ = absl::InvalidArgumentError(fmt::format("{}: {}", path, what));
  }

  void Text(std::string_view name, const std::string& s) {
    if (ok() && !common::IsValidUtf8(s)) {
      Scope f(*this, name);
      Fail("invalid UTF-8");
    }
  }

  void Value(const otlp_common::AnyValue& v, int depth) {
    if (depth > model::kMaxValueDepth) {
      return Fail(fmt::format("values nested deeper than {} levels", model::kMaxValueDepth));
    }
    switch (v.value_case()) {
      case otlp_common::AnyValue::kStringValue:
        return Text("string_value", v.string_value());
      case otlp_common::AnyValue::kArrayValue: {
        Scope a(*this, "array_value");
        const auto& values = v.array_value().values();
        for (int i = 0; i < values.size() && ok(); ++i) {
          Scope e(*this, "values", i);
          Value(values[i], depth + 1);
        }
        return;
      }
      case otlp_common::AnyValue::kKvlistValue: {
        Scope l(*this, "kvlist_value");
        const auto& values = v.kvlist_value().values();
        for (int i = 0; i < values.size() && ok(); ++i) {
          Scope e(*this, "values", i);
          KeyValue(values[i], depth + 1);
        }
        return;
      }
      default:
        return;
    }
  }

  void KeyValue(const otlp_common::KeyValue& kv, int depth) {
    if (kv.key().empty()) {
      Scope k(*this, "key");
      return Fail("must not be empty");
    }
    Text("key", kv.key());
    if (!ok() || !kv.has_value()) return;
    Scope v(*this, "value");
    Value(kv.value(), depth);
  }

  void Attributes(const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs) {
    for (int i = 0; i < attrs.size() && ok(); ++i) {
      Scope a(*this, "attributes", i);
      KeyValue(attrs[i], 1);
    }
  }

  void ResourceSpans(const otlp_trace::ResourceSpans& rs) {
    Text("schema_url", rs.schema_url());
    if (rs.has_resource()) {
      Scope r(*this, "resource");
      Attributes(rs.resource().attributes());
      const auto& refs = rs.resource().entity_refs();
      for (int i = 0; i < refs.size() && ok(); ++i) {
        Scope e(*this, "entity_refs", i);
        Text("schema_url", refs[i].schema_url());
        Text("type", refs[i].type());
        for (const auto& k : refs[i].id_keys()) Text("id_keys", k);
        for (const auto& k : refs[i].description_keys()) Text("description_keys", k);
      }
    }
    for (int s = 0; s < rs.scope_spans_size() && ok(); ++s) {
      Scope ss(*this, "scope_spans", s);
      ScopeSpans(rs.scope_spans(s));
    }
  }

  void ScopeSpans(const otlp_trace::ScopeSpans& ss) {
    Text("schema_url", ss.schema_url());
    if (ss.has_scope()) {
      Scope sc(*this, "scope");
      Text("name", ss.scope().name());
      Text("version", ss.scope().version());
      Attributes(ss.scope().attributes());
    }
    for (int i = 0; i < ss.spans_size() && ok(); ++i) {
      Scope sp(*this, "spans", i);
      Span(ss.spans(i));
    }
  }

  void Span(const otlp_trace::Span& span) {
    Text("name", span.name());
    Text("trace_state", span.trace_state());
    Attributes(span.attributes());
    for (int i = 0; i < span.events_size() && ok(); ++i) {
      Scope e(*this, "events", i);
      Text("name", span.events(i).name());
      Attributes(span.events(i).attributes());
    }
    for (int i = 0; i < span.links_size() && ok(); ++i) {
      Scope l(*this, "links", i);
      Text("trace_state", span.links(i).trace_state());
      Attributes(span.links(i).attributes());
    }
    if (span.has_status()) {
      Scope st(*this, "status");
      Text("message", span.status().message());
    }
  }

  std::vector<Segment> path_;
  absl::Status status_;
};

}  // namespace

absl::Status CheckStorable(
    const google::protobuf::RepeatedPtrField<otlp_trace::ResourceSpans>& resource_spans) {
  return Checker().Run(resource_spans);
}

}  // namespace skua::storage
