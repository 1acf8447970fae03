// A gRPC server for Skua's gRPC endpoints (OTLP/gRPC, query gRPC). The part owning an endpoint
// builds its grpc::Service objects; the rest of Skua sees only this interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace skua::common {

struct GrpcServerOptions {
  std::string name;                        // for errors: "otlp-grpc", "query-grpc"
  std::string endpoint;                    // "host:port"; port 0 picks a free port
  uint64_t max_receive_message_bytes = 0;  // 0 = gRPC's default (4 MiB)
};

class GrpcServer {
 public:
  // Serves `services`, which the server keeps alive until it is destroyed.
  // Errors: kInvalidArgument (bad endpoint), kUnavailable (cannot listen).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const GrpcServerOptions& options, std::vector<std::shared_ptr<grpc::Service>> services);
  virtual ~GrpcServer() = default;
  // "host:port" actually bound.
  virtual std::string address() const = 0;
  // Stops accepting calls and waits up to 10 s for calls in flight. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace skua::common
