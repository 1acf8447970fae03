// Checking a listener's TLS settings and files with OpenSSL.

#include "common/tls.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <memory>

namespace skua::common {
namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

}  // namespace

absl::Status CheckTls(const TlsConfig& tls) {
  if (!tls.enabled()) {
    if (!tls.key_file.empty() || !tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError("tls.key_file and tls.client_ca_file need tls.cert_file");
    }
    return absl::OkStatus();
  }
  if (tls.key_file.empty()) return absl::InvalidArgumentError("tls.cert_file needs tls.key_file");
  if (tls.client_auth != "require" && tls.client_auth != "verify-if-given") {
    return absl::InvalidArgumentError(fmt::format(
        "tls.client_auth must be require or verify-if-given, not '{}'", tls.client_auth));
  }
  if (tls.min_version != "1.2" && tls.min_version != "1.3") {
    return absl::InvalidArgumentError(
        fmt::format("tls.min_version must be 1.2 or 1.3, not '{}'", tls.min_version));
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        SSL_CTX_free);
  if (ctx == nullptr) return absl::InternalError("TLS: " + OpenSslError());
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        fmt::format("tls.cert_file {}: not a readable PEM certificate chain ({})", tls.cert_file,
                    OpenSslError()));
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new_file(tls.key_file.c_str(), "r"),
                                                    BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr,
      EVP_PKEY_free);
  if (key == nullptr) {
    return absl::InvalidArgumentError(fmt::format(
        "tls.key_file {}: not a readable PEM private key ({})", tls.key_file, OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(fmt::format(
        "tls.key_file {} is not the key of the certificate in {}", tls.key_file, tls.cert_file));
  }
  if (!tls.client_ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx.get(), tls.client_ca_file.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(
        fmt::format("tls.client_ca_file {}: not a readable PEM CA bundle ({})", tls.client_ca_file,
                    OpenSslError()));
  }
  return absl::OkStatus();
}

}  // namespace skua::common
