// A gRPC server per port with Skua's own accept loop, health service and limits.

#include "common/grpc_server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_posix.h>
#include <grpcpp/support/server_interceptor.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <thread>

#include "common/accept_backoff.h"
#include "common/http_server.h"
#include "common/status_macros.h"

namespace skua::common {
namespace {

constexpr auto kStopDeadline = std::chrono::seconds(10);

int ClampToInt(int64_t v) {
  return static_cast<int>(std::clamp<int64_t>(v, 0, std::numeric_limits<int>::max()));
}

// A bound, listening, non-blocking socket for host:port; the port actually bound in `*port`.
absl::StatusOr<int> Listen(const GrpcServerOptions& options, const std::string& host,
                           uint16_t want_port, uint16_t* port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(want_port);
  const char* node = host == "localhost" ? "127.0.0.1" : host.c_str();
  if (int rc = getaddrinfo(node, service.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: bad address '{}': {}", options.name, host, gai_strerror(rc)));
  }
  int fd = -1;
  std::string error;
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
      error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return absl::UnavailableError(
        fmt::format("{}: cannot listen on {}: {}", options.name, options.endpoint, error));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  *port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

// gRPC answers a request message it cannot deserialize with INTERNAL and an empty message (and
// callback methods with UNIMPLEMENTED). Skua's handlers never answer INTERNAL without a message,
// so such an answer is rewritten as the client's error it is: INVALID_ARGUMENT, saying why.
class MalformedRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MalformedRequestInterceptor(std::string method) : method_(std::move(method)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status st = methods->GetSendStatus();
      if (st.error_code() == grpc::StatusCode::INTERNAL && st.error_message().empty()) {
        methods->ModifySendStatus(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            fmt::format("the request is not a valid protobuf message for {}", method_)));
      }
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
};

class MalformedRequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MalformedRequestInterceptor(info->method() ? info->method() : "this method");
  }
};

class GrpcServerImpl final : public GrpcServer {
 public:
  // `listen_fd` -1: gRPC accepts connections itself (TLS ports).
  GrpcServerImpl(std::string name, std::vector<std::shared_ptr<grpc::Service>> services,
                 std::unique_ptr<grpc::Server> server, int listen_fd, std::string address)
      : services_(std::move(services)),
        server_(std::move(server)),
        listen_fd_(listen_fd),
        address_(std::move(address)),
        backoff_(std::move(name)),
        accept_thread_([this] {
          if (listen_fd_ >= 0) AcceptLoop();
        }) {}
  ~GrpcServerImpl() override { Stop(); }

  std::string address() const override { return address_; }
  bool accepting() const override { return backoff_.accepting(); }
  void SetServing(bool serving) override {
    if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(serving);
  }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (accept_thread_.joinable()) accept_thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
    SetServing(false);
    server_->Shutdown(std::chrono::system_clock::now() + kStopDeadline);
    server_->Wait();
  }

 private:
  void AcceptLoop() {
    while (!stopped_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED ||
            err == EPROTO) {
          continue;
        }
        // Out of descriptors or memory: the connection waits in the backlog.
        auto wait = backoff_.Failed(std::strerror(err));
        for (auto slept = std::chrono::milliseconds(0); slept < wait && !stopped_.load();
             slept += std::chrono::milliseconds(10)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        continue;
      }
      backoff_.Accepted();
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      grpc::AddInsecureChannelFromFd(server_.get(), fd);
    }
  }

  std::vector<std::shared_ptr<grpc::Service>> services_;  // outlive the server using them
  std::unique_ptr<grpc::Server> server_;
  const int listen_fd_;
  const std::string address_;
  std::atomic<bool> stopped_{false};
  AcceptBackoff backoff_;      // used by the accept thread
  std::thread accept_thread_;  // last: starts once everything above exists
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const GrpcServerOptions& options, std::vector<std::shared_ptr<grpc::Service>> services) {
  SKUA_ASSIGN_OR_RETURN(auto hp, SplitEndpoint(options.endpoint));
  const TlsConfig& tls = options.tls;
  if (tls.enabled()) {
    SKUA_RETURN_IF_ERROR(CheckTls(tls));
    if (tls.min_version != "1.2") {
      return absl::InvalidArgumentError(fmt::format(
          "{}: tls.min_version {} is not available for gRPC listeners (this gRPC release's "
          "minimum is TLS 1.2)",
          options.name, tls.min_version));
    }
  }
  uint16_t port = 0;
  int fd = -1;
  if (!tls.enabled()) {
    SKUA_ASSIGN_OR_RETURN(fd, Listen(options, hp.first, hp.second, &port));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  if (options.max_receive_message_bytes > 0) {
    builder.SetMaxReceiveMessageSize(static_cast<int>(
        std::min<uint64_t>(options.max_receive_message_bytes, std::numeric_limits<int>::max())));
  }
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
  if (options.compressed == GrpcServerOptions::Compressed::kRefused) {
    builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
  }
  builder.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
  const GrpcLimits& l = options.limits;
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, ClampToInt(l.max_concurrent_streams));
  if (l.max_connection_idle.count() > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               ClampToInt(l.max_connection_idle.count()));
  }
  if (l.max_connection_age.count() > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               ClampToInt(l.max_connection_age.count()));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               ClampToInt(l.max_connection_age_grace.count()));
  }
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ClampToInt(l.keepalive_time.count()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             ClampToInt(l.keepalive_timeout.count()));
  // Clients may ping idle connections as often as every 10 s (OTel exporters' keepalive
  // settings) without being disconnected for it.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  if (l.memory_bytes > 0) {
    grpc::ResourceQuota quota(options.name);
    quota.Resize(l.memory_bytes);
    builder.SetResourceQuota(quota);
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<MalformedRequestInterceptorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(creators));
  for (const auto& service : services) builder.RegisterService(service.get());
  int tls_port = 0;
  if (tls.enabled()) {
    auto files = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        tls.key_file, tls.cert_file, tls.client_ca_file, /*refresh_interval_sec=*/1);
    grpc::experimental::TlsServerCredentialsOptions creds(files);
    creds.watch_identity_key_cert_pairs();
    if (tls.client_ca_file.empty()) {
      creds.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    } else {
      creds.watch_root_certs();
      creds.set_cert_request_type(tls.requires_client_cert()
                                      ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    }
    std::string host = hp.first == "localhost" ? "127.0.0.1" : hp.first;
    std::string address = host.find(':') != std::string::npos
                              ? fmt::format("[{}]:{}", host, hp.second)
                              : fmt::format("{}:{}", host, hp.second);
    builder.AddListeningPort(address, grpc::experimental::TlsServerCredentials(creds), &tls_port);
  }
  auto server = builder.BuildAndStart();
  if (!server || (tls.enabled() && tls_port == 0)) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(
        fmt::format("{}: cannot start the gRPC server on {}", options.name, options.endpoint));
  }
  if (tls.enabled()) port = static_cast<uint16_t>(tls_port);
  std::string host = hp.first;
  std::string address = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                            : fmt::format("{}:{}", host, port);
  auto impl = std::make_unique<GrpcServerImpl>(options.name, std::move(services), std::move(server),
                                               fd, std::move(address));
  impl->SetServing(false);
  return std::unique_ptr<GrpcServer>(std::move(impl));
}

absl::Status AuthenticateCall(Authenticator* auth, const grpc::ServerContextBase& context) {
  if (auth == nullptr) return absl::OkStatus();
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  std::string value = it == md.end() ? "" : std::string(it->second.data(), it->second.size());
  std::vector<std::string> names;
  if (auto ctx = context.auth_context(); ctx != nullptr && ctx->IsPeerAuthenticated()) {
    for (const char* property : {"x509_common_name", "x509_subject_alternative_name"}) {
      for (const auto& v : ctx->FindPropertyValues(property))
        names.emplace_back(v.data(), v.size());
    }
  }
  return auth->Check(it == md.end() ? nullptr : &value, names);
}

absl::StatusOr<std::string> TenantOfCall(const Tenancy* tenancy,
                                         const grpc::ServerContextBase& context) {
  if (tenancy == nullptr || !tenancy->enabled()) return std::string();
  const auto& md = context.client_metadata();
  auto it = md.find(tenancy->header());
  if (it == md.end()) return tenancy->Resolve(nullptr);
  std::string value(it->second.data(), it->second.size());
  return tenancy->Resolve(&value);
}

}  // namespace skua::common
