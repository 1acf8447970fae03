// Bearer-token and basic authentication, with the credential files re-read on change.

#include "common/auth.h"

#include <crypt.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/file_stamp.h"
#include "common/json_write.h"
#include "common/log_limiter.h"
#include "common/status_macros.h"

namespace skua::common {
namespace {

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest Sha256(std::string_view s) {
  Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

absl::StatusOr<std::vector<std::string_view>> ReadLines(const std::string& path,
                                                        std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(fmt::format("cannot read {}", path));
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::vector<std::string_view> lines;
  std::string_view rest = text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  return lines;
}

// The accepted credentials, as read from the files at one moment.
struct Credentials {
  std::vector<Digest> tokens;                          // SHA-256 of each token
  std::unordered_map<std::string, std::string> users;  // user -> bcrypt hash
};

absl::Status LoadTokens(const std::string& path, Credentials& out) {
  std::string text;
  SKUA_ASSIGN_OR_RETURN(auto lines, ReadLines(path, text));
  for (auto line : lines) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    out.tokens.push_back(Sha256(line));
  }
  if (out.tokens.empty()) {
    return absl::InvalidArgumentError(fmt::format("{} holds no token", path));
  }
  return absl::OkStatus();
}

absl::Status LoadUsers(const std::string& path, Credentials& out) {
  std::string text;
  SKUA_ASSIGN_OR_RETURN(auto lines, ReadLines(path, text));
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = Trim(lines[i]);
    if (line.empty() || line.front() == '#') continue;
    auto colon = line.find(':');
    std::string_view hash = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (colon == 0 || colon == std::string_view::npos ||
        !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) ||
        hash.size() != 60) {
      return absl::InvalidArgumentError(fmt::format(
          "{} line {}: not user:bcrypt-hash (only bcrypt hashes are accepted: htpasswd -B)", path,
          i + 1));
    }
    out.users[std::string(line.substr(0, colon))] = std::string(hash);
  }
  if (out.users.empty()) return absl::InvalidArgumentError(fmt::format("{} holds no user", path));
  return absl::OkStatus();
}

bool StartsWithScheme(std::string_view value, std::string_view scheme) {
  if (value.size() <= scheme.size() || value[scheme.size()] != ' ') return false;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != scheme[i]) return false;
  }
  return true;
}

}  // namespace

struct Authenticator::State {
  AuthConfig config;
  std::chrono::milliseconds recheck;
  std::shared_mutex mu;
  std::shared_ptr<const Credentials> credentials;  // guarded by mu
  FileStamp tokens_stamp, users_stamp;             // guarded by mu
  std::chrono::steady_clock::time_point checked;   // guarded by mu
  // Basic credentials already verified against the current users (bcrypt is slow by design,
  // and Grafana sends them with every request): SHA-256 of "user:password". Cleared on reload;
  // bounded. Guarded by mu.
  std::vector<Digest> verified;
  LogLimiter reload_log{std::chrono::seconds(60)};

  absl::StatusOr<std::shared_ptr<const Credentials>> Load(FileStamp& tokens, FileStamp& users) {
    auto c = std::make_shared<Credentials>();
    if (!config.bearer_tokens_file.empty()) {
      tokens = StampOf(config.bearer_tokens_file).value_or(FileStamp{});
      SKUA_RETURN_IF_ERROR(LoadTokens(config.bearer_tokens_file, *c));
    }
    if (!config.htpasswd_file.empty()) {
      users = StampOf(config.htpasswd_file).value_or(FileStamp{});
      SKUA_RETURN_IF_ERROR(LoadUsers(config.htpasswd_file, *c));
    }
    return c;
  }

  // Re-reads the files if they changed; keeps what it had if the new version cannot be used.
  void MaybeReload() {
    auto now = std::chrono::steady_clock::now();
    {
      std::shared_lock lock(mu);
      if (now - checked < recheck) return;
    }
    std::unique_lock lock(mu);
    if (now - checked < recheck) return;
    checked = now;
    bool changed = (!config.bearer_tokens_file.empty() &&
                    StampOf(config.bearer_tokens_file).value_or(FileStamp{}) != tokens_stamp) ||
                   (!config.htpasswd_file.empty() &&
                    StampOf(config.htpasswd_file).value_or(FileStamp{}) != users_stamp);
    if (!changed) return;
    FileStamp t, u;
    auto loaded = Load(t, u);
    if (!loaded.ok()) {
      uint64_t n = 0;
      if (reload_log.Allow(&n)) {
        SPDLOG_WARN("credentials not reloaded, the previous ones stay in use: {}",
                    loaded.status().message());
      }
      return;
    }
    credentials = std::move(*loaded);
    tokens_stamp = t;
    users_stamp = u;
    verified.clear();
    SPDLOG_INFO("credentials reloaded");
  }
};

Authenticator::Authenticator(std::unique_ptr<State> state) : state_(std::move(state)) {}
Authenticator::~Authenticator() = default;

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const AuthConfig& config, std::chrono::milliseconds recheck) {
  auto state = std::make_unique<State>();
  state->config = config;
  state->recheck = recheck;
  SKUA_ASSIGN_OR_RETURN(state->credentials, state->Load(state->tokens_stamp, state->users_stamp));
  state->checked = std::chrono::steady_clock::now();
  return std::unique_ptr<Authenticator>(new Authenticator(std::move(state)));
}

absl::Status Authenticator::Check(const std::string* authorization,
                                  const std::vector<std::string>& cert_names) {
  for (const auto& name : cert_names) {
    const auto& accepted = state_->config.client_cert_names;
    if (std::find(accepted.begin(), accepted.end(), name) != accepted.end()) {
      return absl::OkStatus();
    }
  }
  if (authorization == nullptr || authorization->empty()) {
    return absl::UnauthenticatedError("missing credentials");
  }
  state_->MaybeReload();
  std::shared_ptr<const Credentials> creds;
  {
    std::shared_lock lock(state_->mu);
    creds = state_->credentials;
  }
  std::string_view value = Trim(*authorization);
  if (StartsWithScheme(value, "bearer") && !creds->tokens.empty()) {
    Digest presented = Sha256(Trim(value.substr(7)));
    bool match = false;
    for (const Digest& d : creds->tokens) {
      match |= CRYPTO_memcmp(d.data(), presented.data(), d.size()) == 0;
    }
    if (match) return absl::OkStatus();
    return absl::UnauthenticatedError("invalid credentials");
  }
  if (StartsWithScheme(value, "basic") && !creds->users.empty()) {
    auto decoded = Base64Decode(Trim(value.substr(6)));
    auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) return absl::UnauthenticatedError("malformed credentials");
    Digest key = Sha256(*decoded);
    {
      std::shared_lock lock(state_->mu);
      for (const Digest& d : state_->verified) {
        if (CRYPTO_memcmp(d.data(), key.data(), d.size()) == 0) return absl::OkStatus();
      }
    }
    auto user = creds->users.find(decoded->substr(0, colon));
    // An unknown user costs a bcrypt too, so timing does not tell which users exist.
    static const std::string kDummy =
        "$2b$10$skuaskuaskuaskuaskuaOubkdxzk/Cinj6Fi3IC1Y/zz8CzJS7nN.";
    const std::string& hash = user != creds->users.end() ? user->second : kDummy;
    crypt_data data{};
    const char* out = crypt_r(decoded->c_str() + colon + 1, hash.c_str(), &data);
    bool ok = user != creds->users.end() && out != nullptr && std::strlen(out) == hash.size() &&
              CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
    if (!ok) return absl::UnauthenticatedError("invalid credentials");
    std::unique_lock lock(state_->mu);
    if (state_->credentials == creds) {
      if (state_->verified.size() >= 1024) state_->verified.clear();
      state_->verified.push_back(key);
    }
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError("unsupported credentials");
}

std::string Authenticator::Challenge() const {
  std::string out;
  if (!state_->config.bearer_tokens_file.empty()) out = "Bearer realm=\"skua\"";
  if (!state_->config.htpasswd_file.empty()) {
    if (!out.empty()) out += ", ";
    out += "Basic realm=\"skua\"";
  }
  return out;
}

HttpHandler WithAuth(std::shared_ptr<Authenticator> auth,
                     std::function<bool(const HttpRequest&)> open, HttpHandler handler) {
  if (auth == nullptr) return handler;
  return [auth = std::move(auth), open = std::move(open),
          handler = std::move(handler)](const HttpRequest& req) {
    if (open && open(req)) return handler(req);
    if (absl::Status st = auth->Check(req.Header("authorization"), req.client_cert_names);
        !st.ok()) {
      HttpResponse r{401,
                     "text/plain; charset=utf-8",
                     {},
                     "401 Unauthorized: " + std::string(st.message()) + "\n"};
      // Without a header scheme (client certificates only) there is nothing to challenge with.
      if (std::string challenge = auth->Challenge(); !challenge.empty()) {
        r.headers.emplace_back("WWW-Authenticate", std::move(challenge));
      }
      return r;
    }
    return handler(req);
  };
}

}  // namespace skua::common
