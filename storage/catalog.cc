// The catalog of services and operations (with span kinds) of every shard, kept in memory.

#include "storage/catalog.h"

#include <algorithm>
#include <mutex>
#include <tuple>

#include "model/values.h"
#include "storage/span_terms.h"

namespace skua::storage {

void Catalog::Add(const std::string& tenant, const std::string& service,
                  const std::string& operation, uint8_t kind) {
  std::unique_lock lock(mu_);
  ++tenants_[tenant][service][{operation, kind}];
}

void Catalog::Remove(const std::string& tenant, const std::string& service,
                     const std::string& operation, uint8_t kind) {
  std::unique_lock lock(mu_);
  auto t = tenants_.find(tenant);
  if (t == tenants_.end()) return;
  auto& services = t->second;
  auto s = services.find(service);
  if (s == services.end()) return;
  auto op = s->second.find({operation, kind});
  if (op == s->second.end()) return;
  if (--op->second == 0) s->second.erase(op);
  if (s->second.empty()) services.erase(s);
  if (services.empty()) tenants_.erase(t);
}

std::vector<std::string> Catalog::Services(const std::string& tenant) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  auto t = tenants_.find(tenant);
  if (t == tenants_.end()) return out;
  for (const auto& [s, ops] : t->second) out.push_back(s);
  return out;
}

std::vector<Operation> Catalog::Operations(const std::string& tenant, const std::string& service,
                                           const std::string& kind) const {
  std::shared_lock lock(mu_);
  std::vector<Operation> out;
  auto t = tenants_.find(tenant);
  if (t == tenants_.end()) return out;
  auto it = t->second.find(service);
  if (it == t->second.end()) return out;
  for (const auto& [op, partitions] : it->second) {
    const auto& [name, k] = op;
    std::string kind_name(
        model::SpanKindName(static_cast<opentelemetry::proto::trace::v1::Span::SpanKind>(k)));
    if (kind.empty() || kind == kind_name) out.push_back({name, kind_name});
  }
  std::sort(out.begin(), out.end(), [](const Operation& a, const Operation& b) {
    return std::tie(a.name, a.span_kind) < std::tie(b.name, b.span_kind);
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace skua::storage
