// What the v1 and api_v3 HTTP adapters share: pages, JSON pieces, trace IDs from paths, and
// the answer to storage failures.

#include "query/http_common.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json_write.h"
#include "common/status_macros.h"

namespace skua::query {

std::string JsonString(std::string_view s) {
  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  common::WriteString(w, s);
  return buf.GetString();
}

common::HttpResponse NotFoundPage() { return {404, kTextContentType, {}, "404 page not found\n"}; }
common::HttpResponse MethodNotAllowed() {
  return {405, kTextContentType, {{"Allow", "GET"}}, "Method Not Allowed\n"};
}

std::string JsonStringArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& s : items) {
    if (out.size() > 1) out += ",";
    out += JsonString(s);
  }
  return out + "]";
}

absl::StatusOr<common::TraceId> PathTraceId(std::string_view raw) {
  std::string decoded = common::PercentDecode(raw, false).value_or(std::string(raw));
  auto id = common::ParseTraceIdHex(decoded);
  if (!id) return absl::InvalidArgumentError(common::TraceIdHexError(decoded));
  return *id;
}

std::string OperationsJson(const std::vector<storage::Operation>& ops,
                           std::string_view (*kind_of)(const storage::Operation&)) {
  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  w.StartArray();
  for (const auto& op : ops) {
    w.StartObject();
    common::WriteKey(w, "name");
    common::WriteString(w, op.name);
    common::WriteKey(w, "spanKind");
    common::WriteString(w, kind_of(op));
    w.EndObject();
  }
  w.EndArray();
  return buf.GetString();
}

common::HttpResponse StorageFailure(const absl::Status& st, const config::QueryConfig& config,
                                    FailFn fail) {
  if (st.code() == absl::StatusCode::kDeadlineExceeded) {
    return fail(504, fmt::format("the search took longer than query.timeout ({} ms); narrow it "
                                 "(time range, service, limit)",
                                 config.timeout.count()));
  }
  SPDLOG_WARN("query: {}", st.message());
  return fail(500, "storage error; see the server's log");
}

}  // namespace skua::query
