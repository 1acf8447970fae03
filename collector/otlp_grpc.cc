#include "collector/otlp_grpc.h"

#include <fmt/format.h>
#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/message_allocator.h>
#include <spdlog/spdlog.h>

#include <chrono>

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

// Request and response of one call live on one protobuf arena: decoding a request then costs
// a few block allocations instead of one per attribute, and freeing it is one release.
class ArenaMessages final : public grpc::MessageHolder<otlp_collector::ExportTraceServiceRequest,
                                                       otlp_collector::ExportTraceServiceResponse> {
 public:
  ArenaMessages() : arena_(Options()) {
    set_request(
        google::protobuf::Arena::CreateMessage<otlp_collector::ExportTraceServiceRequest>(&arena_));
    set_response(google::protobuf::Arena::CreateMessage<otlp_collector::ExportTraceServiceResponse>(
        &arena_));
  }
  void Release() override { delete this; }

 private:
  static google::protobuf::ArenaOptions Options() {
    google::protobuf::ArenaOptions o;
    o.start_block_size = 64 << 10;
    o.max_block_size = 1 << 20;
    return o;
  }
  google::protobuf::Arena arena_;
};

class ArenaAllocator final
    : public grpc::MessageAllocator<otlp_collector::ExportTraceServiceRequest,
                                    otlp_collector::ExportTraceServiceResponse> {
 public:
  grpc::MessageHolder<otlp_collector::ExportTraceServiceRequest,
                      otlp_collector::ExportTraceServiceResponse>*
  AllocateMessages() override {
    return new ArenaMessages();
  }
};

// Callback API: no thread waits for the storage; the shard writer that completes the last part
// of an export finishes the call.
class TraceServiceImpl final : public otlp_collector::TraceService::CallbackService {
 public:
  TraceServiceImpl(IngestPipeline& pipeline, std::chrono::milliseconds retry_after)
      : pipeline_(pipeline), retry_after_(retry_after) {
    SetMessageAllocatorFor_Export(&allocator_);
  }

  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const otlp_collector::ExportTraceServiceRequest* request,
                                   otlp_collector::ExportTraceServiceResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    pipeline_.ExportAsync(*request, "grpc",
                          [this, context, response, reactor](absl::StatusOr<ExportResult> result) {
                            if (!result.ok()) {
                              SPDLOG_DEBUG("otlp-grpc export from {} refused: {}", context->peer(),
                                           result.status().message());
                              reactor->Finish(ToGrpc(result.status(), retry_after_, context));
                              return;
                            }
                            if (result->rejected > 0) {
                              auto* ps = response->mutable_partial_success();
                              ps->set_rejected_spans(result->rejected);
                              ps->set_error_message(result->rejection_message);
                            }
                            reactor->Finish(grpc::Status::OK);
                          });
    return reactor;
  }

 private:
  IngestPipeline& pipeline_;
  std::chrono::milliseconds retry_after_;
  ArenaAllocator allocator_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<common::GrpcServer>> StartOtlpGrpcReceiver(
    const config::CollectorConfig& config, IngestPipeline& pipeline) {
  return common::GrpcServer::Start(
      {"otlp-grpc", config.grpc_endpoint, config.grpc_max_recv_msg_size},
      {std::make_shared<TraceServiceImpl>(pipeline, config.retry_after)});
}

}  // namespace skua::collector
