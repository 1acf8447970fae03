// Counting calls between services from parent/child spans, per minute of the child's start.

#include "storage/dependency_counter.h"

#include "storage/keys.h"

namespace skua::storage {

void DependencyCounter::Add(const std::string& tenant, const common::TraceId& trace,
                            uint64_t span_id, uint64_t parent_span_id, const std::string& service,
                            int64_t start_ns) {
  uint32_t tid = InternTenant(tenant);
  uint32_t sid = Intern(tid, service);
  int64_t bucket = start_ns / kDependencyBucketNanos;
  Key self{trace, span_id, tid};
  if (remembered_.emplace(self, std::make_pair(sid, bucket)).second) {
    order_.push_back(self);
    if (order_.size() > kMaxRememberedSpans) {
      remembered_.erase(order_.front());
      order_.pop_front();
    }
  }
  if (parent_span_id != 0) {
    auto p = remembered_.find(Key{trace, parent_span_id, tid});
    if (p != remembered_.end()) {
      Count(p->second.first, sid, bucket);
    } else {
      Key pk{trace, parent_span_id, tid};
      auto& w = waiting_[pk];
      if (w.empty()) {
        waiting_order_.push_back(pk);
        if (waiting_order_.size() > kMaxRememberedSpans) {
          waiting_.erase(waiting_order_.front());
          waiting_order_.pop_front();
        }
      }
      w.emplace_back(sid, bucket);
    }
  }
  auto w = waiting_.find(self);
  if (w != waiting_.end()) {
    for (const auto& [child, b] : w->second) Count(sid, child, b);
    waiting_.erase(w);
  }
}

void DependencyCounter::Load(const std::string& tenant, int64_t bucket, const std::string& parent,
                             const std::string& child, uint64_t n) {
  uint32_t tid = InternTenant(tenant);
  counts_[bucket][{Intern(tid, parent), Intern(tid, child)}] = n;
}

void DependencyCounter::ForEachDirty(
    const std::function<void(const std::string&, const std::string&)>& fn) const {
  for (int64_t b : dirty_) {
    auto counts = counts_.find(b);
    if (counts == counts_.end()) continue;
    for (const auto& [edge, n] : counts->second) {
      std::string v;
      AppendBigEndian64(v, n);
      const Name& parent = names_[edge.first];
      fn(DependencyKey(tenants_[parent.tenant], b, parent.service, names_[edge.second].service), v);
    }
  }
}

void DependencyCounter::Forget(int64_t bucket) {
  counts_.erase(counts_.begin(), counts_.lower_bound(bucket));
  dirty_.erase(dirty_.begin(), dirty_.lower_bound(bucket));
}

void DependencyCounter::Sum(const std::string& tenant, int64_t start_ns, int64_t end_ns,
                            std::map<std::pair<std::string, std::string>, uint64_t>& out) const {
  auto t = tenant_ids_.find(tenant);
  if (t == tenant_ids_.end()) return;
  auto first = counts_.lower_bound(start_ns / kDependencyBucketNanos);
  for (auto it = first; it != counts_.end() && it->first * kDependencyBucketNanos <= end_ns; ++it) {
    for (const auto& [edge, n] : it->second) {
      const Name& parent = names_[edge.first];
      if (parent.tenant == t->second) out[{parent.service, names_[edge.second].service}] += n;
    }
  }
}

uint32_t DependencyCounter::InternTenant(const std::string& tenant) {
  auto [it, inserted] = tenant_ids_.try_emplace(tenant, static_cast<uint32_t>(tenants_.size()));
  if (inserted) tenants_.push_back(tenant);
  return it->second;
}

uint32_t DependencyCounter::Intern(uint32_t tenant, const std::string& service) {
  auto [it, inserted] = ids_.try_emplace({tenant, service}, static_cast<uint32_t>(names_.size()));
  if (inserted) names_.push_back({tenant, service});
  return it->second;
}

void DependencyCounter::Count(uint32_t parent, uint32_t child, int64_t bucket) {
  if (parent == child) return;  // calls within a service are not dependencies
  ++counts_[bucket][{parent, child}];
  dirty_.insert(bucket);
}

}  // namespace skua::storage
