// Authentication of the clients of one listener: bearer tokens from a file, and HTTP basic
// users from an htpasswd file (bcrypt hashes). The files are re-read when they change (as
// Kubernetes updates a mounted Secret in place), so credentials rotate without a restart.
//
// Secrets never leave this class: errors and logs name files and line numbers, never a token,
// password or hash.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/http_server.h"

namespace skua::common {

struct AuthConfig {
  std::string bearer_tokens_file;  // one accepted token per line; blank and # lines ignored
  std::string htpasswd_file;       // user:bcrypt-hash lines ($2a$, $2b$ or $2y$)
  // Clients accepted by their TLS client certificate (mutual TLS, verified against the
  // listener's tls.client_ca_file): its common name or a DNS/URI alternative name is one of these.
  std::vector<std::string> client_cert_names;
  bool enabled() const {
    return !bearer_tokens_file.empty() || !htpasswd_file.empty() || !client_cert_names.empty();
  }
};

// Thread-safe.
class Authenticator {
 public:
  // Reads the files. Errors (kInvalidArgument) name the file and line of what cannot be used.
  // `recheck` is how often a check may look at the files again (0 = at every check: tests).
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      const AuthConfig& config, std::chrono::milliseconds recheck = std::chrono::seconds(1));
  ~Authenticator();

  // `authorization`: the request's Authorization header (HTTP) or `authorization` metadata
  // (gRPC), null when absent; `cert_names`: the names of the client's verified certificate
  // (empty without one). OK if either is accepted; else kUnauthenticated, the message saying
  // whether credentials were missing, malformed or not accepted, and nothing else.
  absl::Status Check(const std::string* authorization,
                     const std::vector<std::string>& cert_names = {});

  // The WWW-Authenticate value of a 401: the schemes this listener accepts.
  std::string Challenge() const;

 private:
  struct State;
  explicit Authenticator(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// `handler` behind `auth` (unchanged when null): a request without accepted credentials is
// answered 401 with WWW-Authenticate and nothing else, unless `open` (if set) says it needs
// none (health probes).
HttpHandler WithAuth(std::shared_ptr<Authenticator> auth,
                     std::function<bool(const HttpRequest&)> open, HttpHandler handler);

}  // namespace skua::common
