// Parsing of query-string parameters with the error texts of Jaeger's Go handlers
// (strconv.ParseInt, strconv.ParseBool, time.ParseDuration, time.Parse RFC 3339).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "filter/filter.h"
#include "model/rfc3339.h"

namespace skua::query {

using Params = std::vector<std::pair<std::string, std::string>>;

// First value of a parameter, or nullptr.
const std::string* Param(const Params& params, std::string_view name);
// Every value of a repeated parameter.
std::vector<std::string> ParamAll(const Params& params, std::string_view name);
// The canonical name's value if given, else the alias's; with the name found.
std::pair<const std::string*, std::string_view> ParamEither(const Params& params,
                                                            std::string_view canonical,
                                                            std::string_view alias);
// With a second alias (api_v3 `query.searchDepth`, `query.search_depth`, `query.num_traces`).
std::pair<const std::string*, std::string_view> ParamAny(
    const Params& params, std::initializer_list<std::string_view> names);

// Each returns the Go error text on failure, e.g.
// `strconv.ParseInt: parsing "x": invalid syntax`.
absl::StatusOr<int64_t> ParseInt64(const std::string& v);
absl::StatusOr<bool> ParseBool(const std::string& v);
absl::StatusOr<int64_t> ParseDurationNanos(const std::string& v);
using model::ParseRfc3339Nanos;  // RFC 3339 -> ns since the epoch (model/rfc3339.h)
// Integers in a unit, converted to nanoseconds; refused (naming the range) when negative or too
// large for 64-bit nanoseconds, instead of overflowing.
absl::StatusOr<int64_t> ParseUnixMicrosAsNanos(const std::string& v);  // v1 search start/end
absl::StatusOr<int64_t> ParseUnixMillisAsNanos(const std::string& v);  // dependencies endTs
absl::StatusOr<int64_t> ParseMillisAsNanos(const std::string& v);      // dependencies lookback

// RFC 0005 makes the structured filter exclusive with the legacy predicates; the refusal.
inline constexpr char kFilterExclusive[] =
    "query.filter cannot be combined with query.service_name, query.operation_name, "
    "query.attributes, query.duration_min or query.duration_max (Jaeger RFC 0005): express "
    "them in the filter as resource.service, span.name, attributes and span.duration";

// A structured filter (Jaeger RFC 0005) from its JSON form: the jaeger.expression.v1.Call
// message in proto3 JSON (`{"op":"eq","args":[{"attr":{"key":"k"}},{"scalar":{"value":"v"}}]}`).
// Errors: kInvalidArgument (malformed JSON or filter), kUnimplemented (an operator or
// comparison this backend does not serve); the message names what is wrong.
absl::StatusOr<std::shared_ptr<const filter::Filter>> ParseFilterJson(std::string_view json);

// A JSON object of string values (Jaeger's `tags` and api_v3 `query.attributes`), in order.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseStringMapJson(
    const std::string& json);

}  // namespace skua::query
