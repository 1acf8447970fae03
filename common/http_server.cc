// The HTTP/1.1 server (Beast): connection caps, request limits, body budget, long-running
// handlers on threads of their own.

#include "common/http_server.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

#include "absl/status/status.h"
#include "common/accept_backoff.h"
#include "common/file_stamp.h"
#include "common/status_macros.h"

namespace skua::common {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kStopGrace = std::chrono::seconds(10);
// Largest request header (request line included); RFC 9112 leaves the bound to the server.
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

class ServerImpl;

// The common name and DNS/URI alternative names of the peer's certificate, if it sent one and
// it was verified.
std::vector<std::string> PeerNames(SSL* ssl) {
  std::vector<std::string> names;
  if (SSL_get_verify_result(ssl) != X509_V_OK) return names;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return names;
  char cn[256];
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0) {
    names.emplace_back(cn);
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type == GEN_DNS || n->type == GEN_URI) {
      const ASN1_IA5STRING* v = n->type == GEN_DNS ? n->d.dNSName : n->d.uniformResourceIdentifier;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                         static_cast<size_t>(ASN1_STRING_length(v)));
    }
  }
  GENERAL_NAMES_free(sans);
  X509_free(cert);
  return names;
}

// One connection. Requests are read and answered one at a time; the handler runs on the
// session's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // With `tls`, the connection is HTTPS (the handshake comes first).
  Session(tcp::socket socket, ServerImpl& server, std::shared_ptr<asio::ssl::context> tls)
      : tls_(std::move(tls)), stream_(MakeStream(std::move(socket), tls_.get())), server_(server) {}
  void Start();
  // Closes the connection if it is waiting for a request; a busy one closes after its response.
  void RequestClose();

 private:
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  using Stream = std::variant<beast::tcp_stream, TlsStream>;
  static Stream MakeStream(tcp::socket socket, asio::ssl::context* tls) {
    if (tls != nullptr) return Stream(std::in_place_type<TlsStream>, std::move(socket), *tls);
    return Stream(std::in_place_type<beast::tcp_stream>, std::move(socket));
  }
  // The TCP layer, plain or under TLS: timeouts, executor, closing.
  beast::tcp_stream& Tcp() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream_);
  }
  void Handshake();
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void OnBody(beast::error_code ec);
  void Respond(HttpRequest req, bool keep_alive, unsigned version);
  void Write(HttpResponse r, bool keep_alive, unsigned version);
  // Answers a request that cannot be read (RFC 9112: 400, 413, 414, 431), then closes.
  void RefuseAndClose(int status, std::string reason,
                      std::vector<std::pair<std::string, std::string>> headers = {});
  void OnReadError(beast::error_code ec);
  void OnWrite(bool close, beast::error_code ec);
  void Close();

  std::shared_ptr<asio::ssl::context> tls_;  // keeps the context of this connection alive
  Stream stream_;
  ServerImpl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  MemoryBudget::Lease body_lease_;              // the body of the request being read or answered
  std::vector<std::string> client_cert_names_;  // of a verified client certificate (mTLS)
  bool reading_ = false;                        // touched only on the strand
};

class ServerImpl final : public HttpServer, public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        ioc_(options_.threads),
        acceptor_(asio::make_strand(ioc_)),
        accept_timer_(acceptor_.get_executor()),
        backoff_(options_.name),
        work_(asio::make_work_guard(ioc_)),
        long_pool_(static_cast<size_t>(std::max(1, options_.long_threads))) {}

  ~ServerImpl() override { Stop(); }

  absl::Status Bind(const std::string& host, uint16_t port) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec)
      return absl::InvalidArgumentError(fmt::format("{}: bad address '{}'", options_.name, host));
    tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          fmt::format("{}: listen on {}:{}: {}", options_.name, host, port, ec.message()));
    }
    auto local = acceptor_.local_endpoint();
    address_ = local.address().is_v6()
                   ? fmt::format("[{}]:{}", local.address().to_string(), local.port())
                   : fmt::format("{}:{}", local.address().to_string(), local.port());
    return absl::OkStatus();
  }

  void Run() {
    Accept();
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }

  std::string address() const override { return address_; }
  bool accepting() const override { return backoff_.accepting(); }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      accept_timer_.cancel();
    });
    {
      std::lock_guard lock(mu_);
      for (auto& weak : sessions_) {
        if (auto s = weak.lock()) s->RequestClose();
      }
    }
    work_.reset();
    if (threads_.empty()) return;  // never started
    // Connections close after their current response; give stragglers a bounded grace period.
    auto deadline = std::chrono::steady_clock::now() + kStopGrace;
    while (!ioc_.stopped() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    long_pool_.stop();
    long_pool_.join();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  bool stopping() const { return stopped_.load(); }
  const HttpServerOptions& options() const { return options_; }
  HttpResponse Handle(const HttpRequest& req) {
    try {
      return handler_(req);
    } catch (const std::exception& e) {
      SPDLOG_ERROR("{}: handler for {} {} threw: {}", options_.name, req.method, req.path,
                   e.what());
      return HttpResponse{500, "text/plain; charset=utf-8", {}, "internal error\n"};
    }
  }
  void Forget(Session* s) {
    bool resume = false;
    {
      std::lock_guard lock(mu_);
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        auto sp = it->lock();
        if (!sp || sp.get() == s) {
          it = sessions_.erase(it);
        } else {
          ++it;
        }
      }
      if (paused_ && static_cast<int>(sessions_.size()) < options_.max_connections) {
        paused_ = false;
        resume = true;
      }
    }
    if (resume) asio::post(acceptor_.get_executor(), [this] { Accept(); });
  }
  bool IsLong(const HttpRequest& req) const {
    return options_.runs_long && options_.runs_long(req);
  }
  asio::thread_pool& long_pool() { return long_pool_; }
  // See below; also called once before serving, so a start with unusable files fails.
  std::shared_ptr<asio::ssl::context> InitialTls() { return CurrentTls(); }

 private:
  // Runs on the acceptor's strand.
  void Accept() {
    if (stopping() || !acceptor_.is_open()) return;
    acceptor_.async_accept(
        asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted || stopping()) return;
          if (ec) {
            // Out of descriptors (or memory): the connection waits in the backlog.
            accept_timer_.expires_after(backoff_.Failed(ec.message()));
            accept_timer_.async_wait([this](beast::error_code tec) {
              if (!tec) Accept();
            });
            return;
          }
          backoff_.Accepted();
          auto s = std::make_shared<Session>(std::move(socket), *this, CurrentTls());
          bool full;
          {
            std::lock_guard lock(mu_);
            sessions_.push_back(s);
            full = static_cast<int>(sessions_.size()) >= options_.max_connections;
            paused_ = full;
          }
          s->Start();
          if (!full) Accept();
        });
  }

  // The TLS context new connections get (null without TLS): rebuilt when the certificate, key or
  // CA files change, looked at most once a second. On the acceptor's strand.
  std::shared_ptr<asio::ssl::context> CurrentTls() {
    if (!options_.tls.enabled()) return nullptr;
    auto now = std::chrono::steady_clock::now();
    if (tls_ != nullptr && now - tls_checked_ < std::chrono::seconds(1)) return tls_;
    tls_checked_ = now;
    std::vector<FileStamp> stamps;
    for (const auto* f :
         {&options_.tls.cert_file, &options_.tls.key_file, &options_.tls.client_ca_file}) {
      stamps.push_back(f->empty() ? FileStamp{} : StampOf(*f).value_or(FileStamp{}));
    }
    if (tls_ != nullptr && stamps == tls_stamps_) return tls_;
    auto built = BuildTls();
    if (!built.ok()) {
      SPDLOG_WARN("{}: TLS files not reloaded, the previous ones stay in use: {}", options_.name,
                  built.status().message());
      return tls_;
    }
    if (tls_ != nullptr) SPDLOG_INFO("{}: TLS certificate reloaded", options_.name);
    tls_ = std::move(*built);
    tls_stamps_ = std::move(stamps);
    return tls_;
  }

  absl::StatusOr<std::shared_ptr<asio::ssl::context>> BuildTls() const {
    const TlsConfig& t = options_.tls;
    SKUA_RETURN_IF_ERROR(CheckTls(t));
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    beast::error_code ec;
    SSL_CTX_set_min_proto_version(ctx->native_handle(),
                                  t.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use,
                     ec);
    if (!ec) ctx->use_certificate_chain_file(t.cert_file, ec);
    if (!ec) ctx->use_private_key_file(t.key_file, asio::ssl::context::pem, ec);
    if (!ec && !t.client_ca_file.empty()) {
      ctx->load_verify_file(t.client_ca_file, ec);
      int mode = asio::ssl::verify_peer;
      if (t.requires_client_cert()) mode |= asio::ssl::verify_fail_if_no_peer_cert;
      if (!ec) ctx->set_verify_mode(mode, ec);
    }
    if (ec) return absl::InvalidArgumentError(fmt::format("TLS: {}", ec.message()));
    return ctx;
  }

  HttpServerOptions options_;
  HttpHandler handler_;
  std::shared_ptr<asio::ssl::context> tls_;  // on the acceptor's strand
  std::vector<FileStamp> tls_stamps_;
  std::chrono::steady_clock::time_point tls_checked_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_timer_;  // on the acceptor's strand
  AcceptBackoff backoff_;            // used on the acceptor's strand
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::thread_pool long_pool_;
  std::vector<std::thread> threads_;
  std::string address_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::vector<std::weak_ptr<Session>> sessions_;  // guarded by mu_
  bool paused_ = false;  // accepting stopped at max_connections; guarded by mu_
};

void Session::Start() {
  asio::dispatch(Tcp().get_executor(), [self = shared_from_this()] {
    if (self->tls_) return self->Handshake();
    self->ReadHeader();
  });
}

// A client that does not complete the handshake (no TLS, a certificate refused, too slow) is
// closed without an answer.
void Session::Handshake() {
  Tcp().expires_after(kHandshakeTimeout);
  reading_ = true;
  std::get<TlsStream>(stream_).async_handshake(
      asio::ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
        self->reading_ = false;
        if (ec) {
          SPDLOG_DEBUG("{}: TLS handshake: {}", self->server_.options().name, ec.message());
          return self->Close();
        }
        self->client_cert_names_ = PeerNames(std::get<TlsStream>(self->stream_).native_handle());
        self->ReadHeader();
      });
}

void Session::RequestClose() {
  asio::post(Tcp().get_executor(), [self = shared_from_this()] {
    if (self->reading_) self->Close();
  });
}

void Session::ReadHeader() {
  if (server_.stopping()) return Close();
  parser_.emplace();
  parser_->body_limit(server_.options().max_body_bytes);
  parser_->header_limit(kMaxHeaderBytes);
  reading_ = true;
  Tcp().expires_after(kIdleTimeout);
  std::visit(
      [&](auto& stream) {
        http::async_read_header(
            stream, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
      },
      stream_);
}

void Session::OnHeader(beast::error_code ec) {
  // A Content-Length over the limit is detected with the header already.
  if (ec == http::error::body_limit) return OnBody(ec);
  if (ec) return OnReadError(ec);
  if (MemoryBudget* budget = server_.options().body_budget) {
    uint64_t want = 0;
    if (auto n = parser_->content_length()) {
      want = *n;
    } else if (parser_->chunked()) {
      want = server_.options().max_body_bytes;
    }
    if (want > 0) {
      body_lease_ = budget->TryReserve(want);
      if (!body_lease_) {
        reading_ = false;
        return RefuseAndClose(
            429, std::string(Message(budget->Exhausted())),
            {{"Retry-After", std::to_string(server_.options().retry_after_seconds)}});
      }
    }
  }
  std::visit(
      [&](auto& stream) {
        http::async_read(
            stream, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
      },
      stream_);
}

void Session::OnReadError(beast::error_code ec) {
  reading_ = false;
  if (ec.category() != http::make_error_code(http::error::bad_target).category() ||
      ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return Close();  // the peer went away or timed out: nobody to answer
  }
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    // Without a line end in what was read, the request line itself is too long.
    std::string_view seen(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    if (seen.find("\r\n") == std::string_view::npos) {
      return RefuseAndClose(414, "request line too long");
    }
    return RefuseAndClose(431, "request header fields too large");
  }
  return RefuseAndClose(400, ec.message());
}

void Session::RefuseAndClose(int status, std::string reason,
                             std::vector<std::pair<std::string, std::string>> headers) {
  Tcp().expires_after(std::chrono::seconds(5));
  HttpResponse r{status, "text/plain; charset=utf-8", std::move(headers),
                 fmt::format("{} {}\n", status, reason)};
  Write(std::move(r), /*keep_alive=*/false, 11);
}

void Session::OnBody(beast::error_code ec) {
  reading_ = false;
  bool too_large = ec == http::error::body_limit;
  if (ec && !too_large) return OnReadError(ec);
  Tcp().expires_never();
  auto& msg = parser_->get();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  for (const auto& f : msg) {
    req.headers.emplace_back(
        AsciiLower(std::string_view(f.name_string().data(), f.name_string().size())),
        std::string(f.value()));
  }
  req.body_too_large = too_large;
  req.client_cert_names = client_cert_names_;
  if (!too_large) req.body = std::move(msg.body());
  Respond(std::move(req), msg.keep_alive() && !too_large, msg.version());
}

void Session::Respond(HttpRequest req, bool keep_alive, unsigned version) {
  if (!server_.IsLong(req)) return Write(server_.Handle(req), keep_alive, version);
  asio::post(server_.long_pool(), [self = shared_from_this(), req = std::move(req), keep_alive,
                                   version]() mutable {
    HttpResponse r = self->server_.Handle(req);
    asio::post(self->Tcp().get_executor(), [self, r = std::move(r), keep_alive, version]() mutable {
      self->Write(std::move(r), keep_alive, version);
    });
  });
}

void Session::Write(HttpResponse r, bool keep_alive, unsigned version) {
  response_ = {};
  response_.version(version);
  response_.result(static_cast<unsigned>(r.status));
  if (!r.content_type.empty()) response_.set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) response_.set(k, v);
  response_.body() = std::move(r.body);
  bool close = !keep_alive || r.close_connection || server_.stopping();
  response_.keep_alive(!close);
  response_.prepare_payload();
  Tcp().expires_after(kIdleTimeout);
  std::visit(
      [&](auto& stream) {
        http::async_write(stream, response_,
                          [self = shared_from_this(), close](beast::error_code ec, size_t) {
                            self->OnWrite(close, ec);
                          });
      },
      stream_);
}

void Session::OnWrite(bool close, beast::error_code ec) {
  body_lease_.Reset();
  if (ec || close) return Close();
  ReadHeader();
}

void Session::Close() {
  reading_ = false;
  body_lease_.Reset();
  beast::error_code ec;
  Tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  Tcp().close();
  server_.Forget(this);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return &v;
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              HttpHandler handler) {
  SKUA_ASSIGN_OR_RETURN(auto hp, SplitEndpoint(options.endpoint));
  if (options.tls.enabled()) {
    SKUA_RETURN_IF_ERROR(CheckTls(options.tls));
  }
  auto server = std::make_unique<ServerImpl>(options, std::move(handler));
  SKUA_RETURN_IF_ERROR(server->Bind(hp.first, hp.second));
  if (options.tls.enabled() && server->InitialTls() == nullptr) {
    return absl::InvalidArgumentError(fmt::format("{}: TLS could not be set up", options.name));
  }
  server->Run();
  return server;
}

absl::StatusOr<std::pair<std::string, uint16_t>> SplitEndpoint(std::string_view endpoint) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == endpoint.size()) {
    return absl::InvalidArgumentError(fmt::format("endpoint '{}' must be host:port", endpoint));
  }
  std::string host(endpoint.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  auto port_text = endpoint.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) {
    return absl::InvalidArgumentError(
        fmt::format("endpoint '{}': port must be a number 0..65535", endpoint));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> PercentDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexDigit(s[i + 1]);
      int lo = HexDigit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto k = PercentDecode(part.substr(0, eq), true);
    auto v = eq == std::string_view::npos ? std::optional<std::string>("")
                                          : PercentDecode(part.substr(eq + 1), true);
    // Go's ParseQuery skips pairs it cannot decode.
    if (k && v) out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

}  // namespace skua::common
