// What each tenant may export: how many distinct tenants may store data at all (when any tenant
// ID is allowed), and each tenant's spans per second. Applied by the ingest pipeline before a
// request is queued, so a refused request stored nothing and may be retried.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/tenancy.h"

namespace skua::collector {

// Thread-safe. Memory: one entry per tenant admitted, at most max_tenants (or the allowed list).
class TenantLimits {
 public:
  // `stored`: the tenants that already have data (they count towards max_tenants). `clock` must
  // outlive this.
  TenantLimits(const common::TenancyConfig& config, common::Clock& clock,
               const std::vector<std::string>& stored);

  // Admits `spans` spans of `tenant` now, or refuses them:
  //   kPermissionDenied   a new tenant while max_tenants tenants store data (not retryable);
  //   kResourceExhausted  the tenant is over its rate (retryable; the message says when).
  // A request is admitted while its tenant is within its rate, and then charged in full: a
  // tenant averages its rate whatever its request sizes, with up to a second's worth at once.
  absl::Status Admit(const std::string& tenant, uint64_t spans);

 private:
  struct Bucket {
    double rate = 0;         // spans per second; 0 = unlimited
    double tokens = 0;       // may go negative: the debt of the last request admitted
    int64_t updated_ns = 0;  // when tokens were last refilled
  };
  uint64_t RateOf(const std::string& tenant) const;

  const common::TenancyConfig config_;
  common::Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> tenants_;  // guarded by mu_
};

}  // namespace skua::collector
