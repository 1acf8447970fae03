// Whether one span satisfies a finalized filter: the one definition of the filter's meaning
// (filter.h states the rules); the search index only narrows the spans this is asked about.

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "common/ids.h"
#include "filter/filter.h"
#include "filter/vocabulary.h"
#include "model/values.h"

namespace skua::filter {
namespace {

namespace otlp = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;

// One value a reference resolves to: an attribute's stored value, text (IDs in lowercase hex,
// names, words) or nanoseconds (instants, durations).
struct Value {
  enum class Form { kAttr, kText, kNanos } form;
  const otlp_common::AnyValue* attr = nullptr;
  std::string text;
  int64_t nanos = 0;

  static Value Attr(const otlp_common::AnyValue& v) { return {Form::kAttr, &v, {}, 0}; }
  static Value Text(std::string s) { return {Form::kText, nullptr, std::move(s), 0}; }
  static Value Nanos(int64_t n) { return {Form::kNanos, nullptr, {}, n}; }
};

// Calls `fn` for each value; stops early when `fn` returns true. Returns whether it stopped.
using ValueFn = std::function<bool(const Value&)>;

struct Context {
  const otlp::ResourceSpans& rs;
  const otlp::ScopeSpans& ss;
  const otlp::Span& span;
  const otlp::Span::Event* event = nullptr;  // bound by `some` over events
  const otlp::Span::Link* link = nullptr;    // bound by `some` over links
};

int64_t AsNanos(uint64_t t) {
  return t > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(t);
}

bool Attributes(const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs,
                const std::string& key, const ValueFn& fn) {
  for (const auto& kv : attrs) {
    if (kv.key() == key && fn(Value::Attr(kv.value()))) return true;
  }
  return false;
}

template <typename T, typename Each>
bool EachOf(const google::protobuf::RepeatedPtrField<T>& all, const T* bound, const Each& each) {
  if (bound != nullptr) return each(*bound);
  for (const T& item : all) {
    if (each(item)) return true;
  }
  return false;
}

bool NonEmpty(const std::string& s, const ValueFn& fn) { return !s.empty() && fn(Value::Text(s)); }

// RFC 0005's word for a span kind; "" (absent) for a value OTLP does not define.
std::string_view KindWord(otlp::Span::SpanKind kind) {
  if (kind == otlp::Span::SPAN_KIND_UNSPECIFIED) return "unspecified";
  return model::SpanKindName(kind);
}

std::string_view StatusWord(otlp::Status::StatusCode code) {
  switch (code) {
    case otlp::Status::STATUS_CODE_UNSET:
      return "unset";
    case otlp::Status::STATUS_CODE_OK:
      return "ok";
    case otlp::Status::STATUS_CODE_ERROR:
      return "error";
    default:
      return "";
  }
}

bool FieldValues(Field field, const Context& c, const ValueFn& fn) {
  const otlp::Span& s = c.span;
  auto hex = [&](const std::string& raw) { return fn(Value::Text(common::HexEncode(raw))); };
  switch (field) {
    case Field::kSpanTraceId:
      return hex(s.trace_id());
    case Field::kSpanSpanId:
      return hex(s.span_id());
    case Field::kSpanParentSpanId:
      return !s.parent_span_id().empty() && hex(s.parent_span_id());
    case Field::kSpanTraceState:
      return NonEmpty(s.trace_state(), fn);
    case Field::kSpanName:
      return fn(Value::Text(s.name()));
    case Field::kSpanKind: {
      std::string_view w = KindWord(s.kind());
      return !w.empty() && fn(Value::Text(std::string(w)));
    }
    case Field::kSpanStartTime:
      return fn(Value::Nanos(AsNanos(s.start_time_unix_nano())));
    case Field::kSpanEndTime:
      return fn(Value::Nanos(AsNanos(s.end_time_unix_nano())));
    case Field::kSpanDuration:
      // As Jaeger (and the search index) measure it: an end before the start is 0.
      return fn(Value::Nanos(s.end_time_unix_nano() > s.start_time_unix_nano()
                                 ? AsNanos(s.end_time_unix_nano() - s.start_time_unix_nano())
                                 : 0));
    case Field::kSpanStatus: {
      std::string_view w = StatusWord(s.status().code());
      return !w.empty() && fn(Value::Text(std::string(w)));
    }
    case Field::kSpanStatusMessage:
      return NonEmpty(s.status().message(), fn);
    case Field::kResourceService:
      return fn(Value::Text(model::ServiceNameOf(c.rs.resource())));
    case Field::kResourceSchemaUrl:
      return NonEmpty(c.rs.schema_url(), fn);
    case Field::kScopeName:
      return NonEmpty(c.ss.scope().name(), fn);
    case Field::kScopeVersion:
      return NonEmpty(c.ss.scope().version(), fn);
    case Field::kScopeSchemaUrl:
      return NonEmpty(c.ss.schema_url(), fn);
    case Field::kEventName:
      return EachOf(s.events(), c.event,
                    [&](const otlp::Span::Event& e) { return fn(Value::Text(e.name())); });
    case Field::kEventTime:
      return EachOf(s.events(), c.event, [&](const otlp::Span::Event& e) {
        return fn(Value::Nanos(AsNanos(e.time_unix_nano())));
      });
    case Field::kEventTimeSinceStart:
      return EachOf(s.events(), c.event, [&](const otlp::Span::Event& e) {
        return fn(
            Value::Nanos(static_cast<int64_t>(e.time_unix_nano() - s.start_time_unix_nano())));
      });
    case Field::kLinkTraceId:
      return EachOf(s.links(), c.link,
                    [&](const otlp::Span::Link& l) { return hex(l.trace_id()); });
    case Field::kLinkSpanId:
      return EachOf(s.links(), c.link, [&](const otlp::Span::Link& l) { return hex(l.span_id()); });
    case Field::kLinkTraceState:
      return EachOf(s.links(), c.link,
                    [&](const otlp::Span::Link& l) { return NonEmpty(l.trace_state(), fn); });
  }
  return false;
}

bool ReferenceValues(const Node& ref, const Context& c, const ValueFn& fn) {
  if (ref.term == Node::Term::kField) return FieldValues(ref.field, c, fn);
  const otlp::Span& s = c.span;
  switch (ref.level) {
    case Level::kNone:
      return Attributes(s.attributes(), ref.key, fn) ||
             Attributes(c.rs.resource().attributes(), ref.key, fn);
    case Level::kSpan:
      return Attributes(s.attributes(), ref.key, fn);
    case Level::kResource:
      return Attributes(c.rs.resource().attributes(), ref.key, fn);
    case Level::kScope:
      return Attributes(c.ss.scope().attributes(), ref.key, fn);
    case Level::kEvent:
      return EachOf(s.events(), c.event, [&](const otlp::Span::Event& e) {
        return Attributes(e.attributes(), ref.key, fn);
      });
    case Level::kLink:
      return EachOf(s.links(), c.link, [&](const otlp::Span::Link& l) {
        return Attributes(l.attributes(), ref.key, fn);
      });
  }
  return false;
}

template <typename T>
int Order(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// -1/0/1, or nullopt when the two are not comparable (different kinds of value; NaN).
std::optional<int> Numbers(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::nullopt;
  return Order(a, b);
}

// A stored attribute value against a constant (filter.h: an untyped constant is read at the
// stored type, a typed one matches only values stored with its type).
std::optional<int> AttrVersusConstant(const otlp_common::AnyValue& v, const Constant& c) {
  using AV = otlp_common::AnyValue;
  switch (c.kind) {
    case Kind::kAny:
      switch (v.value_case()) {
        case AV::kStringValue:
          return Order<std::string_view>(v.string_value(), c.text);
        case AV::kIntValue: {
          if (auto i = ParseInteger(c.text)) return Order(v.int_value(), *i);
          if (auto d = ParseNumber(c.text)) return Numbers(static_cast<double>(v.int_value()), *d);
          return std::nullopt;
        }
        case AV::kDoubleValue: {
          auto d = ParseNumber(c.text);
          return d ? Numbers(v.double_value(), *d) : std::nullopt;
        }
        case AV::kBoolValue:
          if (c.text != "true" && c.text != "false") return std::nullopt;
          return Order(v.bool_value(), c.text == "true");
        default:
          return Order<std::string>(model::ValueAsString(v), c.text);
      }
    case Kind::kString:
      if (v.value_case() != AV::kStringValue) return std::nullopt;
      return Order<std::string_view>(v.string_value(), c.text);
    case Kind::kInt:
      if (v.value_case() != AV::kIntValue) return std::nullopt;
      return Order(v.int_value(), c.i);
    case Kind::kDouble:
      if (v.value_case() != AV::kDoubleValue) return std::nullopt;
      return Numbers(v.double_value(), c.d);
    case Kind::kBool:
      if (v.value_case() != AV::kBoolValue) return std::nullopt;
      return Order(v.bool_value(), c.b);
    case Kind::kDuration:
    case Kind::kTimestamp:
      return std::nullopt;  // Finalize refuses these beside an attribute
  }
  return std::nullopt;
}

std::optional<int> ValueVersusConstant(const Value& v, const Constant& c) {
  switch (v.form) {
    case Value::Form::kAttr:
      return AttrVersusConstant(*v.attr, c);
    case Value::Form::kText:
      if (c.kind != Kind::kString && c.kind != Kind::kAny) return std::nullopt;
      return Order<std::string_view>(v.text, c.text);
    case Value::Form::kNanos:
      if (c.kind != Kind::kDuration && c.kind != Kind::kTimestamp) return std::nullopt;
      return Order(v.nanos, c.i);
  }
  return std::nullopt;
}

// Two references' values: the same kind of value only (numbers across int and double).
std::optional<int> ValueVersusValue(const Value& a, const Value& b) {
  using AV = otlp_common::AnyValue;
  if (a.form == Value::Form::kAttr && b.form == Value::Form::kAttr) {
    const AV& x = *a.attr;
    const AV& y = *b.attr;
    auto number = [](const AV& v) -> std::optional<double> {
      if (v.value_case() == AV::kIntValue) return static_cast<double>(v.int_value());
      if (v.value_case() == AV::kDoubleValue) return v.double_value();
      return std::nullopt;
    };
    if (x.value_case() == AV::kIntValue && y.value_case() == AV::kIntValue) {
      return Order(x.int_value(), y.int_value());
    }
    if (auto nx = number(x), ny = number(y); nx && ny) return Numbers(*nx, *ny);
    if (x.value_case() != y.value_case()) return std::nullopt;
    if (x.value_case() == AV::kStringValue) {
      return Order<std::string_view>(x.string_value(), y.string_value());
    }
    if (x.value_case() == AV::kBoolValue) return Order(x.bool_value(), y.bool_value());
    return Order<std::string>(model::ValueAsString(x), model::ValueAsString(y));
  }
  if (a.form == Value::Form::kAttr || b.form == Value::Form::kAttr) {
    const Value& attr = a.form == Value::Form::kAttr ? a : b;
    const Value& other = a.form == Value::Form::kAttr ? b : a;
    if (other.form != Value::Form::kText ||
        attr.attr->value_case() != otlp_common::AnyValue::kStringValue) {
      return std::nullopt;
    }
    int o = Order<std::string_view>(attr.attr->string_value(), other.text);
    return &attr == &a ? o : -o;
  }
  if (a.form != b.form) return std::nullopt;
  if (a.form == Value::Form::kText) return Order<std::string_view>(a.text, b.text);
  return Order(a.nanos, b.nanos);
}

bool Holds(Op op, int order) {
  switch (op) {
    case Op::kEq:
    case Op::kIn:
      return order == 0;
    case Op::kGt:
      return order > 0;
    case Op::kLt:
      return order < 0;
    case Op::kGte:
      return order >= 0;
    case Op::kLte:
      return order <= 0;
    default:
      return false;
  }
}

// The text a pattern is matched against.
std::string_view TextOf(const Value& v, std::string& buffer) {
  if (v.form == Value::Form::kText) return v.text;
  if (v.attr->value_case() == otlp_common::AnyValue::kStringValue) return v.attr->string_value();
  buffer = model::ValueAsString(*v.attr);
  return buffer;
}

bool Eval(const Node& n, const Context& c);

// A negated leaf (ne, not_in): the reference has a value that counts (with a typed constant,
// only values of that type count) and none of them matches.
bool Negated(const Node& ref, const Context& c,
             const std::function<std::optional<int>(const Value&, bool&)>& compare) {
  bool counted = false;
  bool matched = ReferenceValues(ref, c, [&](const Value& v) {
    bool counts = true;
    std::optional<int> o = compare(v, counts);
    counted = counted || counts;
    return o && *o == 0;
  });
  return counted && !matched;
}

// Booleans have no order (RFC 0005 §5.3): an ordered comparison never holds for one.
bool Unordered(Op op, const Value& v) {
  return op != Op::kEq && op != Op::kNe && v.form == Value::Form::kAttr &&
         v.attr->value_case() == otlp_common::AnyValue::kBoolValue;
}

bool Comparison(const Node& n, const Context& c) {
  const Node& left = n.args[0];
  const Node& right = n.args[1];
  if (right.term == Node::Term::kScalar) {
    const Constant& k = right.value;
    if (n.op == Op::kNe) {
      return Negated(left, c, [&](const Value& v, bool& counts) {
        auto o = ValueVersusConstant(v, k);
        counts = o.has_value() || k.kind == Kind::kAny;
        return o;
      });
    }
    return ReferenceValues(left, c, [&](const Value& v) {
      if (Unordered(n.op, v)) return false;
      auto o = ValueVersusConstant(v, k);
      return o && Holds(n.op, *o);
    });
  }
  // Two references: some pair satisfies it (ne: both have values, and no pair is equal).
  bool left_any = false;
  bool right_any = false;
  bool equal = false;
  bool held = ReferenceValues(left, c, [&](const Value& a) {
    left_any = true;
    return ReferenceValues(right, c, [&](const Value& b) {
      right_any = true;
      if (Unordered(n.op, a) || Unordered(n.op, b)) return false;
      auto o = ValueVersusValue(a, b);
      if (n.op == Op::kNe) {
        equal = equal || (o && *o == 0);
        return equal;
      }
      return o && Holds(n.op, *o);
    });
  });
  if (n.op == Op::kNe) return left_any && right_any && !equal;
  return held;
}

bool Membership(const Node& n, const Context& c) {
  const Node& ref = n.args[0];
  const auto& list = n.args[1].values;
  auto compare = [&](const Value& v, bool& counts) -> std::optional<int> {
    counts = false;
    for (const Constant& k : list) {
      auto o = ValueVersusConstant(v, k);
      counts = counts || o.has_value() || k.kind == Kind::kAny;
      if (o && *o == 0) return 0;
    }
    return std::nullopt;
  };
  if (n.op == Op::kNotIn) return Negated(ref, c, compare);
  return ReferenceValues(ref, c, [&](const Value& v) {
    bool counts = false;
    auto o = compare(v, counts);
    return o.has_value();
  });
}

bool Eval(const Node& n, const Context& c) {
  switch (n.op) {
    case Op::kAnd:
      for (const Node& a : n.args) {
        if (!Eval(a, c)) return false;
      }
      return true;
    case Op::kOr:
      for (const Node& a : n.args) {
        if (Eval(a, c)) return true;
      }
      return false;
    case Op::kNot:
      return !Eval(n.args[0], c);
    case Op::kExists:
      return ReferenceValues(n.args[0], c, [](const Value&) { return true; });
    case Op::kRegex: {
      std::string buffer;
      return ReferenceValues(n.args[0], c, [&](const Value& v) {
        return PatternMatches(*n.pattern, TextOf(v, buffer));
      });
    }
    case Op::kIn:
    case Op::kNotIn:
      return Membership(n, c);
    case Op::kSome: {
      const Node& predicate = n.args[1];
      if (n.args[0].level == Level::kEvent) {
        for (const auto& e : c.span.events()) {
          Context bound = c;
          bound.event = &e;
          if (Eval(predicate, bound)) return true;
        }
        return false;
      }
      for (const auto& l : c.span.links()) {
        Context bound = c;
        bound.link = &l;
        if (Eval(predicate, bound)) return true;
      }
      return false;
    }
    default:
      return Comparison(n, c);
  }
}

void Print(const Node& n, std::string& out, bool canonical) {
  switch (n.term) {
    case Node::Term::kCall: {
      out += OpName(n.op);
      out += '(';
      std::vector<std::string> args;
      for (const Node& a : n.args) {
        args.emplace_back();
        Print(a, args.back(), canonical);
      }
      // `and` and `or` ask the same whatever their order.
      if (canonical && (n.op == Op::kAnd || n.op == Op::kOr)) std::sort(args.begin(), args.end());
      for (size_t i = 0; i < args.size(); ++i) {
        if (i > 0) out += ',';
        out += args[i];
      }
      out += ')';
      return;
    }
    case Node::Term::kAttr:
      out +=
          fmt::format("attr:{}{}{}", LevelName(n.level), n.level == Level::kNone ? "" : ".", n.key);
      return;
    case Node::Term::kField:
      out += fmt::format("{}.{}", LevelName(n.level), FieldName(n.field));
      return;
    case Node::Term::kNested:
      out += LevelName(n.level);
      return;
    case Node::Term::kScalar:
      if (canonical) out += fmt::format("{}:", static_cast<int>(n.value.kind));
      if (n.value.kind == Kind::kDuration) {
        out += fmt::format("{}ns", n.value.i);
      } else if (n.value.kind == Kind::kTimestamp) {
        out += fmt::format("@{}", n.value.i);
      } else {
        out += fmt::format("\"{}\"", n.value.text);
      }
      return;
    case Node::Term::kList: {
      std::vector<std::string> values;
      for (const Constant& c : n.values) {
        values.push_back(c.kind == Kind::kDuration || c.kind == Kind::kTimestamp
                             ? std::to_string(c.i)
                             : fmt::format("\"{}\"", c.text));
      }
      if (canonical) {
        std::sort(values.begin(), values.end());
        out += fmt::format("{}:", static_cast<int>(n.list_kind));
      }
      out += '[';
      for (size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += values[i];
      }
      out += ']';
      return;
    }
  }
}

}  // namespace

bool PatternMatches(const re2::RE2& pattern, std::string_view text) {
  return re2::RE2::PartialMatch(text, pattern);
}

bool Filter::Matches(const otlp::ResourceSpans& resource_spans, const otlp::ScopeSpans& scope_spans,
                     const otlp::Span& span) const {
  return Eval(root_, Context{resource_spans, scope_spans, span});
}

std::string Filter::DebugString() const {
  std::string out;
  Print(root_, out, false);
  return out;
}

std::string Filter::CanonicalString() const {
  std::string out;
  Print(root_, out, true);
  return out;
}

}  // namespace skua::filter
