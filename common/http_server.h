// A small HTTP/1.1 server for Skua's HTTP endpoints (OTLP/HTTP, query API, admin). Beast and Asio
// stay inside http_server.cc; handlers see only these plain types.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/memory_budget.h"
#include "common/tls.h"

namespace skua::common {

struct HttpRequest {
  std::string method;  // "GET", "POST", …
  std::string target;  // as sent: path plus optional "?query"
  std::string path;    // target up to '?', not percent-decoded
  std::string query;   // after '?', not decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  // The body exceeded HttpServerOptions::max_body_bytes; `body` is empty and the connection is
  // closed after the response.
  bool body_too_large = false;
  // Over mutual TLS, the names of the client's verified certificate: its subject's common name
  // and its DNS and URI subject alternative names. Empty otherwise.
  std::vector<std::string> client_cert_names;

  // First header with this lowercase name, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The connection closes after this response (`Connection: close`) even if the client wanted
  // to keep it.
  bool close_connection = false;
};

// Called on a server thread; may block (bounded), and must be thread-safe.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string name;      // for logs: "otlp-http", "query-http", "admin"
  std::string endpoint;  // "host:port"; port 0 picks a free port
  uint64_t max_body_bytes = 16 << 20;
  int threads = 2;  // I/O threads; handlers run on them unless `runs_long` says otherwise
  // Open connections at most; past it the server stops accepting (new connections wait in the
  // kernel's backlog) until one closes.
  int max_connections = 1024;
  // When set, every request body is reserved from this budget once its header is read (its
  // Content-Length, or max_body_bytes when chunked) and released after the response; without
  // room the request is answered 429 with Retry-After: `retry_after_seconds`. Must outlive the
  // server.
  MemoryBudget* body_budget = nullptr;
  int retry_after_seconds = 1;
  // Requests for which this returns true run on `long_threads` threads of their own, so slow
  // requests (searches) never hold up the I/O threads answering cheap ones.
  std::function<bool(const HttpRequest&)> runs_long;
  int long_threads = 2;
  // HTTPS when tls.enabled() (checked by CheckTls before). The files are looked at again at most
  // once a second as connections arrive; a changed certificate is used for new connections
  // from then on (one that cannot be used is logged and the previous one kept).
  TlsConfig tls;
};

class HttpServer {
 public:
  // Binds and starts serving. Errors: kInvalidArgument (bad endpoint), kUnavailable (bind).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpHandler handler);
  virtual ~HttpServer() = default;
  // "host:port" actually bound.
  virtual std::string address() const = 0;
  // False while the listener cannot accept (out of descriptors); it retries by itself.
  virtual bool accepting() const = 0;
  // Stops accepting, lets in-flight requests finish, closes connections. Idempotent.
  virtual void Stop() = 0;
};

// Splits "host:port" (or "[v6]:port"). Error names the text.
absl::StatusOr<std::pair<std::string, uint16_t>> SplitEndpoint(std::string_view endpoint);

// A copy of `s` with ASCII letters lowercased (header names, media types, CORS origins).
std::string AsciiLower(std::string_view s);

// Decodes %XX escapes; with `plus_as_space`, '+' becomes ' ' (query strings, Go's QueryUnescape).
std::optional<std::string> PercentDecode(std::string_view s, bool plus_as_space);

// Parses a query string into (name, value) pairs in order, decoded as Go's url.ParseQuery does.
std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view query);

}  // namespace skua::common
