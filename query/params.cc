// Parsing query-string parameters with the error texts of Jaeger's Go handlers.

#include "query/params.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <charconv>
#include <limits>

#include "common/json_parse.h"
#include "common/status_macros.h"
#include "jaeger/expression/v1/expression.pb.h"
#include "model/go_duration.h"

namespace skua::query {
namespace {

absl::Status Err(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

}  // namespace

const std::string* Param(const Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::vector<std::string> ParamAll(const Params& params, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : params) {
    if (k == name) out.push_back(v);
  }
  return out;
}

std::pair<const std::string*, std::string_view> ParamEither(const Params& params,
                                                            std::string_view canonical,
                                                            std::string_view alias) {
  return ParamAny(params, {canonical, alias});
}

std::pair<const std::string*, std::string_view> ParamAny(
    const Params& params, std::initializer_list<std::string_view> names) {
  for (auto name : names) {
    if (const auto* v = Param(params, name)) return {v, name};
  }
  return {nullptr, *names.begin()};
}

absl::StatusOr<int64_t> ParseInt64(const std::string& v) {
  int64_t out = 0;
  const char* first = v.data();
  if (!v.empty() && v[0] == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, v.data() + v.size(), out);
  if (v.empty() || first == v.data() + v.size() || ptr != v.data() + v.size() ||
      ec == std::errc::invalid_argument) {
    return Err(fmt::format("strconv.ParseInt: parsing \"{}\": invalid syntax", v));
  }
  if (ec == std::errc::result_out_of_range) {
    return Err(fmt::format("strconv.ParseInt: parsing \"{}\": value out of range", v));
  }
  return out;
}

absl::StatusOr<bool> ParseBool(const std::string& v) {
  if (v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "true" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "false" || v == "False") {
    return false;
  }
  return Err(fmt::format("strconv.ParseBool: parsing \"{}\": invalid syntax", v));
}

absl::StatusOr<int64_t> ParseDurationNanos(const std::string& v) {
  auto d = skua::model::ParseGoDuration(v);
  if (!d.ok()) return Err(std::string(common::Message(d.status())));
  return d->count();
}

namespace {

// A non-negative integer count of `unit_ns` nanoseconds, within 64-bit nanoseconds.
absl::StatusOr<int64_t> ParseScaled(const std::string& v, int64_t unit_ns, const char* unit) {
  SKUA_ASSIGN_OR_RETURN(auto n, ParseInt64(v));
  const int64_t max = std::numeric_limits<int64_t>::max() / unit_ns;
  if (n < 0 || n > max) {
    return Err(fmt::format("{} is out of range: {} from 0 to {}", v, unit, max));
  }
  return n * unit_ns;
}

}  // namespace

absl::StatusOr<int64_t> ParseUnixMicrosAsNanos(const std::string& v) {
  return ParseScaled(v, 1'000, "microseconds since 1970");
}

absl::StatusOr<int64_t> ParseUnixMillisAsNanos(const std::string& v) {
  return ParseScaled(v, 1'000'000, "milliseconds since 1970");
}

absl::StatusOr<int64_t> ParseMillisAsNanos(const std::string& v) {
  return ParseScaled(v, 1'000'000, "milliseconds");
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseStringMapJson(
    const std::string& json) {
  rapidjson::Document doc;
  // A map of strings needs two levels; deeper input is refused before it costs anything.
  if (auto err = common::ParseJson(json, doc, /*max_depth=*/64)) {
    return Err(fmt::format("invalid character at offset {}: {}", err->offset, err->what));
  }
  if (!doc.IsObject()) {
    return Err("json: cannot unmarshal non-object into Go value of type map[string]string");
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& m : doc.GetObject()) {
    if (m.value.IsNull()) {
      out.emplace_back(std::string(m.name.GetString(), m.name.GetStringLength()), "");
      continue;
    }
    if (!m.value.IsString()) {
      return Err(fmt::format("json: cannot unmarshal {} into Go value of type string",
                             m.value.IsNumber()  ? "number"
                             : m.value.IsBool()  ? "bool"
                             : m.value.IsNull()  ? "null"
                             : m.value.IsArray() ? "array"
                                                 : "object"));
    }
    std::string key(m.name.GetString(), m.name.GetStringLength());
    std::string value(m.value.GetString(), m.value.GetStringLength());
    bool replaced = false;
    for (auto& [k, v] : out) {
      if (k == key) {
        v = value;  // like decoding into a Go map: the last duplicate wins
        replaced = true;
      }
    }
    if (!replaced) out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const filter::Filter>> ParseFilterJson(std::string_view json) {
  // Protobuf's JSON parser recurses per level; a filter nests at most filter::kMaxDepth calls
  // (four JSON levels each), so the bounded, iterative parser refuses anything much deeper (or
  // larger than a filter of filter::kMaxNodes terms can be) before protobuf sees it.
  rapidjson::Document bounded;
  if (auto e = common::ParseJson(json, bounded, 4 * filter::kMaxDepth + 8, false,
                                 16 * static_cast<uint64_t>(filter::kMaxNodes))) {
    return Err(fmt::format("query.filter: not a filter in JSON (at {}): {}", e->offset, e->what));
  }
  jaeger::expression::v1::Call call;
  auto st = google::protobuf::util::JsonStringToMessage(std::string(json), &call);
  if (!st.ok()) {
    return Err(fmt::format("query.filter: not a filter in JSON: {}",
                           std::string_view(st.message().data(), st.message().size())));
  }
  return filter::FromProto(call);
}

}  // namespace skua::query
