// The query port's gRPC server: both query services (grpc_v3.cc, grpc_v2.cc) and Jaeger v2's
// remote storage API (grpc_storage_v2.cc) on one port.

#include "query/grpc_api.h"

#include "query/grpc_calls.h"

namespace skua::query {

absl::StatusOr<std::unique_ptr<common::GrpcServer>> StartQueryGrpcServer(
    QueryService& service, common::MetricsRegistry& metrics, common::Authenticator* auth,
    const common::Tenancy* tenancy) {
  const config::QueryConfig& config = service.config();
  common::GrpcServerOptions options;
  options.name = "query-grpc";
  options.endpoint = config.grpc_endpoint;
  options.max_receive_message_bytes = 1 << 20;  // queries are small
  options.compressed = common::GrpcServerOptions::Compressed::kRefused;
  options.limits = config.grpc_limits;
  options.tls = config.grpc_tls;
  std::vector<std::shared_ptr<grpc::Service>> services = {
      MakeV3QueryService(service, metrics, auth, tenancy),
      MakeV2QueryService(service, metrics, auth, tenancy)};
  for (auto& s : MakeRemoteStorageServices(service, metrics, auth, tenancy)) {
    services.push_back(std::move(s));
  }
  return common::GrpcServer::Start(options, std::move(services));
}

}  // namespace skua::query
