// Resolving a call's tenant from its header, and the rules of tenant IDs.

#include "common/tenancy.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/http_server.h"
#include "common/status_macros.h"

namespace skua::common {
namespace {

constexpr size_t kMaxTenantIdBytes = 150;

bool TenantIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!-_.*'()").find(c) != std::string_view::npos;
}

// An HTTP header name: a non-empty RFC 9110 token.
bool HeaderToken(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

}  // namespace

absl::Status CheckTenantId(std::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("tenant ID is empty");
  if (id.size() > kMaxTenantIdBytes) {
    return absl::InvalidArgumentError(
        fmt::format("tenant ID is longer than {} bytes", kMaxTenantIdBytes));
  }
  if (id == "." || id == "..") return absl::InvalidArgumentError("tenant ID is '.' or '..'");
  if (!std::all_of(id.begin(), id.end(), TenantIdChar)) {
    return absl::InvalidArgumentError(
        "tenant ID may only hold ASCII letters, digits and the characters !-_.*'()");
  }
  return absl::OkStatus();
}

absl::Status CheckTenancyConfig(const TenancyConfig& config,
                                const std::vector<std::string>& retention_tenants) {
  if (!HeaderToken(config.header)) {
    return absl::InvalidArgumentError(
        fmt::format("tenancy.header: '{}' is not a valid header name", config.header));
  }
  auto check = [](std::string_view key, std::string_view id) -> absl::Status {
    if (absl::Status st = CheckTenantId(id); !st.ok()) {
      return absl::InvalidArgumentError(fmt::format("{}: '{}': {}", key, id, Message(st)));
    }
    return absl::OkStatus();
  };
  for (const auto& t : config.tenants) {
    if (auto st = check("tenancy.tenants", t); !st.ok()) return st;
  }
  for (const auto& [t, rate] : config.rate_overrides) {
    if (auto st = check("tenancy.rate_overrides", t); !st.ok()) return st;
  }
  for (const auto& t : retention_tenants) {
    if (auto st = check("tenancy.retention_overrides", t); !st.ok()) return st;
  }
  if (config.max_tenants < 1) {
    return absl::InvalidArgumentError("tenancy.max_tenants: must be at least 1");
  }
  return absl::OkStatus();
}

int TenantRefusalHttpStatus(const absl::Status& st) {
  return st.code() == absl::StatusCode::kUnauthenticated ? 401 : 403;
}

Tenancy::Tenancy(TenancyConfig config)
    : config_(std::move(config)),
      header_(AsciiLower(config_.header)),
      allowed_(config_.tenants.begin(), config_.tenants.end()) {}

absl::StatusOr<std::string> Tenancy::Resolve(const std::string* value) const {
  if (!config_.enabled) return std::string();
  if (value == nullptr || value->empty()) {
    return absl::UnauthenticatedError(fmt::format("missing tenant header '{}'", header_));
  }
  // Neither the value nor the list is echoed: a caller learns only that it was refused.
  if (!CheckTenantId(*value).ok() || (!allowed_.empty() && !allowed_.contains(*value))) {
    return absl::PermissionDeniedError("unknown tenant");
  }
  return *value;
}

}  // namespace skua::common
