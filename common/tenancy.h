// Tenants: which one a call belongs to, read from a request header (gRPC metadata) as Jaeger's
// `tenancy` settings do, and whether it may call at all. With tenancy on, every export and
// query names its tenant; storage keeps each tenant's data apart (docs/storage.md), so what a
// call can see follows from the tenant resolved here and nothing else.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skua::common {

struct TenancyConfig {
  bool enabled = false;
  // The header (HTTP) or metadata key (gRPC) naming the tenant; case-insensitive. Jaeger's
  // default; Tempo and the OpenTelemetry Collector's exporters to it use X-Scope-OrgID.
  std::string header = "x-tenant";
  // The tenants allowed; empty: any well-formed tenant ID (CheckTenantId), up to max_tenants
  // of them storing data.
  std::vector<std::string> tenants;
  // With `tenants` empty: how many distinct tenants may store data (each has column families
  // of its own in every shard, so each costs memory). A new tenant past it is refused.
  int max_tenants = 100;
  // Spans per second a tenant may export, averaged (a request is admitted while the tenant is
  // not over its rate, then charged; a second's worth may come at once). 0 = no limit.
  uint64_t max_spans_per_second = 0;
  // Tenants with another limit than max_spans_per_second (0 = no limit for that tenant).
  std::vector<std::pair<std::string, uint64_t>> rate_overrides;
  // (Per-tenant retention is storage's: StorageConfig::tenant_retention_overrides.)
};

// A tenant ID as a header may carry it: 1 to 150 bytes of ASCII letters, digits and
// `!-_.*'()`, neither "." nor ".." (Tempo's rule for X-Scope-OrgID). kInvalidArgument otherwise.
absl::Status CheckTenantId(std::string_view id);

// Validates a configuration: the header name is a valid token, every listed tenant and every
// tenant named by an override is well-formed, and `retention_tenants` (the tenants of
// tenancy.retention_overrides) too.
// kInvalidArgument naming the key.
absl::Status CheckTenancyConfig(const TenancyConfig& config,
                                const std::vector<std::string>& retention_tenants);

// Thread-safe (immutable).
// The HTTP status of a refusal by Tenancy::Resolve: 401 for kUnauthenticated, else 403.
int TenantRefusalHttpStatus(const absl::Status& st);

class Tenancy {
 public:
  explicit Tenancy(TenancyConfig config);

  bool enabled() const { return config_.enabled; }
  // Lowercase, as HttpRequest::Header and gRPC metadata want it.
  const std::string& header() const { return header_; }
  const TenancyConfig& config() const { return config_; }

  // The tenant of a call whose tenant header is `value` (null when absent): "" when tenancy is
  // off (the header is then ignored); otherwise the value if allowed. Errors carry nothing but
  // the reason: kUnauthenticated (no tenant: the header is missing or empty), kPermissionDenied
  // (not an allowed tenant, or not a well-formed tenant ID).
  absl::StatusOr<std::string> Resolve(const std::string* value) const;

 private:
  TenancyConfig config_;
  std::string header_;
  std::set<std::string, std::less<>> allowed_;
};

}  // namespace skua::common
