// Per-tenant admission: the number of tenants and each one's rate.

#include "collector/tenant_limits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace skua::collector {

TenantLimits::TenantLimits(const common::TenancyConfig& config, common::Clock& clock,
                           const std::vector<std::string>& stored)
    : config_(config), clock_(clock) {
  int64_t now = clock_.NowNanos();
  for (const auto& t : stored) {
    if (t.empty()) continue;  // data from before tenancy: no tenant can name it
    double rate = static_cast<double>(RateOf(t));
    tenants_.emplace(t, Bucket{rate, rate, now});
  }
}

uint64_t TenantLimits::RateOf(const std::string& tenant) const {
  for (const auto& [t, rate] : config_.rate_overrides) {
    if (t == tenant) return rate;
  }
  return config_.max_spans_per_second;
}

absl::Status TenantLimits::Admit(const std::string& tenant, uint64_t spans) {
  int64_t now = clock_.NowNanos();
  std::lock_guard lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) {
    // With an allowed list the list bounds the tenants; without, max_tenants does.
    if (config_.tenants.empty() && tenants_.size() >= static_cast<size_t>(config_.max_tenants)) {
      return absl::PermissionDeniedError(fmt::format(
          "no new tenant can store data: {} tenants do (tenancy.max_tenants)", tenants_.size()));
    }
    double rate = static_cast<double>(RateOf(tenant));
    it = tenants_.emplace(tenant, Bucket{rate, rate, now}).first;
  }
  Bucket& b = it->second;
  if (b.rate <= 0) return absl::OkStatus();
  double elapsed_s = static_cast<double>(std::max<int64_t>(0, now - b.updated_ns)) / 1e9;
  b.tokens = std::min(b.rate, b.tokens + elapsed_s * b.rate);
  b.updated_ns = now;
  if (b.tokens <= 0) {
    double wait_s = -b.tokens / b.rate;
    return absl::ResourceExhaustedError(
        fmt::format("tenant is over its ingest rate ({} spans/s); retry in {:.1f} s",
                    RateOf(tenant), std::max(wait_s, 0.1)));
  }
  b.tokens -= static_cast<double>(spans);
  return absl::OkStatus();
}

}  // namespace skua::collector
