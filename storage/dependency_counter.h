// Calls between services: pairs child spans with their parents' services and counts them per
// minute of the child's start (the `D` rows of a shard), apart per tenant: a span is only ever
// paired with a span of its own tenant.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ids.h"

namespace skua::storage {

// Buckets of child start time.
inline constexpr int64_t kDependencyBucketNanos = 60'000'000'000;
// Spans remembered to pair children with parents that arrive in other requests, and children
// remembered waiting for their parent (each bound).
inline constexpr size_t kMaxRememberedSpans = 50'000;

// Single-threaded: used by a shard's writer (and under the shard's index mutex for reads).
class DependencyCounter {
 public:
  // A span of `tenant`'s `service` in `trace`; parent_span_id 0 for a root.
  void Add(const std::string& tenant, const common::TraceId& trace, uint64_t span_id,
           uint64_t parent_span_id, const std::string& service, int64_t start_ns);

  // Restores a persisted count (startup).
  void Load(const std::string& tenant, int64_t bucket, const std::string& parent,
            const std::string& child, uint64_t n);

  // Calls fn(key, value) with the `D` rows of the buckets changed since the last ClearDirty().
  void ForEachDirty(const std::function<void(const std::string&, const std::string&)>& fn) const;
  void ClearDirty() { dirty_.clear(); }

  // Drops the counts of buckets before `bucket`.
  void Forget(int64_t bucket);

  // Adds to `out` the calls of `tenant` whose child started in [start_ns, end_ns] (to a bucket).
  void Sum(const std::string& tenant, int64_t start_ns, int64_t end_ns,
           std::map<std::pair<std::string, std::string>, uint64_t>& out) const;

 private:
  struct Key {
    common::TraceId trace;
    uint64_t span;
    uint32_t tenant;  // into tenants_
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return common::TraceIdHash()(k.trace) ^ k.span ^ (size_t{k.tenant} << 40);
    }
  };
  struct Name {
    uint32_t tenant;  // into tenants_
    std::string service;
  };

  uint32_t InternTenant(const std::string& tenant);
  uint32_t Intern(uint32_t tenant, const std::string& service);
  void Count(uint32_t parent, uint32_t child, int64_t bucket);

  std::vector<std::string> tenants_;
  std::unordered_map<std::string, uint32_t> tenant_ids_;
  std::vector<Name> names_;  // a tenant's service
  std::map<std::pair<uint32_t, std::string>, uint32_t> ids_;
  std::unordered_map<Key, std::pair<uint32_t, int64_t>, KeyHash> remembered_;
  std::deque<Key> order_;
  std::unordered_map<Key, std::vector<std::pair<uint32_t, int64_t>>, KeyHash> waiting_;
  std::deque<Key> waiting_order_;
  std::map<int64_t, std::map<std::pair<uint32_t, uint32_t>, uint64_t>> counts_;
  std::set<int64_t> dirty_;
};

}  // namespace skua::storage
