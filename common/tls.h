// Server TLS settings of one listener, and their checking. The servers build their own TLS
// contexts from these (Beast's in common/http_server.cc, gRPC's in common/grpc_server.cc) and
// pick up new certificate files when they change, without dropping the port.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace skua::common {

struct TlsConfig {
  std::string cert_file;       // PEM certificate chain, the server's first
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // PEM CAs of client certificates (mutual TLS); empty = none asked
  // With client_ca_file: "require" (a client without a valid certificate is refused during the
  // handshake) or "verify-if-given" (a certificate is checked if sent).
  std::string client_auth = "require";
  std::string min_version = "1.2";  // "1.2" or "1.3"

  bool enabled() const { return !cert_file.empty(); }
  bool requires_client_cert() const { return !client_ca_file.empty() && client_auth == "require"; }
};

// Checks the settings and that the files hold what they should (a certificate chain, the key
// that belongs to it, CA certificates). The error names the file, never its contents.
absl::Status CheckTls(const TlsConfig& tls);

}  // namespace skua::common
