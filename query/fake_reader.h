// An in-memory SpanReader for the query part's unit tests: the adapters and the query service
// are tested on it without RocksDB. It answers from what a test put in, records the last
// search, and can be told to fail. Everything put in belongs to one tenant (set_tenant; "" by
// default): calls of any other tenant see nothing. Not for production use.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/values.h"
#include "storage/span_store.h"

namespace skua::query {

class FakeReader final : public storage::SpanReader {
 public:
  // Stores `trace` under the trace ID of its first span.
  void Put(const storage::otlp::TracesData& trace) {
    std::lock_guard lock(mu_);
    const auto& span = trace.resource_spans(0).scope_spans(0).spans(0);
    traces_[*common::TraceId::FromBytes(span.trace_id())] = trace;
  }
  void AddOperation(const std::string& service, storage::Operation op) {
    std::lock_guard lock(mu_);
    operations_[service].push_back(std::move(op));
  }
  void AddLink(storage::DependencyLink link) {
    std::lock_guard lock(mu_);
    links_.push_back(std::move(link));
  }
  // What AttributeKeys / AttributeValuesOf answer (to the tenant's calls).
  void SetAttributes(std::vector<storage::AttributeKeyCount> keys,
                     storage::AttributeValues values) {
    std::lock_guard lock(mu_);
    attribute_keys_ = std::move(keys);
    attribute_values_ = std::move(values);
  }
  std::optional<storage::AttributeQuery> last_attribute_query() const {
    std::lock_guard lock(mu_);
    return last_attribute_query_;
  }
  // The tenant whose data this holds.
  void set_tenant(std::string tenant) {
    std::lock_guard lock(mu_);
    tenant_ = std::move(tenant);
  }
  // Every call that can fail fails with `st` until set back to OK.
  void FailWith(absl::Status st) {
    std::lock_guard lock(mu_);
    failure_ = std::move(st);
  }
  // The last search asked of it.
  std::optional<storage::TraceQuery> last_query() const {
    std::lock_guard lock(mu_);
    return last_query_;
  }
  std::optional<std::pair<int64_t, int64_t>> last_dependency_range() const {
    std::lock_guard lock(mu_);
    return last_dependency_range_;
  }

  std::vector<storage::AttributeKeyCount> AttributeKeys(const storage::AttributeQuery& q) override {
    std::lock_guard lock(mu_);
    last_attribute_query_ = q;
    if (q.tenant != tenant_) return {};
    return attribute_keys_;
  }
  storage::AttributeValues AttributeValuesOf(const storage::AttributeQuery& q) override {
    std::lock_guard lock(mu_);
    last_attribute_query_ = q;
    if (q.tenant != tenant_) return {};
    return attribute_values_;
  }

  // Every stored trace with a span of q.service (any if empty), newest first by its newest
  // span's start, at most q.limit.
  absl::StatusOr<std::vector<storage::TraceHit>> FindTraces(const storage::TraceQuery& q) override {
    std::lock_guard lock(mu_);
    last_query_ = q;
    if (!failure_.ok()) return failure_;
    std::vector<storage::TraceHit> hits;
    if (q.tenant != tenant_) return hits;
    for (const auto& [id, trace] : traces_) {
      std::optional<int64_t> newest;
      for (const auto& rs : trace.resource_spans()) {
        if (!q.service.empty() && model::ServiceNameOf(rs.resource()) != q.service) continue;
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& s : ss.spans()) {
            auto start = static_cast<int64_t>(s.start_time_unix_nano());
            if (!newest || start > *newest) newest = start;
          }
        }
      }
      if (newest) hits.push_back({id, *newest, nullptr});
    }
    std::sort(hits.begin(), hits.end(),
              [](const auto& a, const auto& b) { return a.start_ns > b.start_ns; });
    if (hits.size() > static_cast<size_t>(std::max(q.limit, 0))) hits.resize(q.limit);
    return hits;
  }

  std::vector<std::string> Services(const std::string& tenant) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    if (tenant != tenant_) return out;
    for (const auto& [id, trace] : traces_) {
      for (const auto& rs : trace.resource_spans()) {
        out.push_back(model::ServiceNameOf(rs.resource()));
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  std::vector<storage::Operation> Operations(const std::string& tenant, const std::string& service,
                                             const std::string& span_kind) override {
    std::lock_guard lock(mu_);
    std::vector<storage::Operation> out;
    if (tenant != tenant_) return out;
    for (const auto& op : operations_[service]) {
      if (span_kind.empty() || op.span_kind == span_kind) out.push_back(op);
    }
    return out;
  }

  std::vector<storage::DependencyLink> Dependencies(const std::string& tenant, int64_t start_ns,
                                                    int64_t end_ns) override {
    std::lock_guard lock(mu_);
    last_dependency_range_ = {start_ns, end_ns};
    if (tenant != tenant_) return {};
    return links_;
  }

  absl::StatusOr<std::optional<storage::otlp::TracesData>> GetTrace(
      const std::string& tenant, const common::TraceId& id) override {
    std::lock_guard lock(mu_);
    if (!failure_.ok()) return failure_;
    if (tenant != tenant_) return std::nullopt;
    auto it = traces_.find(id);
    if (it == traces_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  std::string tenant_;
  std::vector<storage::AttributeKeyCount> attribute_keys_;
  storage::AttributeValues attribute_values_;
  std::optional<storage::AttributeQuery> last_attribute_query_;
  std::map<common::TraceId, storage::otlp::TracesData> traces_;
  std::map<std::string, std::vector<storage::Operation>> operations_;
  std::vector<storage::DependencyLink> links_;
  absl::Status failure_;
  std::optional<storage::TraceQuery> last_query_;
  std::optional<std::pair<int64_t, int64_t>> last_dependency_range_;
};

// A trace of one span of `service`, trace ID `trace_hex` (32 hex digits), starting at
// `start_ns` and lasting 1 ms.
inline storage::otlp::TracesData OneSpanTrace(const std::string& service,
                                              const std::string& trace_hex, int64_t start_ns) {
  storage::otlp::TracesData td;
  auto* rs = td.add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value(service);
  auto* span = rs->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(common::ParseTraceIdHex(trace_hex)->AsBytes()));
  span->set_span_id(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  span->set_name("GET /tasks");
  span->set_kind(storage::otlp::Span::SPAN_KIND_SERVER);
  span->set_start_time_unix_nano(static_cast<uint64_t>(start_ns));
  span->set_end_time_unix_nano(static_cast<uint64_t>(start_ns + 1'000'000));
  return td;
}

}  // namespace skua::query
