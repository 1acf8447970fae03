// The filter's vocabularies, as RFC 0005 and jaeger-idl's field registry name them.

#include "filter/vocabulary.h"

#include <array>
#include <charconv>
#include <cmath>

namespace skua::filter {
namespace {

struct FieldInfo {
  Field field;
  Level level;
  std::string_view name;
  FieldType type;
};

constexpr std::array<FieldInfo, 22> kFields = {{
    {Field::kSpanTraceId, Level::kSpan, "traceID", FieldType::kString},
    {Field::kSpanSpanId, Level::kSpan, "spanID", FieldType::kString},
    {Field::kSpanParentSpanId, Level::kSpan, "parentSpanID", FieldType::kString},
    {Field::kSpanTraceState, Level::kSpan, "traceState", FieldType::kString},
    {Field::kSpanName, Level::kSpan, "name", FieldType::kString},
    {Field::kSpanKind, Level::kSpan, "kind", FieldType::kSpanKind},
    {Field::kSpanStartTime, Level::kSpan, "startTime", FieldType::kTimestamp},
    {Field::kSpanEndTime, Level::kSpan, "endTime", FieldType::kTimestamp},
    {Field::kSpanDuration, Level::kSpan, "duration", FieldType::kDuration},
    {Field::kSpanStatus, Level::kSpan, "status", FieldType::kSpanStatus},
    {Field::kSpanStatusMessage, Level::kSpan, "statusMessage", FieldType::kString},
    {Field::kResourceService, Level::kResource, "service", FieldType::kString},
    {Field::kResourceSchemaUrl, Level::kResource, "schemaURL", FieldType::kString},
    {Field::kScopeName, Level::kScope, "name", FieldType::kString},
    {Field::kScopeVersion, Level::kScope, "version", FieldType::kString},
    {Field::kScopeSchemaUrl, Level::kScope, "schemaURL", FieldType::kString},
    {Field::kEventName, Level::kEvent, "name", FieldType::kString},
    {Field::kEventTime, Level::kEvent, "time", FieldType::kTimestamp},
    {Field::kEventTimeSinceStart, Level::kEvent, "timeSinceStart", FieldType::kDuration},
    {Field::kLinkTraceId, Level::kLink, "traceID", FieldType::kString},
    {Field::kLinkSpanId, Level::kLink, "spanID", FieldType::kString},
    {Field::kLinkTraceState, Level::kLink, "traceState", FieldType::kString},
}};

constexpr std::array<std::pair<Level, std::string_view>, 6> kLevels = {{
    {Level::kNone, ""},
    {Level::kSpan, "span"},
    {Level::kResource, "resource"},
    {Level::kScope, "scope"},
    {Level::kEvent, "event"},
    {Level::kLink, "link"},
}};

constexpr std::array<std::pair<Op, std::string_view>, 14> kOps = {{
    {Op::kAnd, "and"},
    {Op::kOr, "or"},
    {Op::kNot, "not"},
    {Op::kEq, "eq"},
    {Op::kNe, "ne"},
    {Op::kGt, "gt"},
    {Op::kLt, "lt"},
    {Op::kGte, "gte"},
    {Op::kLte, "lte"},
    {Op::kRegex, "regex"},
    {Op::kExists, "exists"},
    {Op::kIn, "in"},
    {Op::kNotIn, "not_in"},
    {Op::kSome, "some"},
}};

const FieldInfo& InfoOf(Field field) { return kFields[static_cast<size_t>(field)]; }

}  // namespace

std::optional<Level> LevelNamed(std::string_view name) {
  for (const auto& [level, n] : kLevels) {
    if (n == name) return level;
  }
  return std::nullopt;
}

std::string_view LevelName(Level level) { return kLevels[static_cast<size_t>(level)].second; }

std::optional<Op> OpNamed(std::string_view name) {
  for (const auto& [op, n] : kOps) {
    if (n == name) return op;
  }
  return std::nullopt;
}

std::string_view OpName(Op op) { return kOps[static_cast<size_t>(op)].second; }

bool IsTextSearchOp(std::string_view name) { return name == "phrase" || name == "fulltext"; }

std::optional<Field> FieldNamed(Level level, std::string_view name) {
  for (const auto& info : kFields) {
    if (info.level == level && info.name == name) return info.field;
  }
  return std::nullopt;
}

std::string_view FieldName(Field field) { return InfoOf(field).name; }
Level FieldLevel(Field field) { return InfoOf(field).level; }
FieldType TypeOf(Field field) { return InfoOf(field).type; }

std::optional<Kind> KindNamed(std::string_view type) {
  if (type.empty()) return Kind::kAny;
  if (type == "string") return Kind::kString;
  if (type == "int") return Kind::kInt;
  if (type == "double") return Kind::kDouble;
  if (type == "bool") return Kind::kBool;
  return std::nullopt;
}

bool IsSpanKindWord(std::string_view w) {
  return w == "unspecified" || w == "internal" || w == "server" || w == "client" ||
         w == "producer" || w == "consumer";
}

bool IsSpanStatusWord(std::string_view w) { return w == "unset" || w == "ok" || w == "error"; }

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty() || text.front() == '+') return std::nullopt;
  double d = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(d)) {
    return std::nullopt;
  }
  return d;
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  int64_t i = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return i;
}

std::string Quoted(std::string_view text) {
  constexpr size_t kShown = 100;
  if (text.size() <= kShown) return std::string(text);
  size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "…";
}

const std::vector<std::string>& SupportedLevels() {
  static const auto* levels =
      new std::vector<std::string>{"span", "resource", "scope", "event", "link"};
  return *levels;
}

const std::vector<std::string>& SupportedOperators() {
  static const auto* ops = [] {
    auto* v = new std::vector<std::string>;
    for (const auto& [op, name] : kOps) v->emplace_back(name);
    return v;
  }();
  return *ops;
}

}  // namespace skua::filter
