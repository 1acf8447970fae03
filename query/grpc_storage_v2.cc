// Jaeger v2's remote storage API (jaeger.storage.v2) over the query service: what a Jaeger v2
// binary with a `grpc` storage backend calls to read from Skua (docs/api.md, "Remote storage
// API"). Jaeger applies its own adjusters to what it reads, so traces go out as stored.

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <unordered_set>

#include "common/ids.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "jaeger/storage/v2/capabilities.grpc.pb.h"
#include "jaeger/storage/v2/dependency_storage.grpc.pb.h"
#include "jaeger/storage/v2/trace_storage.grpc.pb.h"
#include "model/values.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "query/grpc_calls.h"
#include "query/trace_summary.h"

namespace skua::query {
namespace {

namespace storage_v2 = ::jaeger::storage::v2;
namespace otlp_common = ::opentelemetry::proto::common::v1;

// Span bytes per stream message. Jaeger's client refuses messages over 4 MiB by default; a
// quarter of that leaves room for the resources and scopes each message repeats, and keeps
// a 10,000-span trace to a handful of messages.
constexpr size_t kChunkSpanBytes = 1 << 20;
// Summaries per FindTraceSummaries message (a summary is ~100 bytes plus its services).
constexpr int kSummariesPerMessage = 1000;

// A time of the API: nullopt when absent or at or before the Unix epoch (Go's zero time, which
// Jaeger's client sends for "not set", is year 1), else nanoseconds since the epoch.
absl::StatusOr<std::optional<int64_t>> OptionalTime(bool present,
                                                    const google::protobuf::Timestamp& t,
                                                    std::string_view field) {
  if (!present || t.seconds() < 0 || (t.seconds() == 0 && t.nanos() == 0)) return std::nullopt;
  auto ns = TimestampNanos(t);
  if (!ns) return absl::InvalidArgumentError(fmt::format("malformed {}", field));
  return ns;
}

grpc::Status InvalidFrom(const absl::Status& st) { return Invalid(std::string(st.message())); }

// Splits `trace` (one trace) into consecutive TracesData messages of at most kChunkSpanBytes of
// spans each (a single larger span alone), every span under its own resource and scope, and
// calls send(chunk) for each until it returns false. Returns false if send did.
template <typename Send>
bool SendChunked(otlp_trace::TracesData& trace, Send send) {
  otlp_trace::TracesData chunk;
  size_t bytes = 0;
  for (auto& rs : *trace.mutable_resource_spans()) {
    otlp_trace::ResourceSpans* out_rs = nullptr;
    for (auto& ss : *rs.mutable_scope_spans()) {
      otlp_trace::ScopeSpans* out_ss = nullptr;
      for (auto& span : *ss.mutable_spans()) {
        size_t size = span.ByteSizeLong();
        if (bytes > 0 && bytes + size > kChunkSpanBytes) {
          if (!send(chunk)) return false;
          chunk.Clear();
          bytes = 0;
          out_rs = nullptr;
          out_ss = nullptr;
        }
        if (out_rs == nullptr) {
          out_rs = chunk.add_resource_spans();
          *out_rs->mutable_resource() = rs.resource();
          out_rs->set_schema_url(rs.schema_url());
        }
        if (out_ss == nullptr) {
          out_ss = out_rs->add_scope_spans();
          *out_ss->mutable_scope() = ss.scope();
          out_ss->set_schema_url(ss.schema_url());
        }
        *out_ss->add_spans() = std::move(span);
        bytes += size;
      }
    }
  }
  return bytes == 0 || send(chunk);
}

// jaeger.storage.v2.TraceReader.
class TraceReaderService final : public storage_v2::TraceReader::Service {
 public:
  TraceReaderService(QueryService& service, common::MetricsRegistry& metrics,
                     common::Authenticator* auth, const common::Tenancy* tenancy)
      : calls_("jaeger.storage.v2.TraceReader", service, metrics, auth, tenancy) {}

  grpc::Status GetTraces(grpc::ServerContext* context, const storage_v2::GetTracesRequest* request,
                         grpc::ServerWriter<otlp_trace::TracesData>* writer) override {
    return calls_.Observed(context, "GetTraces", [&](const std::string& tenant) {
      std::vector<common::TraceId> ids;
      for (int i = 0; i < request->query_size(); ++i) {
        const auto& q = request->query(i);
        if (q.trace_id().size() != 16) {
          return Invalid(fmt::format("malformed query[{}].trace_id: {} bytes, expected 16", i,
                                     q.trace_id().size()));
        }
        // The time hints are checked only: a lookup by ID reads every partition anyway.
        for (auto [present, t, field] : {std::tuple{q.has_start_time(), &q.start_time(), "start"},
                                         std::tuple{q.has_end_time(), &q.end_time(), "end"}}) {
          auto ns = OptionalTime(present, *t, fmt::format("query[{}].{}_time", i, field));
          if (!ns.ok()) return InvalidFrom(ns.status());
        }
        ids.push_back(*common::TraceId::FromBytes(q.trace_id()));
      }
      std::unordered_set<common::TraceId, common::TraceIdHash> sent;
      for (const auto& id : ids) {
        if (context->IsCancelled()) return Calls::Cancelled(context);
        if (!sent.insert(id).second) continue;
        auto trace = calls_.service().GetTrace(tenant, id, QueryService::Adjust::kRaw);
        if (!trace.ok()) return StorageFailure(trace.status());
        if (!trace->has_value()) continue;  // not stored: skipped, as the contract says
        if (!SendChunked(**trace,
                         [&](const otlp_trace::TracesData& c) { return writer->Write(c); })) {
          return Calls::Cancelled(context);
        }
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status GetServices(grpc::ServerContext* context, const storage_v2::GetServicesRequest*,
                           storage_v2::GetServicesResponse* response) override {
    return calls_.Observed(context, "GetServices", [&](const std::string& tenant) {
      for (auto& s : calls_.service().Services(tenant)) response->add_services(std::move(s));
      return grpc::Status::OK;
    });
  }

  grpc::Status GetOperations(grpc::ServerContext* context,
                             const storage_v2::GetOperationsRequest* request,
                             storage_v2::GetOperationsResponse* response) override {
    return calls_.Observed(context, "GetOperations", [&](const std::string& tenant) {
      if (request->service().empty()) return Invalid("service is required");
      for (const auto& op :
           calls_.service().Operations(tenant, request->service(), request->span_kind())) {
        auto* out = response->add_operations();
        out->set_name(op.name);
        out->set_span_kind(op.span_kind);  // "" for an unspecified kind, as Jaeger's stores
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status FindTraces(grpc::ServerContext* context,
                          const storage_v2::FindTracesRequest* request,
                          grpc::ServerWriter<otlp_trace::TracesData>* writer) override {
    return calls_.Observed(context, "FindTraces", [&](const std::string& tenant) {
      storage::TraceQuery q;
      if (auto st = ParseQuery(request->has_query(), request->query(), tenant, q); !st.ok()) {
        return st;
      }
      if (request->query().has_pagination()) {
        return Invalid(
            "query.pagination: FindTraces is not paginated (Jaeger RFC 0014); page with "
            "FindTraceIDs or FindTraceSummaries");
      }
      return calls_.Search(q, QueryService::Adjust::kRaw, context, [&](otlp_trace::TracesData& t) {
        return SendChunked(t, [&](const otlp_trace::TracesData& c) { return writer->Write(c); });
      });
    });
  }

  grpc::Status FindTraceIDs(grpc::ServerContext* context,
                            const storage_v2::FindTraceIDsRequest* request,
                            storage_v2::FindTraceIDsResponse* response) override {
    return calls_.Observed(context, "FindTraceIDs", [&](const std::string& tenant) {
      storage::TraceQuery q;
      if (auto st = ParseQuery(request->has_query(), request->query(), tenant, q); !st.ok()) {
        return st;
      }
      QueryService::Paging paging;
      if (auto st = Paged(request->query(), q, paging); !st.ok()) return st;
      auto hits = calls_.service().FindTraceIds(q, Calls::TimeLeft(*context),
                                                paging.size > 0 ? &paging : nullptr);
      if (!hits.ok()) return StorageFailure(hits.status());
      response->set_next_page_token(paging.next_token);
      // No time range is given: the hint is optional, and what the index knows (the newest
      // matching span's start) is not the trace's range.
      for (const auto& hit : *hits) {
        response->add_trace_ids()->set_trace_id(std::string(hit.trace_id.AsBytes()));
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status FindTraceSummaries(
      grpc::ServerContext* context, const storage_v2::FindTraceSummariesRequest* request,
      grpc::ServerWriter<storage_v2::FindTraceSummariesResponse>* writer) override {
    return calls_.Observed(context, "FindTraceSummaries", [&](const std::string& tenant) {
      storage::TraceQuery q;
      if (auto st = ParseQuery(request->has_query(), request->query(), tenant, q); !st.ok()) {
        return st;
      }
      QueryService::Paging paging;
      if (auto st = Paged(request->query(), q, paging); !st.ok()) return st;
      storage_v2::FindTraceSummariesResponse message;
      auto st = calls_.Search(
          q, QueryService::Adjust::kRaw, context,
          [&](const otlp_trace::TracesData& t) {
            AddSummary(Summarize(t), *message.add_summaries());
            if (message.summaries_size() < kSummariesPerMessage) return true;
            bool ok = writer->Write(message);
            message.Clear();
            return ok;
          },
          paging.size > 0 ? &paging : nullptr);
      if (!st.ok()) return st;
      // The token goes on the last message (one with no summaries if the page ended on a full
      // message); a page with no next one ends as before.
      message.set_next_page_token(paging.next_token);
      if ((message.summaries_size() > 0 || !paging.next_token.empty()) && !writer->Write(message)) {
        return Calls::Cancelled(context);
      }
      return grpc::Status::OK;
    });
  }

 private:
  // The query's page (Jaeger RFC 0014), if it asks for one: a page size of 0 falls back to the
  // search depth, as jaeger-idl's storage API says. A token that is not this query's is
  // INVALID_ARGUMENT with google.rpc.ErrorInfo reason PAGINATION_INVALID, which Jaeger's client
  // maps back to its ErrPaginationInvalid.
  grpc::Status Paged(const storage_v2::TraceQueryParameters& p, storage::TraceQuery& q,
                     QueryService::Paging& paging) {
    if (!p.has_pagination()) return grpc::Status::OK;
    paging.size = p.pagination().page_size() > 0 ? p.pagination().page_size()
                                                 : static_cast<uint32_t>(q.limit);
    absl::Status st = calls_.service().ToPage(q, paging.size, p.pagination().page_token());
    if (st.ok()) return grpc::Status::OK;
    google::rpc::Status details;
    details.set_code(grpc::StatusCode::INVALID_ARGUMENT);
    details.set_message(std::string(st.message()));
    google::rpc::ErrorInfo info;
    info.set_reason("PAGINATION_INVALID");
    info.set_domain("jaegertracing.io");
    details.add_details()->PackFrom(info);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(st.message()),
                        details.SerializeAsString());
  }

  // A search from the API's TraceQueryParameters; the error names the field. An empty service
  // means every service (Capabilities says so); unset times and durations are unbounded.
  grpc::Status ParseQuery(bool present, const storage_v2::TraceQueryParameters& p,
                          const std::string& tenant, storage::TraceQuery& q) {
    if (!present) return Invalid("missing query");
    // A field this server does not know (pagination, anything newer) would narrow the search:
    // answering without it would return more than was asked for.
    const auto& unknown = p.GetReflection()->GetUnknownFields(p);
    if (unknown.field_count() > 0) {
      return grpc::Status(
          grpc::StatusCode::UNIMPLEMENTED,
          fmt::format("query field {} is not supported by this server (supported: 1-10)",
                      unknown.field(0).number()));
    }
    q.tenant = tenant;
    q.service = p.service_name();
    q.operation = p.operation_name();
    for (int i = 0; i < p.attributes_size(); ++i) {
      const auto& kv = p.attributes(i);
      if (kv.key().empty()) return Invalid(fmt::format("query.attributes[{}]: empty key", i));
      // jaeger.storage.v2.AnyValue is OTLP's AnyValue on the wire: read it as one, and compare
      // it as the index does, in its string form.
      otlp_common::AnyValue value;
      if (!value.ParseFromString(kv.value().SerializeAsString())) {
        return Invalid(fmt::format("query.attributes[{}]: malformed value", i));
      }
      q.tags.emplace_back(kv.key(), model::ValueAsString(value));
    }
    std::sort(q.tags.begin(), q.tags.end());
    auto min = OptionalTime(p.has_start_time_min(), p.start_time_min(), "query.start_time_min");
    if (!min.ok()) return InvalidFrom(min.status());
    auto max = OptionalTime(p.has_start_time_max(), p.start_time_max(), "query.start_time_max");
    if (!max.ok()) return InvalidFrom(max.status());
    if (*min && *max && **min > **max) {
      return Invalid("query.start_time_min must not be after query.start_time_max");
    }
    q.start_min_ns = min->value_or(0);
    q.start_max_ns = max->value_or(0);
    if (auto st = Calls::ParseDurations(p, q); !st.ok()) return st;
    q.limit = calls_.service().SearchLimit(p.search_depth());
    return Calls::ParseFilter(p, p.attributes_size() > 0, q);
  }

  static void AddSummary(const TraceSummary& s, storage_v2::TraceSummary& out) {
    out.set_trace_id(s.trace_id);
    out.set_root_service_name(s.root_service);
    out.set_root_operation_name(s.root_operation);
    out.set_min_start_time_unix_nano(s.min_start_ns);
    out.set_max_end_time_unix_nano(s.max_end_ns);
    out.set_span_count(s.spans);
    out.set_error_span_count(s.error_spans);
    out.set_orphan_span_count(s.orphan_spans);
    for (const auto& service : s.services) {
      auto* o = out.add_services();
      o->set_name(service.name);
      o->set_span_count(service.spans);
      o->set_error_span_count(service.error_spans);
    }
  }

  Calls calls_;
};

// jaeger.storage.v2.DependencyReader.
class DependencyReaderService final : public storage_v2::DependencyReader::Service {
 public:
  DependencyReaderService(QueryService& service, common::MetricsRegistry& metrics,
                          common::Authenticator* auth, const common::Tenancy* tenancy)
      : calls_("jaeger.storage.v2.DependencyReader", service, metrics, auth, tenancy) {}

  grpc::Status GetDependencies(grpc::ServerContext* context,
                               const storage_v2::GetDependenciesRequest* request,
                               storage_v2::GetDependenciesResponse* response) override {
    return calls_.Observed(context, "GetDependencies", [&](const std::string& tenant) {
      auto start = OptionalTime(request->has_start_time(), request->start_time(), "start_time");
      if (!start.ok()) return InvalidFrom(start.status());
      auto end = OptionalTime(request->has_end_time(), request->end_time(), "end_time");
      if (!end.ok()) return InvalidFrom(end.status());
      if (!*end) return Invalid("end_time is required");
      if (start->value_or(0) > **end) return Invalid("start_time must not be after end_time");
      for (auto& l : calls_.service().Dependencies(tenant, {start->value_or(0), **end}, "")) {
        auto* out = response->add_dependencies();
        out->set_parent(std::move(l.parent));
        out->set_child(std::move(l.child));
        out->set_call_count(l.call_count);
      }
      return grpc::Status::OK;
    });
  }

 private:
  Calls calls_;
};

// jaeger.storage.v2.Capabilities: what the search RPCs above serve.
class CapabilitiesService final : public storage_v2::Capabilities::Service {
 public:
  CapabilitiesService(QueryService& service, common::MetricsRegistry& metrics,
                      common::Authenticator* auth, const common::Tenancy* tenancy)
      : calls_("jaeger.storage.v2.Capabilities", service, metrics, auth, tenancy) {}

  grpc::Status GetCapabilities(grpc::ServerContext* context,
                               const storage_v2::GetCapabilitiesRequest*,
                               storage_v2::GetCapabilitiesResponse* response) override {
    return calls_.Observed(context, "GetCapabilities", [&](const std::string&) {
      auto* search = response->mutable_search();
      // An empty service_name searches the index blocks of every service of the tenant.
      search->set_without_service_name(true);
      // The attributes, operation and duration bounds must all hold on one span
      // (storage::SpanMatches).
      search->set_same_span_conjunction(true);
      // FindTraceIDs and FindTraceSummaries take pagination: keyset page tokens.
      search->set_paginated(true);
      // The structured filter: every level and operator of RFC 0005's initial set.
      auto* f = search->mutable_filter();
      for (const auto& level : filter::SupportedLevels()) f->add_levels(level);
      for (const auto& op : filter::SupportedOperators()) f->add_operators(op);
      return grpc::Status::OK;
    });
  }

 private:
  Calls calls_;
};

}  // namespace

std::vector<std::shared_ptr<grpc::Service>> MakeRemoteStorageServices(
    QueryService& service, common::MetricsRegistry& metrics, common::Authenticator* auth,
    const common::Tenancy* tenancy) {
  return {std::make_shared<TraceReaderService>(service, metrics, auth, tenancy),
          std::make_shared<DependencyReaderService>(service, metrics, auth, tenancy),
          std::make_shared<CapabilitiesService>(service, metrics, auth, tenancy)};
}

}  // namespace skua::query
