// A gRPC server for Skua's gRPC endpoints (OTLP/gRPC, query gRPC). The part owning an endpoint
// builds its grpc::Service objects; the rest of Skua sees only this interface.
//
// Skua accepts the connections itself and hands them to gRPC: the gRPC release Skua builds on
// closes its listener for good on the first failed accept (EMFILE), while this accept loop backs
// off and accepts again once descriptors are free.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/tenancy.h"
#include "common/tls.h"

namespace grpc {
class Service;
class ServerContextBase;
}  // namespace grpc

namespace skua::common {

// What a server tolerates from its clients. Defaults fit the Helm chart's resources.
struct GrpcLimits {
  uint32_t max_concurrent_streams = 64;                    // per connection
  std::chrono::milliseconds max_connection_idle{300'000};  // closed when idle this long
  std::chrono::milliseconds max_connection_age{0};         // 0 = unlimited
  std::chrono::milliseconds max_connection_age_grace{30'000};
  std::chrono::milliseconds keepalive_time{60'000};     // server pings an idle connection
  std::chrono::milliseconds keepalive_timeout{20'000};  // and closes it without an answer
  // gRPC's memory quota for its transport buffers (messages being received included); under
  // pressure gRPC shrinks reads and cancels the largest streams. 0 = no quota.
  uint64_t memory_bytes = 0;
};

struct GrpcServerOptions {
  std::string name;                        // for errors: "otlp-grpc", "query-grpc"
  std::string endpoint;                    // "host:port"; port 0 picks a free port
  uint64_t max_receive_message_bytes = 0;  // on the wire; 0 = gRPC's default (4 MiB)
  // Compressed request messages. This gRPC release inflates a message whole before checking its
  // size (a 1 MiB gzip bomb costs 1 GiB), so it never inflates them here: they are either
  // refused (UNIMPLEMENTED, "compression algorithm ... is disabled"), or handed to raw handlers
  // still gzip-compressed, to inflate with a bound (deflate is refused then).
  enum class Compressed { kRefused, kGzipToHandler };
  Compressed compressed = Compressed::kRefused;
  GrpcLimits limits;
  // TLS when tls.enabled(): gRPC re-reads the files every second and uses changed ones for new
  // connections. gRPC then accepts connections itself (it has no TLS for connections accepted
  // by Skua's loop), so such a port does not back off as described for `accepting()`; and this
  // gRPC release cannot raise the minimum TLS version above 1.2 (min_version 1.3 is refused).
  TlsConfig tls;
};

class GrpcServer {
 public:
  // Serves `services`, which the server keeps alive until it is destroyed, and the standard
  // grpc.health.v1.Health service (NOT_SERVING until SetServing(true)).
  // Errors: kInvalidArgument (bad endpoint), kUnavailable (cannot listen).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const GrpcServerOptions& options, std::vector<std::shared_ptr<grpc::Service>> services);
  virtual ~GrpcServer() = default;
  // "host:port" actually bound.
  virtual std::string address() const = 0;
  // False while the listener cannot accept (out of descriptors); it retries by itself.
  virtual bool accepting() const = 0;
  // What grpc.health.v1.Health answers, for the empty service name and every service.
  virtual void SetServing(bool serving) = 0;
  // Stops accepting calls and waits up to 10 s for calls in flight. Idempotent.
  virtual void Stop() = 0;
};

// Checks a call's credentials with `auth` (OK when null): its `authorization` metadata, and the
// names of its verified client certificate over mutual TLS. kUnauthenticated as
// Authenticator::Check says.
absl::Status AuthenticateCall(Authenticator* auth, const grpc::ServerContextBase& context);

// The tenant of a call, from its tenancy.header metadata (Tenancy::Resolve); "" when `tenancy`
// is null or off.
absl::StatusOr<std::string> TenantOfCall(const Tenancy* tenancy,
                                         const grpc::ServerContextBase& context);

}  // namespace skua::common
