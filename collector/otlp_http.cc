// The OTLP/HTTP receiver (port 4318): protobuf and JSON bodies, gzip, status codes.

#include "collector/otlp_http.h"

#include <fmt/format.h>
#include <google/protobuf/arena.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "collector/inflate.h"
#include "common/status_macros.h"
#include "google/rpc/status.pb.h"
#include "model/otlp_json.h"

namespace skua::collector {
namespace {

namespace otlp_collector = ::opentelemetry::proto::collector::trace::v1;

enum class Encoding { kProtobuf, kJson };

constexpr char kProtobufType[] = "application/x-protobuf";
constexpr char kJsonType[] = "application/json";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A google.rpc.Status body in the request's encoding.
common::HttpResponse StatusResponse(int http_status, Encoding enc, absl::StatusCode code,
                                    std::string_view message) {
  google::rpc::Status st;
  st.set_code(static_cast<int32_t>(code));
  st.set_message(std::string(message));
  common::HttpResponse r;
  r.status = http_status;
  if (enc == Encoding::kProtobuf) {
    r.content_type = kProtobufType;
    r.body = st.SerializeAsString();
  } else {
    r.content_type = kJsonType;
    std::string escaped;
    for (char c : message) {
      if (c == '"' || c == '\\') {
        escaped.push_back('\\');
        escaped.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        escaped += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
      } else {
        escaped.push_back(c);
      }
    }
    r.body = fmt::format("{{\"code\":{},\"message\":\"{}\"}}", static_cast<int>(code), escaped);
  }
  return r;
}

common::HttpResponse PlainText(int status, std::string body,
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
  return {status, "text/plain; charset=utf-8", std::move(headers), std::move(body) + "\n"};
}

class Handler {
 public:
  Handler(IngestPipeline& pipeline, const config::CollectorConfig& config,
          common::MetricsRegistry& metrics, common::MemoryBudget& budget,
          const common::Tenancy* tenancy)
      : pipeline_(pipeline),
        tenancy_(tenancy),
        config_(config),
        budget_(budget),
        bad_requests_(metrics.GetCounter("skua_otlp_http_bad_requests_total",
                                         "OTLP/HTTP requests refused before decoding spans "
                                         "(wrong path, method, type, size or body)")) {}

  common::HttpResponse operator()(const common::HttpRequest& req) {
    if (req.path != "/v1/traces") {
      bad_requests_.Increment();
      return PlainText(404, "404 page not found");
    }
    if (req.method != "POST") {
      bad_requests_.Increment();
      return PlainText(405, fmt::format("{} method not allowed, supported: [POST]", req.method),
                       {{"Allow", "POST"}});
    }
    const std::string* ct = req.Header("content-type");
    std::string media =
        ct ? common::AsciiLower(Trim(std::string_view(*ct).substr(0, ct->find(';')))) : "";
    Encoding enc;
    if (media == kProtobufType) {
      enc = Encoding::kProtobuf;
    } else if (media == kJsonType) {
      enc = Encoding::kJson;
    } else {
      bad_requests_.Increment();
      return PlainText(415,
                       "415 unsupported media type, supported: [application/json, "
                       "application/x-protobuf]");
    }
    std::string tenant;
    if (tenancy_ != nullptr && tenancy_->enabled()) {
      auto resolved = tenancy_->Resolve(req.Header(tenancy_->header()));
      if (!resolved.ok()) {
        return StatusResponse(common::TenantRefusalHttpStatus(resolved.status()), enc,
                              resolved.status().code(), common::Message(resolved.status()));
      }
      tenant = std::move(*resolved);
    }
    uint64_t limit = config_.http_max_request_body_size;
    if (req.body_too_large) {
      bad_requests_.Increment();
      return StatusResponse(413, enc, absl::StatusCode::kResourceExhausted,
                            fmt::format("request body exceeds the limit of {} bytes", limit));
    }
    const std::string* body = &req.body;
    std::string inflated;
    // Memory beyond the body itself (reserved by the server): its inflation and decoding.
    common::MemoryBudget::Lease lease = budget_.TryReserve(0);
    const std::string* ce = req.Header("content-encoding");
    std::string coding = ce ? common::AsciiLower(Trim(*ce)) : "";
    if (coding == "gzip" || coding == "deflate" || coding == "x-gzip") {
      auto out =
          Inflate(req.body, limit, coding != "deflate", [&](size_t n) { return lease.Resize(n); });
      if (!out.ok() && out.status().code() == absl::StatusCode::kAborted) {
        return BudgetExhausted(enc);
      }
      if (!out.ok()) {
        bad_requests_.Increment();
        bool too_big = out.status().code() == absl::StatusCode::kResourceExhausted;
        return StatusResponse(too_big ? 413 : 400, enc, out.status().code(),
                              common::Message(out.status()));
      }
      inflated = std::move(*out);
      body = &inflated;
    } else if (!coding.empty() && coding != "identity") {
      bad_requests_.Increment();
      return StatusResponse(415, enc, absl::StatusCode::kInvalidArgument,
                            fmt::format("unsupported Content-Encoding '{}', supported: [gzip, "
                                        "deflate, identity]",
                                        coding));
    }
    if (body->size() > limit) {
      bad_requests_.Increment();
      return StatusResponse(413, enc, absl::StatusCode::kResourceExhausted,
                            fmt::format("request body exceeds the limit of {} bytes", limit));
    }

    // Decoding: protobuf takes about as much again as its encoding for spans as SDKs write them,
    // JSON's document at most model::kJsonDecodeFactor times its text; corrected to what the
    // decoded request took once the document is gone.
    const uint64_t decoded_estimate =
        (enc == Encoding::kProtobuf ? 2 : model::kJsonDecodeFactor) * body->size();
    if (!lease.Resize(lease.bytes() + decoded_estimate)) return BudgetExhausted(enc);
    google::protobuf::Arena arena;
    auto& request =
        *google::protobuf::Arena::CreateMessage<otlp_collector::ExportTraceServiceRequest>(&arena);
    if (enc == Encoding::kProtobuf) {
      if (!request.ParseFromString(*body)) {
        bad_requests_.Increment();
        return StatusResponse(400, enc, absl::StatusCode::kInvalidArgument,
                              "body is not a valid protobuf ExportTraceServiceRequest");
      }
    } else if (absl::Status st = model::DecodeOtlpJson(*body, request); !st.ok()) {
      bad_requests_.Increment();
      return StatusResponse(400, enc, absl::StatusCode::kInvalidArgument,
                            fmt::format("body is not a valid OTLP/JSON "
                                        "ExportTraceServiceRequest: {}",
                                        st.message()));
    }

    if (!lease.Resize(lease.bytes() - decoded_estimate + arena.SpaceAllocated())) {
      return BudgetExhausted(enc);
    }
    auto result = pipeline_.Export(request, "http", tenant);
    if (!result.ok()) {
      const auto& st = result.status();
      if (st.code() == absl::StatusCode::kInvalidArgument) {
        bad_requests_.Increment();
        return StatusResponse(400, enc, st.code(), common::Message(st));
      }
      if (st.code() == absl::StatusCode::kPermissionDenied) {
        return StatusResponse(403, enc, st.code(), common::Message(st));
      }
      bool full = st.code() == absl::StatusCode::kResourceExhausted;
      auto r = StatusResponse(full ? 429 : 503, enc, st.code(), common::Message(st));
      r.headers.emplace_back("Retry-After", std::to_string(RetryAfterSeconds(config_)));
      return r;
    }
    otlp_collector::ExportTraceServiceResponse response;
    if (result->rejected > 0) {
      response.mutable_partial_success()->set_rejected_spans(result->rejected);
      response.mutable_partial_success()->set_error_message(result->rejection_message);
    }
    common::HttpResponse r;
    if (enc == Encoding::kProtobuf) {
      r.content_type = kProtobufType;
      r.body = response.SerializeAsString();
    } else {
      r.content_type = kJsonType;
      r.body = model::EncodeExportResponseJson(response);
    }
    return r;
  }

 private:
  common::HttpResponse BudgetExhausted(Encoding enc) {
    absl::Status st = budget_.Exhausted();
    auto r = StatusResponse(429, enc, st.code(), common::Message(st));
    r.headers.emplace_back("Retry-After", std::to_string(RetryAfterSeconds(config_)));
    return r;
  }

  IngestPipeline& pipeline_;
  const common::Tenancy* const tenancy_;
  config::CollectorConfig config_;
  common::MemoryBudget& budget_;
  common::Counter& bad_requests_;
};

}  // namespace

int RetryAfterSeconds(const config::CollectorConfig& config) {
  return static_cast<int>(std::max<int64_t>(1, (config.retry_after.count() + 999) / 1000));
}

common::HttpHandler MakeOtlpHttpHandler(IngestPipeline& pipeline,
                                        const config::CollectorConfig& config,
                                        common::MetricsRegistry& metrics,
                                        common::MemoryBudget& budget,
                                        const common::Tenancy* tenancy) {
  auto handler = std::make_shared<Handler>(pipeline, config, metrics, budget, tenancy);
  return [handler](const common::HttpRequest& req) { return (*handler)(req); };
}

}  // namespace skua::collector
