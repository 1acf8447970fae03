// The catalog of services and operations (with span kinds) of every shard, kept in memory.

#include "storage/catalog.h"

#include <algorithm>
#include <mutex>
#include <tuple>

#include "model/values.h"
#include "storage/span_terms.h"

namespace skua::storage {

void Catalog::Add(const std::string& service, const std::string& operation, uint8_t kind) {
  std::unique_lock lock(mu_);
  ++services_[service][{operation, kind}];
}

void Catalog::Remove(const std::string& service, const std::string& operation, uint8_t kind) {
  std::unique_lock lock(mu_);
  auto s = services_.find(service);
  if (s == services_.end()) return;
  auto op = s->second.find({operation, kind});
  if (op == s->second.end()) return;
  if (--op->second == 0) s->second.erase(op);
  if (s->second.empty()) services_.erase(s);
}

std::vector<std::string> Catalog::Services() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [s, ops] : services_) out.push_back(s);
  return out;
}

std::vector<Operation> Catalog::Operations(const std::string& service,
                                           const std::string& kind) const {
  std::shared_lock lock(mu_);
  std::vector<Operation> out;
  auto it = services_.find(service);
  if (it == services_.end()) return out;
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
