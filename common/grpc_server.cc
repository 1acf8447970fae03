#include "common/grpc_server.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <limits>

#include "common/http_server.h"

namespace skua::common {
namespace {

constexpr auto kStopDeadline = std::chrono::seconds(10);

class GrpcServerImpl final : public GrpcServer {
 public:
  GrpcServerImpl(std::vector<std::shared_ptr<grpc::Service>> services,
                 std::unique_ptr<grpc::Server> server, std::string address)
      : services_(std::move(services)), server_(std::move(server)), address_(std::move(address)) {}
  ~GrpcServerImpl() override { Stop(); }
  std::string address() const override { return address_; }
  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    server_->Shutdown(std::chrono::system_clock::now() + kStopDeadline);
    server_->Wait();
  }

 private:
  std::vector<std::shared_ptr<grpc::Service>> services_;  // outlive the server using them
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  bool stopped_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const GrpcServerOptions& options, std::vector<std::shared_ptr<grpc::Service>> services) {
  auto hp = SplitEndpoint(options.endpoint);
  if (!hp.ok()) return hp.status();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.endpoint, grpc::InsecureServerCredentials(), &port);
  if (options.max_receive_message_bytes > 0) {
    builder.SetMaxReceiveMessageSize(static_cast<int>(
        std::min<uint64_t>(options.max_receive_message_bytes, std::numeric_limits<int>::max())));
  }
  for (const auto& service : services) builder.RegisterService(service.get());
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    return absl::UnavailableError(
        fmt::format("{}: cannot listen on {}", options.name, options.endpoint));
  }
  return std::unique_ptr<GrpcServer>(new GrpcServerImpl(std::move(services), std::move(server),
                                                        fmt::format("{}:{}", hp->first, port)));
}

}  // namespace skua::common
