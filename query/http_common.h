// What the query port's HTTP adapters (v1 and api_v3) share: plain-text pages, JSON pieces,
// trace IDs from paths, and answering a storage failure. Private to query/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/http_server.h"
#include "common/ids.h"
#include "query/query_service.h"

namespace skua::query {

inline constexpr char kTextContentType[] = "text/plain; charset=utf-8";

common::HttpResponse NotFoundPage();
common::HttpResponse MethodNotAllowed();

// A JSON string literal of `s`.
std::string JsonString(std::string_view s);
// A JSON array of strings.
std::string JsonStringArray(const std::vector<std::string>& items);
// [{"name":…,"spanKind":…}], the kind as `kind_of` reports it for each operation.
std::string OperationsJson(const std::vector<storage::Operation>& ops,
                           std::string_view (*kind_of)(const storage::Operation&));

// A trace ID from a URL path segment: percent-decoded, then 1–32 hex digits (Jaeger's rule;
// the refusal is worded as Jaeger's, common::TraceIdHexError).
absl::StatusOr<common::TraceId> PathTraceId(std::string_view raw);

// The answer to a failed storage call, through the API's error envelope `fail(status, msg)`:
// 504 when a search ran out of time, else 500 without the cause (it may name files of the data
// directory; it goes to the log).
using FailFn = common::HttpResponse (*)(int status, std::string_view message);
common::HttpResponse StorageFailure(const absl::Status& st, const config::QueryConfig& config,
                                    FailFn fail);

}  // namespace skua::query
