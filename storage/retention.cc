// The retention policy (default, per service, per tenant) and the width of time partitions.

#include <algorithm>

#include "storage/span_store.h"

namespace skua::storage {

int64_t RetentionPolicy::For(std::string_view tenant, std::string_view service) const {
  for (const auto& [t, r] : tenant_overrides) {
    if (t == tenant) return r;
  }
  for (const auto& [s, r] : overrides) {
    if (s == service) return r;
  }
  return default_seconds;
}

int64_t RetentionPolicy::Max() const {
  int64_t m = default_seconds;
  for (int64_t r : All()) m = std::max(m, r);
  return m;
}

std::vector<int64_t> RetentionPolicy::All() const {
  std::vector<int64_t> out{default_seconds};
  for (const auto& [s, r] : overrides) out.push_back(r);
  for (const auto& [t, r] : tenant_overrides) out.push_back(r);
  return out;
}

RetentionPolicy RetentionPolicy::From(const config::StorageConfig& config) {
  RetentionPolicy p;
  p.default_seconds = config.retention.count();
  for (const auto& [service, d] : config.retention_overrides)
    p.overrides.emplace_back(service, d.count());
  for (const auto& [tenant, d] : config.tenant_retention_overrides)
    p.tenant_overrides.emplace_back(tenant, d.count());
  return p;
}

int64_t PartitionWidthSeconds(int64_t retention_seconds) {
  return std::clamp<int64_t>(retention_seconds / 12, 1, 86400);
}

}  // namespace skua::storage
