// The catalog: which services of each tenant have spans, and their operations with span kinds.
// One catalog serves every shard; the shards add an entry for each catalog row (`C` key) a
// partition holds and remove it when the partition is dropped, so an operation disappears with the
// last partition that has its spans.
#pragma once

#include <cstdint>
#include <map>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "storage/span_store.h"

namespace skua::storage {

// Thread-safe.
class Catalog {
 public:
  // `kind` is the OTLP SpanKind value.
  void Add(const std::string& tenant, const std::string& service, const std::string& operation,
           uint8_t kind);
  void Remove(const std::string& tenant, const std::string& service, const std::string& operation,
              uint8_t kind);

  // Every service of the tenant, sorted.
  std::vector<std::string> Services(const std::string& tenant) const;
  // The service's operations sorted by name then kind, each once; `kind` non-empty keeps only
  // that kind ("server", "client", ...).
  std::vector<Operation> Operations(const std::string& tenant, const std::string& service,
                                    const std::string& kind) const;

 private:
  mutable std::shared_mutex mu_;
  // service -> (operation, kind) -> partitions (of all shards) holding a catalog row of it
  using Services_ = std::map<std::string, std::map<std::pair<std::string, uint8_t>, int>>;
  std::map<std::string, Services_> tenants_;  // by tenant
};

}  // namespace skua::storage
