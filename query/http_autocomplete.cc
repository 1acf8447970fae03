// Autocomplete over HTTP: Skua's own attribute keys and values (/api/v3/attribute-keys,
// /api/v3/attribute-values) and the same answers in the shape Grafana's Tempo data source asks
// for (/api/search/tags, /api/v2/search/tags, /api/search/tag/{tag}/values,
// /api/v2/search/tag/{tag}/values). Every answer comes from the attribute catalog and the
// catalog of services and operations; none reads spans.

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/http_server.h"
#include "common/status_macros.h"
#include "filter/filter.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "query/http_adapters.h"
#include "query/http_common.h"

namespace skua::query {
namespace {

using common::HttpResponse;
using filter::Level;
using otlp_any = ::opentelemetry::proto::common::v1::AnyValue;

HttpResponse Json(std::string body) { return {200, "application/json", {}, std::move(body)}; }

// Skua's level words are RFC 0005's; Tempo's scopes name the scope level "instrumentation".
constexpr std::pair<std::string_view, Level> kLevels[] = {
    {"span", Level::kSpan},   {"resource", Level::kResource}, {"scope", Level::kScope},
    {"event", Level::kEvent}, {"link", Level::kLink},
};
constexpr std::pair<std::string_view, Level> kTempoScopes[] = {
    {"resource", Level::kResource},     {"span", Level::kSpan},
    {"event", Level::kEvent},           {"link", Level::kLink},
    {"instrumentation", Level::kScope},
};
// TraceQL intrinsics whose values Skua serves (name, status, kind), and duration, which has none.
constexpr std::string_view kIntrinsics[] = {"duration", "kind", "name", "status"};

std::string_view LevelWord(Level level) {
  for (const auto& [word, l] : kLevels) {
    if (l == level) return word;
  }
  return "";
}

std::string_view TypeWord(uint8_t type) {
  switch (type) {
    case otlp_any::kBoolValue:
      return "bool";
    case otlp_any::kIntValue:
      return "int";
    case otlp_any::kDoubleValue:
      return "float";
    default:
      return "string";
  }
}

}  // namespace

AutocompleteHttpApi::AutocompleteHttpApi(QueryService& service, std::string tenant)
    : service_(service), tenant_(std::move(tenant)) {}

std::optional<HttpResponse> AutocompleteHttpApi::ParseCommon(const Params& params,
                                                             storage::AttributeQuery& q) const {
  q.tenant = tenant_;
  if (const auto* s = Param(params, "service")) q.service = *s;
  if (const auto* p = Param(params, "prefix")) q.prefix = *p;
  if (const auto* l = Param(params, "level")) {
    auto found = std::find_if(std::begin(kLevels), std::end(kLevels),
                              [&](const auto& e) { return e.first == *l; });
    if (found == std::end(kLevels)) {
      return V3HttpApi::Fail(400, fmt::format("malformed parameter level: '{}' is not one of "
                                              "span, resource, scope, event, link",
                                              *l));
    }
    q.level = found->second;
  }
  return LimitFrom(params, q, V3HttpApi::Fail);
}

std::optional<HttpResponse> AutocompleteHttpApi::LimitFrom(const Params& params,
                                                           storage::AttributeQuery& q,
                                                           FailFn fail) const {
  q.limit = static_cast<size_t>(service_.SearchLimit(0));
  if (const auto* l = Param(params, "limit")) {
    auto n = ParseInt64(*l);
    if (!n.ok())
      return fail(400, fmt::format("malformed parameter limit: {}", common::Message(n.status())));
    if (*n < 0) return fail(400, "malformed parameter limit: must not be negative");
    q.limit = static_cast<size_t>(service_.SearchLimit(*n));
  }
  return std::nullopt;
}

HttpResponse AutocompleteHttpApi::Keys(const Params& params) {
  storage::AttributeQuery q;
  if (auto bad = ParseCommon(params, q)) return *bad;
  std::string body = "{\"keys\":[";
  bool first = true;
  for (const auto& k : service_.AttributeKeys(q)) {
    if (!first) body += ',';
    first = false;
    body += fmt::format("{{\"level\":\"{}\",\"key\":{},\"count\":{}}}", LevelWord(k.level),
                        JsonString(k.key), k.count);
  }
  return Json(body + "]}");
}

HttpResponse AutocompleteHttpApi::Values(const Params& params) {
  storage::AttributeQuery q;
  if (auto bad = ParseCommon(params, q)) return *bad;
  const auto* key = Param(params, "key");
  if (key == nullptr || key->empty()) return V3HttpApi::Fail(400, "parameter key is required");
  q.key = *key;
  auto found = service_.AttributeValues(q);
  std::string body = "{\"values\":[";
  bool first = true;
  for (const auto& v : found.values) {
    if (!first) body += ',';
    first = false;
    body += fmt::format("{{\"value\":{},\"type\":\"{}\",\"count\":{}}}", JsonString(v.value),
                        TypeWord(v.type), v.count);
  }
  return Json(fmt::format("{}],\"truncated\":{}}}", body, found.truncated ? "true" : "false"));
}

// Tempo's `q` narrows tag answers to the spans a TraceQL query matches, as far as the backend
// can ("best effort" in Tempo's words). Skua understands one condition: the service, as
// {resource.service.name="x"} or {.service.name="x"}; any other query is answered unnarrowed.
std::string AutocompleteHttpApi::TempoService(const Params& params) {
  const auto* q = Param(params, "q");
  if (q == nullptr) return "";
  std::string_view s = *q;
  auto trim = [](std::string_view& v) {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  };
  trim(s);
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return "";
  s = s.substr(1, s.size() - 2);
  trim(s);
  for (std::string_view lhs : {"resource.service.name", ".service.name"}) {
    if (!s.starts_with(lhs)) continue;
    std::string_view rest = s.substr(lhs.size());
    trim(rest);
    if (!rest.starts_with('=') || rest.starts_with("=~")) return "";
    rest.remove_prefix(1);
    trim(rest);
    if (rest.size() < 2 || rest.front() != '"' || rest.back() != '"') return "";
    rest = rest.substr(1, rest.size() - 2);
    if (rest.find_first_of("\"\\") != std::string_view::npos) return "";
    return std::string(rest);
  }
  return "";
}

std::optional<HttpResponse> AutocompleteHttpApi::TempoQuery(const Params& params,
                                                            storage::AttributeQuery& q) const {
  q.tenant = tenant_;
  q.service = TempoService(params);
  return LimitFrom(params, q, V1HttpApi::Fail);
}

std::vector<std::string> AutocompleteHttpApi::TagNames(storage::AttributeQuery q, Level level) {
  q.level = level;
  q.limit = SIZE_MAX;  // every key: the limit applies to the sorted names
  std::set<std::string> names;
  for (auto& k : service_.AttributeKeys(q)) names.insert(std::move(k.key));
  return {names.begin(), names.end()};
}

HttpResponse AutocompleteHttpApi::TempoTags(const Params& params) {
  storage::AttributeQuery q;
  if (auto bad = TempoQuery(params, q)) return *bad;
  auto names = TagNames(q, Level::kNone);
  if (names.size() > q.limit) names.resize(q.limit);
  return Json("{\"tagNames\":" + JsonStringArray(names) + "}");
}

HttpResponse AutocompleteHttpApi::TempoTagsV2(const Params& params) {
  storage::AttributeQuery q;
  if (auto bad = TempoQuery(params, q)) return *bad;
  const auto* scope = Param(params, "scope");
  std::string body = "{\"scopes\":[";
  bool first = true;
  auto add = [&](std::string_view name, std::vector<std::string> tags) {
    if (tags.size() > q.limit) tags.resize(q.limit);
    if (!first) body += ',';
    first = false;
    body += fmt::format("{{\"name\":\"{}\",\"tags\":{}}}", name, JsonStringArray(tags));
  };
  bool any = scope == nullptr || scope->empty() || *scope == "all";
  bool known = any || *scope == "intrinsic" ||
               std::any_of(std::begin(kTempoScopes), std::end(kTempoScopes),
                           [&](const auto& e) { return e.first == *scope; });
  if (!known) {
    return V1HttpApi::Fail(400, fmt::format("invalid scope '{}': one of resource, span, event, "
                                            "link, instrumentation, intrinsic, all",
                                            *scope));
  }
  for (const auto& [name, level] : kTempoScopes) {
    if (!any && *scope != name) continue;
    auto tags = TagNames(q, level);
    if (!tags.empty() || !any) add(name, std::move(tags));
  }
  if (any || *scope == "intrinsic") {
    add("intrinsic", std::vector<std::string>(std::begin(kIntrinsics), std::end(kIntrinsics)));
  }
  return Json(body + "]}");
}

// A Tempo tag: `resource.x`, `span.x`, `event.x`, `link.x`, `instrumentation.x` (one level),
// `.x` or `x` (every level), or an intrinsic.
std::optional<AutocompleteHttpApi::Tag> AutocompleteHttpApi::ParseTempoTag(std::string_view raw,
                                                                           bool scoped) {
  auto decoded = common::PercentDecode(raw, false);
  if (!decoded || decoded->empty()) return std::nullopt;
  Tag t;
  std::string_view name = *decoded;
  if (scoped) {
    for (std::string_view intrinsic :
         {"name", "status", "kind", "span:name", "span:status", "span:kind"}) {
      if (name == intrinsic) {
        t.intrinsic = std::string(name.substr(name.find(':') + 1));
        return t;
      }
    }
    if (name.starts_with('.')) {
      name.remove_prefix(1);
    } else {
      for (const auto& [word, level] : kTempoScopes) {
        if (name.size() > word.size() && name.starts_with(word) && name[word.size()] == '.') {
          t.level = level;
          name.remove_prefix(word.size() + 1);
          break;
        }
      }
    }
  }
  if (name.empty()) return std::nullopt;
  t.key = std::string(name);
  return t;
}

std::vector<std::pair<std::string, std::string>> AutocompleteHttpApi::TagValues(
    const storage::AttributeQuery& base, const Tag& tag) {
  std::vector<std::pair<std::string, std::string>> out;  // (type, value)
  if (tag.intrinsic == "status") {
    for (const char* s : {"error", "ok", "unset"}) out.emplace_back("keyword", s);
  } else if (tag.intrinsic == "kind") {
    for (const char* k : {"client", "consumer", "internal", "producer", "server", "unspecified"}) {
      out.emplace_back("keyword", k);
    }
  } else if (tag.intrinsic == "name") {
    std::set<std::string> names;
    auto services = base.service.empty() ? service_.Services(base.tenant)
                                         : std::vector<std::string>{base.service};
    for (const auto& s : services) {
      for (auto& op : service_.Operations(base.tenant, s, "")) names.insert(std::move(op.name));
    }
    for (const auto& n : names) out.emplace_back("string", n);
  } else {
    storage::AttributeQuery q = base;
    q.level = tag.level;
    q.key = tag.key;
    for (const auto& v : service_.AttributeValues(q).values) {
      out.emplace_back(std::string(TypeWord(v.type)), v.value);
    }
  }
  if (out.size() > base.limit) out.resize(base.limit);
  return out;
}

HttpResponse AutocompleteHttpApi::TempoTagValues(const Params& params, std::string_view raw_tag,
                                                 bool v2) {
  storage::AttributeQuery q;
  if (auto bad = TempoQuery(params, q)) return *bad;
  auto tag = ParseTempoTag(raw_tag, v2);
  if (!tag)
    return V1HttpApi::Fail(400, fmt::format("please provide a valid tagName: '{}'", raw_tag));
  auto values = TagValues(q, *tag);
  std::string body = "{\"tagValues\":[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) body += ',';
    if (v2) {
      body += fmt::format("{{\"type\":\"{}\",\"value\":{}}}", values[i].first,
                          JsonString(values[i].second));
    } else {
      body += JsonString(values[i].second);
    }
  }
  return Json(body + "]}");
}

}  // namespace skua::query
