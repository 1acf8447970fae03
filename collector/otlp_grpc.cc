// The OTLP/gRPC receiver (port 4317): raw-bytes Export with bounded inflation.

#include "collector/otlp_grpc.h"

#include <fmt/format.h>
#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "collector/inflate.h"
#include "common/status_macros.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace skua::collector {
namespace {

namespace otlp_collector = ::opentelemetry::proto::collector::trace::v1;

grpc::Status ToGrpc(const absl::Status& st, std::chrono::milliseconds retry_after,
                    grpc::CallbackServerContext* context) {
  auto code = static_cast<grpc::StatusCode>(st.code());
  std::string message(st.message());
  if (st.code() != absl::StatusCode::kResourceExhausted &&
      st.code() != absl::StatusCode::kUnavailable) {
    return grpc::Status(code, message);
  }
  // Retryable: RetryInfo in the rich status details (read by most OTLP exporters) and, for
  // exporters that read it from trailing metadata, in google.rpc.retryinfo-bin too.
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(retry_after.count() / 1000);
  retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(retry_after.count() % 1000) *
                                         1000000);
  google::rpc::Status rich;
  rich.set_code(static_cast<int32_t>(code));
  rich.set_message(message);
  rich.add_details()->PackFrom(retry);
  context->AddTrailingMetadata("google.rpc.retryinfo-bin", retry.SerializeAsString());
  return grpc::Status(code, message, rich.SerializeAsString());
}

// Requests arrive as raw bytes, still gzip-compressed if the client compressed them (gRPC's own
// inflation is off: it would inflate a bomb whole before any size check). Memory for the bytes,
// their inflation and their decoding is reserved from the ingest budget before it is spent; the
// reservation ends once the spans are encoded into the shard queues (which have bounds of their
// own). Callback API: no thread waits for the storage; the shard writer that completes the last
// part of an export finishes the call.
class TraceServiceImpl final : public otlp_collector::TraceService::WithRawCallbackMethod_Export<
                                   otlp_collector::TraceService::Service> {
 public:
  TraceServiceImpl(IngestPipeline& pipeline, const config::CollectorConfig& config,
                   common::MemoryBudget& budget, common::Authenticator* auth,
                   const common::Tenancy* tenancy)
      : auth_(auth),
        tenancy_(tenancy),
        pipeline_(pipeline),
        retry_after_(config.retry_after),
        max_message_bytes_(config.grpc_max_recv_msg_size),
        budget_(budget) {}

  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto refuse = [&](const absl::Status& st) {
      SPDLOG_DEBUG("otlp-grpc export from {} refused: {}", context->peer(), st.message());
      reactor->Finish(ToGrpc(st, retry_after_, context));
      return reactor;
    };
    if (absl::Status st = common::AuthenticateCall(auth_, *context); !st.ok()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(st.message())));
      return reactor;
    }
    absl::StatusOr<std::string> tenant = common::TenantOfCall(tenancy_, *context);
    if (!tenant.ok()) return refuse(tenant.status());
    const size_t wire = request->Length();
    common::MemoryBudget::Lease lease = budget_.TryReserve(wire);
    if (!lease) return refuse(budget_.Exhausted());
    std::vector<grpc::Slice> slices;
    if (!request->Dump(&slices).ok()) {
      return refuse(absl::InvalidArgumentError("request message could not be read"));
    }
    std::string bytes;
    bytes.reserve(wire);
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    slices.clear();
    if (LooksGzipped(bytes)) {
      auto inflated = Inflate(bytes, max_message_bytes_, /*gzip=*/true,
                              [&](size_t n) { return lease.Resize(wire + n); });
      if (!inflated.ok()) {
        bool no_room = inflated.status().code() == absl::StatusCode::kAborted;
        return refuse(no_room ? budget_.Exhausted() : inflated.status());
      }
      bytes = std::move(*inflated);
      lease.Resize(bytes.size());
    }
    // Decoding costs about as much again as the encoded bytes for spans as SDKs write them; the
    // reservation is corrected to what the arena really took once decoded.
    if (!lease.Resize(2 * bytes.size() + kArenaStart)) return refuse(budget_.Exhausted());
    google::protobuf::ArenaOptions options;
    options.start_block_size = kArenaStart;
    options.max_block_size = 1 << 20;
    google::protobuf::Arena arena(options);
    auto* message =
        google::protobuf::Arena::CreateMessage<otlp_collector::ExportTraceServiceRequest>(&arena);
    if (!message->ParseFromString(bytes)) {
      return refuse(absl::InvalidArgumentError(
          "request is not a valid protobuf ExportTraceServiceRequest (malformed, or a string "
          "field holds invalid UTF-8)"));
    }
    if (!lease.Resize(bytes.size() + arena.SpaceAllocated())) return refuse(budget_.Exhausted());
    bytes.clear();
    bytes.shrink_to_fit();
    pipeline_.ExportAsync(*message, "grpc", *tenant,
                          [this, context, response, reactor](absl::StatusOr<ExportResult> result) {
                            if (!result.ok()) {
                              SPDLOG_DEBUG("otlp-grpc export from {} refused: {}", context->peer(),
                                           result.status().message());
                              reactor->Finish(ToGrpc(result.status(), retry_after_, context));
                              return;
                            }
                            otlp_collector::ExportTraceServiceResponse out;
                            if (result->rejected > 0) {
                              auto* ps = out.mutable_partial_success();
                              ps->set_rejected_spans(result->rejected);
                              ps->set_error_message(result->rejection_message);
                            }
                            grpc::Slice slice(out.SerializeAsString());
                            *response = grpc::ByteBuffer(&slice, 1);
                            reactor->Finish(grpc::Status::OK);
                          });
    return reactor;
  }

 private:
  static constexpr size_t kArenaStart = 64 << 10;

  common::Authenticator* const auth_;
  const common::Tenancy* const tenancy_;
  IngestPipeline& pipeline_;
  const std::chrono::milliseconds retry_after_;
  const size_t max_message_bytes_;
  common::MemoryBudget& budget_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<common::GrpcServer>> StartOtlpGrpcReceiver(
    const config::CollectorConfig& config, IngestPipeline& pipeline, common::MemoryBudget& budget,
    common::Authenticator* auth, const common::Tenancy* tenancy) {
  common::GrpcServerOptions options;
  options.name = "otlp-grpc";
  options.endpoint = config.grpc_endpoint;
  options.max_receive_message_bytes = config.grpc_max_recv_msg_size;
  options.compressed = common::GrpcServerOptions::Compressed::kGzipToHandler;
  options.limits = config.grpc_limits;
  options.tls = config.grpc_tls;
  return common::GrpcServer::Start(
      options, {std::make_shared<TraceServiceImpl>(pipeline, config, budget, auth, tenancy)});
}

}  // namespace skua::collector
