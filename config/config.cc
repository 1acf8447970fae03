#include "config/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/status/status.h"
#include "common/status_macros.h"
#include "model/go_duration.h"

namespace skua::config {
namespace {

using Setter = std::function<absl::Status(std::string_view value, Config& c)>;

struct Key {
  std::string name;
  std::string help;
  std::function<std::string(const Config&)> show;  // current value, as accepted by the setter
  Setter set;
  // The value is a map (YAML mapping, or "k=v,k=v" in the environment and flags).
  bool map_value = false;
  // The value is a list (YAML sequence, or "a,b" in the environment and flags).
  bool list_value = false;
};

std::string FormatBytes(uint64_t b) {
  if (b != 0 && b % (1ull << 30) == 0) return fmt::format("{}GiB", b >> 30);
  if (b != 0 && b % (1ull << 20) == 0) return fmt::format("{}MiB", b >> 20);
  if (b != 0 && b % (1ull << 10) == 0) return fmt::format("{}KiB", b >> 10);
  return std::to_string(b);
}

std::string FormatSeconds(std::chrono::seconds d) {
  auto sec = d.count();
  if (sec % 3600 == 0 && sec != 0) return fmt::format("{}h", sec / 3600);
  if (sec % 60 == 0 && sec != 0) return fmt::format("{}m", sec / 60);
  return fmt::format("{}s", sec);
}

absl::StatusOr<std::chrono::seconds> ParseRetention(std::string_view v) {
  SKUA_ASSIGN_OR_RETURN(auto d, model::ParseGoDuration(v));
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d);
  if (s.count() < 1) return absl::InvalidArgumentError("must be at least 1s");
  if (s.count() > 10LL * 365 * 86400) return absl::InvalidArgumentError("must be at most 10 years");
  return s;
}

std::string FormatDuration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 3600000 == 0 && ms != 0) return fmt::format("{}h", ms / 3600000);
  if (ms % 60000 == 0 && ms != 0) return fmt::format("{}m", ms / 60000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

absl::Status Bad(std::string_view what) { return absl::InvalidArgumentError(std::string(what)); }

Setter EndpointSetter(std::string* (*field)(Config&)) {
  return [field](std::string_view v, Config& c) {
    auto colon = v.rfind(':');
    if (colon == std::string_view::npos)
      return Bad("must be host:port, e.g. localhost:4317 or 0.0.0.0:4317");
    auto port = v.substr(colon + 1);
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p > 65535) {
      return Bad("port must be a number 0..65535");
    }
    *field(c) = std::string(v);
    return absl::OkStatus();
  };
}

Setter ByteSizeSetter(uint64_t* (*field)(Config&), uint64_t min) {
  return [field, min](std::string_view v, Config& c) {
    SKUA_ASSIGN_OR_RETURN(auto b, ParseByteSize(v));
    if (b < min) return Bad(fmt::format("must be at least {}", FormatBytes(min)));
    *field(c) = b;
    return absl::OkStatus();
  };
}

Setter IntSetter(int* (*field)(Config&), int min, int max) {
  return [field, min, max](std::string_view v, Config& c) {
    int n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || n < min || n > max) {
      return Bad(fmt::format("must be an integer {}..{}", min, max));
    }
    *field(c) = n;
    return absl::OkStatus();
  };
}

// A duration of at least `min` (0 allowed when `zero_ok`, meaning "off").
Setter MillisSetter(std::function<std::chrono::milliseconds*(Config&)> field,
                    std::chrono::milliseconds min, bool zero_ok) {
  return [field, min, zero_ok](std::string_view v, Config& c) {
    SKUA_ASSIGN_OR_RETURN(auto d, model::ParseGoDuration(v));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d);
    if (ms.count() == 0 && zero_ok) {
      *field(c) = ms;
      return absl::OkStatus();
    }
    if (ms < min) {
      return Bad(
          fmt::format("must be at least {}{}", FormatDuration(min), zero_ok ? " (or 0)" : ""));
    }
    *field(c) = ms;
    return absl::OkStatus();
  };
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ",";
    out += i;
  }
  return out;
}

// "a, b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitList(std::string_view v) {
  std::vector<std::string> out;
  while (!v.empty()) {
    auto comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

// The CORS settings of an HTTP listener: `prefix`.cors.allowed_origins and so on.
void AddCorsKeys(std::vector<Key>& k, const std::string& prefix,
                 common::CorsPolicy* (*policy)(Config&),
                 const common::CorsPolicy* (*shown)(const Config&)) {
  k.push_back({prefix + ".cors.allowed_origins",
               "origins whose pages may call this port from a browser, e.g. "
               "https://app.example.com or https://*.example.com; * = any; empty = none (CORS off)",
               [shown](const Config& c) { return JoinList(shown(c)->allowed_origins); },
               [policy](std::string_view v, Config& c) {
                 auto origins = SplitList(v);
                 for (const auto& o : origins) {
                   if (std::count(o.begin(), o.end(), '*') > 1) {
                     return Bad(fmt::format("origin '{}' has more than one *", o));
                   }
                 }
                 policy(c)->allowed_origins = std::move(origins);
                 return absl::OkStatus();
               },
               false, true});
  k.push_back({prefix + ".cors.allowed_headers",
               "request headers those pages may send beyond the CORS-safelisted ones; * = any",
               [shown](const Config& c) { return JoinList(shown(c)->allowed_headers); },
               [policy](std::string_view v, Config& c) {
                 policy(c)->allowed_headers = SplitList(v);
                 return absl::OkStatus();
               },
               false, true});
  k.push_back({prefix + ".cors.max_age",
               "how long browsers may cache a preflight answer; 0 = not said",
               [shown](const Config& c) { return FormatSeconds(shown(c)->max_age); },
               [policy](std::string_view v, Config& c) {
                 SKUA_ASSIGN_OR_RETURN(auto d, model::ParseGoDuration(v));
                 if (d.count() < 0) return Bad("must not be negative");
                 policy(c)->max_age = std::chrono::duration_cast<std::chrono::seconds>(d);
                 return absl::OkStatus();
               }});
}

// The credentials a listener accepts: `prefix`.auth.bearer_tokens_file and
// `prefix`.auth.htpasswd_file (the files are read at start; their contents never shown).
void AddAuthKeys(std::vector<Key>& k, const std::string& prefix,
                 common::AuthConfig* (*auth)(Config&),
                 const common::AuthConfig* (*shown)(const Config&)) {
  k.push_back({prefix + ".auth.bearer_tokens_file",
               "file of accepted bearer tokens, one per line (Authorization: Bearer …); re-read "
               "when it changes. Empty = no bearer authentication",
               [shown](const Config& c) { return shown(c)->bearer_tokens_file; },
               [auth](std::string_view v, Config& c) {
                 auth(c)->bearer_tokens_file = std::string(v);
                 return absl::OkStatus();
               }});
  k.push_back({prefix + ".auth.htpasswd_file",
               "htpasswd file of HTTP basic users with bcrypt hashes (htpasswd -B); re-read when "
               "it changes. Empty = no basic authentication",
               [shown](const Config& c) { return shown(c)->htpasswd_file; },
               [auth](std::string_view v, Config& c) {
                 auth(c)->htpasswd_file = std::string(v);
                 return absl::OkStatus();
               }});
  k.push_back({prefix + ".auth.client_cert_names",
               "clients accepted by their TLS client certificate (mutual TLS, needs "
               "tls.client_ca_file): its common name or a DNS/URI alternative name is one of "
               "these. Empty = certificates are not credentials here",
               [shown](const Config& c) { return JoinList(shown(c)->client_cert_names); },
               [auth](std::string_view v, Config& c) {
                 auth(c)->client_cert_names = SplitList(v);
                 return absl::OkStatus();
               },
               false, true});
}

// Server TLS of a listener: `prefix`.tls.cert_file and so on (files are checked at start).
void AddTlsKeys(std::vector<Key>& k, const std::string& prefix, common::TlsConfig* (*tls)(Config&),
                const common::TlsConfig* (*shown)(const Config&)) {
  struct FileKey {
    const char* name;
    const char* help;
    std::string common::TlsConfig::*field;
  };
  static const FileKey kFiles[] = {
      {"cert_file", "PEM certificate chain: TLS on this listener; re-read when it changes",
       &common::TlsConfig::cert_file},
      {"key_file", "PEM private key of that certificate", &common::TlsConfig::key_file},
      {"client_ca_file",
       "PEM CAs of client certificates: mutual TLS (with client_auth); empty = none asked",
       &common::TlsConfig::client_ca_file},
  };
  for (const auto& f : kFiles) {
    auto field = f.field;
    k.push_back({prefix + ".tls." + f.name, f.help,
                 [shown, field](const Config& c) { return shown(c)->*field; },
                 [tls, field](std::string_view v, Config& c) {
                   tls(c)->*field = std::string(v);
                   return absl::OkStatus();
                 }});
  }
  k.push_back({prefix + ".tls.client_auth",
               "with client_ca_file: require (no valid client certificate, no connection) or "
               "verify-if-given",
               [shown](const Config& c) { return shown(c)->client_auth; },
               [tls](std::string_view v, Config& c) {
                 if (v != "require" && v != "verify-if-given") {
                   return Bad("must be require or verify-if-given");
                 }
                 tls(c)->client_auth = std::string(v);
                 return absl::OkStatus();
               }});
  k.push_back({prefix + ".tls.min_version", "oldest TLS version accepted: 1.2 or 1.3",
               [shown](const Config& c) { return shown(c)->min_version; },
               [tls](std::string_view v, Config& c) {
                 if (v != "1.2" && v != "1.3") return Bad("must be 1.2 or 1.3");
                 tls(c)->min_version = std::string(v);
                 return absl::OkStatus();
               }});
}

// The connection limits of a gRPC listener: `prefix`.max_concurrent_streams and so on.
// `limits` and `shown` give the same GrpcLimits of a config, to set and to show.
void AddGrpcLimitKeys(std::vector<Key>& k, const std::string& prefix,
                      common::GrpcLimits* (*limits)(Config&),
                      const common::GrpcLimits* (*shown)(const Config&)) {
  k.push_back(
      {prefix + ".max_concurrent_streams", "concurrent calls per connection",
       [shown](const Config& c) { return std::to_string(shown(c)->max_concurrent_streams); },
       [limits](std::string_view v, Config& c) {
         int n = 0;
         auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
         if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || n < 1 || n > 100000) {
           return Bad("must be an integer 1..100000");
         }
         limits(c)->max_concurrent_streams = static_cast<uint32_t>(n);
         return absl::OkStatus();
       }});
  struct DurationKey {
    const char* name;
    const char* help;
    std::chrono::milliseconds common::GrpcLimits::*field;
    bool zero_ok;
  };
  static const DurationKey kDurations[] = {
      {"max_connection_idle", "a connection without calls for this long is closed; 0 = never",
       &common::GrpcLimits::max_connection_idle, true},
      {"max_connection_age",
       "a connection is closed (gracefully) after this long, spreading clients over replicas; "
       "0 = never",
       &common::GrpcLimits::max_connection_age, true},
      {"keepalive_time", "the server pings a connection idle this long",
       &common::GrpcLimits::keepalive_time, false},
      {"keepalive_timeout", "and closes it if the ping is not answered within this",
       &common::GrpcLimits::keepalive_timeout, false},
  };
  for (const auto& d : kDurations) {
    auto field = d.field;
    bool zero_ok = d.zero_ok;
    k.push_back({prefix + "." + d.name, d.help,
                 [shown, field](const Config& c) { return FormatDuration(shown(c)->*field); },
                 MillisSetter([limits, field](Config& c) { return &(limits(c)->*field); },
                              std::chrono::seconds(1), zero_ok)});
  }
  k.push_back({prefix + ".memory_limit",
               "memory gRPC may use for its connections' buffers (messages being received "
               "included); under pressure it slows reads and cancels the largest calls. 0 = none",
               [shown](const Config& c) { return FormatBytes(shown(c)->memory_bytes); },
               [limits](std::string_view v, Config& c) {
                 SKUA_ASSIGN_OR_RETURN(auto b, ParseByteSize(v));
                 if (b != 0 && b < (16u << 20)) return Bad("must be 0 or at least 16MiB");
                 limits(c)->memory_bytes = b;
                 return absl::OkStatus();
               }});
}

// "name=value,name=value" (a YAML mapping in files) -> pairs, each value parsed by `parse`;
// `what` names the left side in errors ("service", "tenant").
template <typename T>
absl::StatusOr<std::vector<std::pair<std::string, T>>> ParseMap(
    std::string_view v, std::string_view what,
    const std::function<absl::StatusOr<T>(std::string_view)>& parse) {
  std::vector<std::pair<std::string, T>> out;
  while (!v.empty()) {
    auto comma = v.find(',');
    auto item = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    if (item.empty()) continue;
    auto eq = item.rfind('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Bad(fmt::format("'{}' is not {}=value", item, what));
    }
    auto value = parse(item.substr(eq + 1));
    if (!value.ok()) {
      return Bad(fmt::format("{} {}: {}", what, item.substr(0, eq), value.status().message()));
    }
    out.emplace_back(std::string(item.substr(0, eq)), std::move(*value));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::chrono::seconds>>> ParseRetentionMap(
    std::string_view v, std::string_view what) {
  return ParseMap<std::chrono::seconds>(v, what, ParseRetention);
}

std::string FormatRetentionMap(
    const std::vector<std::pair<std::string, std::chrono::seconds>>& map) {
  std::string out;
  for (const auto& [name, d] : map) {
    if (!out.empty()) out += ",";
    out += fmt::format("{}={}", name, FormatSeconds(d));
  }
  return out;
}

// A non-negative integer.
absl::StatusOr<uint64_t> ParseCount(std::string_view v) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
    return Bad("must be a non-negative integer");
  }
  return n;
}

absl::Status SetBool(std::string_view v, bool& field) {
  if (v == "true") {
    field = true;
  } else if (v == "false") {
    field = false;
  } else {
    return Bad("must be true or false");
  }
  return absl::OkStatus();
}

// Tenants: whether calls must name one, which, and their limits.
void AddTenancyKeys(std::vector<Key>& k) {
  k.push_back({"tenancy.enabled",
               "every export and query must name its tenant in tenancy.header (missing: 401 / "
               "UNAUTHENTICATED, not allowed: 403 / PERMISSION_DENIED); each tenant sees only "
               "its own data",
               [](const Config& c) { return std::string(c.tenancy.enabled ? "true" : "false"); },
               [](std::string_view v, Config& c) { return SetBool(v, c.tenancy.enabled); }});
  k.push_back({"tenancy.header",
               "HTTP header (gRPC metadata key) naming the tenant, e.g. x-tenant (Jaeger) or "
               "X-Scope-OrgID (Tempo)",
               [](const Config& c) { return c.tenancy.header; },
               [](std::string_view v, Config& c) {
                 c.tenancy.header = std::string(v);
                 return absl::OkStatus();
               }});
  k.push_back({"tenancy.tenants", "the tenants allowed; empty = any well-formed tenant ID",
               [](const Config& c) { return JoinList(c.tenancy.tenants); },
               [](std::string_view v, Config& c) {
                 c.tenancy.tenants = SplitList(v);
                 return absl::OkStatus();
               },
               false, true});
  k.push_back({"tenancy.max_tenants",
               "with tenancy.tenants empty: how many distinct tenants may store data; exports of "
               "a new tenant past it are refused (403)",
               [](const Config& c) { return std::to_string(c.tenancy.max_tenants); },
               IntSetter([](Config& c) { return &c.tenancy.max_tenants; }, 1, 100'000)});
  k.push_back({"tenancy.max_spans_per_second",
               "spans per second each tenant may export, on average (over it: gRPC "
               "RESOURCE_EXHAUSTED / HTTP 429 with a retry hint). 0 = no limit",
               [](const Config& c) { return std::to_string(c.tenancy.max_spans_per_second); },
               [](std::string_view v, Config& c) {
                 SKUA_ASSIGN_OR_RETURN(c.tenancy.max_spans_per_second, ParseCount(v));
                 return absl::OkStatus();
               }});
  k.push_back({"tenancy.rate_overrides",
               "tenants with another tenancy.max_spans_per_second, e.g. acme=50000,trial=500 (a "
               "YAML mapping in files); 0 = no limit",
               [](const Config& c) {
                 std::string out;
                 for (const auto& [tenant, n] : c.tenancy.rate_overrides) {
                   if (!out.empty()) out += ",";
                   out += fmt::format("{}={}", tenant, n);
                 }
                 return out;
               },
               [](std::string_view v, Config& c) {
                 SKUA_ASSIGN_OR_RETURN(c.tenancy.rate_overrides,
                                       ParseMap<uint64_t>(v, "tenant", ParseCount));
                 return absl::OkStatus();
               },
               true});
  k.push_back(
      {"tenancy.retention_overrides",
       "tenants kept for another period than storage.retention, all their services, "
       "e.g. acme=720h,trial=24h (a YAML mapping in files)",
       [](const Config& c) { return FormatRetentionMap(c.storage.tenant_retention_overrides); },
       [](std::string_view v, Config& c) {
         SKUA_ASSIGN_OR_RETURN(c.storage.tenant_retention_overrides,
                               ParseRetentionMap(v, "tenant"));
         return absl::OkStatus();
       },
       true});
}

const std::vector<Key>& Keys() {
  static const std::vector<Key> kKeys = [] {
    std::vector<Key> k;
    k.push_back({"storage.path", "directory of the RocksDB data",
                 [](const Config& c) { return c.storage.path; },
                 [](std::string_view v, Config& c) {
                   if (v.empty()) return Bad("must not be empty");
                   c.storage.path = std::string(v);
                   return absl::OkStatus();
                 }});
    k.push_back({"storage.shards",
                 "number of storage shards (one writer thread each); 0 = number of cores. Fixed "
                 "when the data directory is created",
                 [](const Config& c) { return std::to_string(c.storage.shards); },
                 [](std::string_view v, Config& c) {
                   int n = 0;
                   auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
                   if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || n < 0 ||
                       n > 256) {
                     return Bad("must be an integer 0..256");
                   }
                   c.storage.shards = n;
                   return absl::OkStatus();
                 }});
    k.push_back({"storage.fsync",
                 "fsync the write-ahead log on every group commit (survives power loss, slower)",
                 [](const Config& c) { return std::string(c.storage.fsync ? "true" : "false"); },
                 [](std::string_view v, Config& c) { return SetBool(v, c.storage.fsync); }});
    k.push_back({"storage.block_cache_size",
                 "RocksDB block cache shared by all shards (recently read span and index data)",
                 [](const Config& c) { return FormatBytes(c.storage.block_cache_size); },
                 ByteSizeSetter([](Config& c) { return &c.storage.block_cache_size; }, 1 << 20)});
    k.push_back({"storage.memtable_size",
                 "RocksDB memtables of one shard, all time partitions together (write buffering)",
                 [](const Config& c) { return FormatBytes(c.storage.memtable_size); },
                 ByteSizeSetter([](Config& c) { return &c.storage.memtable_size; }, 8 << 20)});
    k.push_back({"storage.retention",
                 "how long spans are kept; older ones are dropped with their time partition",
                 [](const Config& c) { return FormatSeconds(c.storage.retention); },
                 [](std::string_view v, Config& c) {
                   SKUA_ASSIGN_OR_RETURN(auto r, ParseRetention(v));
                   c.storage.retention = r;
                   return absl::OkStatus();
                 }});
    k.push_back(
        {"storage.retention_overrides",
         "per-service retention, e.g. checkout=720h,healthcheck-svc=1h (a YAML mapping in files)",
         [](const Config& c) { return FormatRetentionMap(c.storage.retention_overrides); },
         [](std::string_view v, Config& c) {
           SKUA_ASSIGN_OR_RETURN(c.storage.retention_overrides, ParseRetentionMap(v, "service"));
           return absl::OkStatus();
         },
         true});
    k.push_back({"storage.max_disk_bytes",
                 "disk cap for the data directory; above it the oldest time partitions are "
                 "dropped first. 0 = no cap",
                 [](const Config& c) { return FormatBytes(c.storage.max_disk_bytes); },
                 ByteSizeSetter([](Config& c) { return &c.storage.max_disk_bytes; }, 0)});
    k.push_back({"storage.min_free_disk_bytes",
                 "exports are refused with a retryable error while the data filesystem has less "
                 "free space than this; they resume by themselves once there is more. 0 = no check",
                 [](const Config& c) { return FormatBytes(c.storage.min_free_disk_bytes); },
                 ByteSizeSetter([](Config& c) { return &c.storage.min_free_disk_bytes; }, 0)});
    k.push_back({"collector.otlp.grpc.endpoint", "OTLP/gRPC listen address",
                 [](const Config& c) { return c.collector.grpc_endpoint; },
                 EndpointSetter([](Config& c) { return &c.collector.grpc_endpoint; })});
    k.push_back(
        {"collector.otlp.grpc.max_recv_msg_size",
         "largest accepted OTLP/gRPC request; larger ones get RESOURCE_EXHAUSTED",
         [](const Config& c) { return FormatBytes(c.collector.grpc_max_recv_msg_size); },
         ByteSizeSetter([](Config& c) { return &c.collector.grpc_max_recv_msg_size; }, 1024)});
    AddGrpcLimitKeys(
        k, "collector.otlp.grpc", [](Config& c) { return &c.collector.grpc_limits; },
        [](const Config& c) { return &c.collector.grpc_limits; });
    AddAuthKeys(
        k, "collector.otlp.grpc", [](Config& c) { return &c.collector.grpc_auth; },
        [](const Config& c) { return &c.collector.grpc_auth; });
    AddTlsKeys(
        k, "collector.otlp.grpc", [](Config& c) { return &c.collector.grpc_tls; },
        [](const Config& c) { return &c.collector.grpc_tls; });
    k.push_back({"collector.otlp.http.endpoint", "OTLP/HTTP listen address",
                 [](const Config& c) { return c.collector.http_endpoint; },
                 EndpointSetter([](Config& c) { return &c.collector.http_endpoint; })});
    k.push_back(
        {"collector.otlp.http.max_request_body_size",
         "largest accepted OTLP/HTTP body, after decompression; larger ones get 413",
         [](const Config& c) { return FormatBytes(c.collector.http_max_request_body_size); },
         ByteSizeSetter([](Config& c) { return &c.collector.http_max_request_body_size; }, 1024)});
    k.push_back(
        {"collector.otlp.http.max_connections",
         "open OTLP/HTTP connections at most; more wait until one closes",
         [](const Config& c) { return std::to_string(c.collector.http_max_connections); },
         IntSetter([](Config& c) { return &c.collector.http_max_connections; }, 1, 1 << 20)});
    AddCorsKeys(
        k, "collector.otlp.http", [](Config& c) { return &c.collector.http_cors; },
        [](const Config& c) { return &c.collector.http_cors; });
    AddAuthKeys(
        k, "collector.otlp.http", [](Config& c) { return &c.collector.http_auth; },
        [](const Config& c) { return &c.collector.http_auth; });
    AddTlsKeys(
        k, "collector.otlp.http", [](Config& c) { return &c.collector.http_tls; },
        [](const Config& c) { return &c.collector.http_tls; });
    k.push_back(
        {"collector.max_inflight_bytes",
         "memory for OTLP requests before their spans are queued (bodies being received, "
         "inflated and decoded), all receivers together; past it exports are refused with a "
         "retryable error",
         [](const Config& c) { return FormatBytes(c.collector.max_inflight_bytes); },
         ByteSizeSetter([](Config& c) { return &c.collector.max_inflight_bytes; }, 1 << 20)});
    k.push_back({"collector.queue.max_bytes",
                 "ingest queue bound per shard (encoded span bytes); a full queue refuses exports "
                 "with a retryable error",
                 [](const Config& c) { return FormatBytes(c.collector.queue_max_bytes); },
                 ByteSizeSetter([](Config& c) { return &c.collector.queue_max_bytes; }, 1)});
    k.push_back({"collector.retry_after",
                 "retry delay suggested to exporters refused because a queue is full",
                 [](const Config& c) { return FormatDuration(c.collector.retry_after); },
                 [](std::string_view v, Config& c) {
                   SKUA_ASSIGN_OR_RETURN(auto d, model::ParseGoDuration(v));
                   auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d);
                   if (ms.count() < 1) return Bad("must be at least 1ms");
                   c.collector.retry_after = ms;
                   return absl::OkStatus();
                 }});
    k.push_back({"query.http.endpoint", "Jaeger query HTTP API listen address",
                 [](const Config& c) { return c.query.http_endpoint; },
                 EndpointSetter([](Config& c) { return &c.query.http_endpoint; })});
    k.push_back({"query.grpc.endpoint", "Jaeger query gRPC API (api_v2, api_v3) listen address",
                 [](const Config& c) { return c.query.grpc_endpoint; },
                 EndpointSetter([](Config& c) { return &c.query.grpc_endpoint; })});
    k.push_back({"query.http.max_connections",
                 "open query HTTP connections at most; more wait until one closes",
                 [](const Config& c) { return std::to_string(c.query.http_max_connections); },
                 IntSetter([](Config& c) { return &c.query.http_max_connections; }, 1, 1 << 20)});
    AddCorsKeys(
        k, "query.http", [](Config& c) { return &c.query.http_cors; },
        [](const Config& c) { return &c.query.http_cors; });
    AddAuthKeys(
        k, "query.http", [](Config& c) { return &c.query.http_auth; },
        [](const Config& c) { return &c.query.http_auth; });
    AddTlsKeys(
        k, "query.http", [](Config& c) { return &c.query.http_tls; },
        [](const Config& c) { return &c.query.http_tls; });
    AddGrpcLimitKeys(
        k, "query.grpc", [](Config& c) { return &c.query.grpc_limits; },
        [](const Config& c) { return &c.query.grpc_limits; });
    AddAuthKeys(
        k, "query.grpc", [](Config& c) { return &c.query.grpc_auth; },
        [](const Config& c) { return &c.query.grpc_auth; });
    AddTlsKeys(
        k, "query.grpc", [](Config& c) { return &c.query.grpc_tls; },
        [](const Config& c) { return &c.query.grpc_tls; });
    k.push_back({"query.max_limit", "most traces one search returns, whatever limit it asks for",
                 [](const Config& c) { return std::to_string(c.query.max_limit); },
                 IntSetter([](Config& c) { return &c.query.max_limit; }, 1, 1'000'000)});
    k.push_back({"query.timeout",
                 "searches stop after this long (HTTP 504, gRPC DEADLINE_EXCEEDED)",
                 [](const Config& c) { return FormatDuration(c.query.timeout); },
                 MillisSetter([](Config& c) { return &c.query.timeout; },
                              std::chrono::milliseconds(100), false)});
    k.push_back({"query.search_threads",
                 "threads running HTTP searches, apart from those answering services, operations "
                 "and single traces",
                 [](const Config& c) { return std::to_string(c.query.search_threads); },
                 IntSetter([](Config& c) { return &c.query.search_threads; }, 1, 256)});
    k.push_back({"query.max_response_bytes",
                 "a search's answer stops growing past this much span data (the traces that fit "
                 "are returned, and the cut is reported)",
                 [](const Config& c) { return FormatBytes(c.query.max_response_bytes); },
                 ByteSizeSetter([](Config& c) { return &c.query.max_response_bytes; }, 1 << 20)});
    k.push_back({"admin.endpoint",
                 "admin listen address (/metrics, /healthz, /readyz; /purge if enabled)",
                 [](const Config& c) { return c.admin.endpoint; },
                 EndpointSetter([](Config& c) { return &c.admin.endpoint; })});
    AddAuthKeys(
        k, "admin", [](Config& c) { return &c.admin.auth; },
        [](const Config& c) { return &c.admin.auth; });
    AddTlsKeys(
        k, "admin", [](Config& c) { return &c.admin.tls; },
        [](const Config& c) { return &c.admin.tls; });
    k.push_back(
        {"admin.purge.enabled",
         "serve POST /purge on the admin port, which deletes ALL stored data: a test "
         "facility (Jaeger's storage integration suite), never for production",
         [](const Config& c) { return std::string(c.admin.purge_enabled ? "true" : "false"); },
         [](std::string_view v, Config& c) { return SetBool(v, c.admin.purge_enabled); }});
    AddTenancyKeys(k);
    k.push_back({"log.level", "trace, debug, info, warn, error, critical or off",
                 [](const Config& c) { return c.log.level; },
                 [](std::string_view v, Config& c) {
                   static const char* kLevels[] = {"trace", "debug",    "info", "warn",
                                                   "error", "critical", "off"};
                   for (const char* l : kLevels) {
                     if (v == l) {
                       c.log.level = std::string(v);
                       return absl::OkStatus();
                     }
                   }
                   return Bad("must be one of trace, debug, info, warn, error, critical, off");
                 }});
    return k;
  }();
  return kKeys;
}

const Key* FindKey(std::string_view name) {
  for (const auto& k : Keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

absl::Status SetKey(std::string_view name, std::string_view value, std::string_view source,
                    Config& c) {
  const Key* key = FindKey(name);
  if (key == nullptr) {
    return Bad(fmt::format("unknown configuration key '{}' ({}); see --help", name, source));
  }
  if (auto st = key->set(value, c); !st.ok()) {
    return Bad(
        fmt::format("invalid value '{}' for {} ({}): {}", value, name, source, st.message()));
  }
  return absl::OkStatus();
}

absl::Status ApplyNode(const YAML::Node& node, const std::string& prefix, std::string_view source,
                       Config& c) {
  if (const Key* key = FindKey(prefix); key != nullptr && key->map_value) {
    if (!node.IsMap() && !node.IsNull()) {
      return Bad(fmt::format("{}: key '{}' must be a mapping (name: value)", source, prefix));
    }
    std::string flat;
    if (node.IsMap()) {
      for (const auto& kv : node) {
        if (!kv.second.IsScalar()) {
          return Bad(fmt::format("{}: {}.{} must be a duration", source, prefix,
                                 kv.first.as<std::string>()));
        }
        if (!flat.empty()) flat += ",";
        flat += kv.first.as<std::string>() + "=" + kv.second.Scalar();
      }
    }
    return SetKey(prefix, flat, source, c);
  }
  if (const Key* key = FindKey(prefix); key != nullptr && key->list_value && node.IsSequence()) {
    std::string flat;
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        return Bad(fmt::format("{}: key '{}' must be a list of strings", source, prefix));
      }
      if (!flat.empty()) flat += ",";
      flat += item.Scalar();
    }
    return SetKey(prefix, flat, source, c);
  }
  if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>();
      std::string full = prefix.empty() ? key : prefix + "." + key;
      if (auto st = ApplyNode(kv.second, full, source, c); !st.ok()) return st;
    }
    return absl::OkStatus();
  }
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsScalar()) {
    return Bad(fmt::format("{}: key '{}' must be a scalar value", source, prefix));
  }
  return SetKey(prefix, node.Scalar(), source, c);
}

}  // namespace

std::string EnvName(std::string_view key) {
  std::string out = "SKUA_";
  for (char ch : key) {
    out.push_back(ch == '.' ? '_'
                            : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  return out;
}

std::vector<std::string> KeyNames() {
  std::vector<std::string> names;
  for (const auto& k : Keys()) names.push_back(k.name);
  return names;
}

absl::Status ApplyYaml(const std::string& yaml_text, std::string_view source, Config& config) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Bad(fmt::format("{}: invalid YAML: {}", source, e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return Bad(fmt::format("{}: top level must be a mapping", source));
  return ApplyNode(root, "", source, config);
}

absl::StatusOr<LoadResult> Load(const std::vector<std::string>& args,
                                const std::vector<std::string>& environment) {
  LoadResult result;
  std::vector<std::pair<std::string, std::string>> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      result.help = true;
      continue;
    }
    if (a == "--version") {
      result.version = true;
      continue;
    }
    if (a == "--validate") {
      result.validate = true;
      continue;
    }
    if (a == "--compact") {
      result.compact = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) return Bad(fmt::format("unexpected argument '{}'; see --help", a));
    std::string name, value;
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(2, eq - 2);
      value = a.substr(eq + 1);
    } else {
      name = a.substr(2);
      if (i + 1 >= args.size()) return Bad(fmt::format("flag --{} needs a value", name));
      value = args[++i];
    }
    if (name == "config") {
      result.config_file = value;
    } else {
      flags.emplace_back(name, value);
    }
  }
  if (result.help || result.version) return result;

  if (!result.config_file.empty()) {
    std::ifstream in(result.config_file);
    if (!in) return Bad(fmt::format("cannot read config file '{}'", result.config_file));
    std::stringstream ss;
    ss << in.rdbuf();
    if (auto st = ApplyYaml(ss.str(), result.config_file, result.config); !st.ok()) return st;
  }
  for (const auto& key : Keys()) {
    std::string env = EnvName(key.name) + "=";
    for (const auto& e : environment) {
      if (e.rfind(env, 0) == 0) {
        if (auto st = SetKey(key.name, e.substr(env.size()), "environment " + EnvName(key.name),
                             result.config);
            !st.ok()) {
          return st;
        }
      }
    }
  }
  for (const auto& [name, value] : flags) {
    if (auto st = SetKey(name, value, "flag --" + name, result.config); !st.ok()) return st;
  }
  // Checks across keys, whatever the source of each.
  std::vector<std::string> retention_tenants;
  for (const auto& [tenant, d] : result.config.storage.tenant_retention_overrides) {
    retention_tenants.push_back(tenant);
  }
  SKUA_RETURN_IF_ERROR(common::CheckTenancyConfig(result.config.tenancy, retention_tenants));
  return result;
}

std::string Describe(const Config& config) {
  std::string out;
  for (const auto& k : Keys()) out += fmt::format("{}={}\n", k.name, k.show(config));
  return out;
}

std::string HelpText() {
  Config defaults;
  std::string out =
      "Usage: skua [--config FILE] [--KEY=VALUE ...]\n\n"
      "Skua receives OpenTelemetry traces (OTLP gRPC/HTTP), stores them in RocksDB and serves\n"
      "them through Jaeger's query API.\n\n"
      "Every key can be set in the YAML file (nested: storage: {path: x}), by environment\n"
      "variable (SKUA_STORAGE_PATH=x) or by flag (--storage.path=x); flags win over the\n"
      "environment, which wins over the file.\n\n"
      "  --config FILE  YAML configuration file (config/skua.yaml holds the defaults)\n"
      "  --validate     load the configuration, print every key's value and exit (2 if invalid)\n"
      "  --compact      compact the data directory fully and exit (Skua must not be running)\n"
      "  --help         this text\n"
      "  --version      print the version\n\nKeys:\n";
  for (const auto& k : Keys()) {
    out += fmt::format("  {}\n      env {}, default {}\n      {}\n", k.name, EnvName(k.name),
                       k.show(defaults), k.help);
  }
  return out;
}

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  if (i == 0) return Bad(fmt::format("'{}' is not a size (e.g. 16MiB, 512KiB, 1048576)", text));
  double number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, number);
  if (ec != std::errc() || ptr != text.data() + i) {
    return Bad(fmt::format("'{}' is not a size", text));
  }
  std::string unit(text.substr(i));
  for (auto& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  double mult = 0;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "kib" || unit == "ki")
    mult = 1024.0;
  else if (unit == "mib" || unit == "mi")
    mult = 1024.0 * 1024;
  else if (unit == "gib" || unit == "gi")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "kb" || unit == "k")
    mult = 1e3;
  else if (unit == "mb" || unit == "m")
    mult = 1e6;
  else if (unit == "gb" || unit == "g")
    mult = 1e9;
  else
    return Bad(
        fmt::format("'{}': unknown size unit '{}' (B, KiB, MiB, GiB, KB, MB, GB)", text, unit));
  double bytes = number * mult;
  if (bytes > 1e18) return Bad(fmt::format("'{}' is too large", text));
  return static_cast<uint64_t>(std::llround(bytes));
}

namespace {

// True for "localhost", 127.0.0.0/8 and ::1 (bracketed or not).
bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace

std::vector<ListenerSettings> Listeners(const Config& config) {
  return {
      {"collector.otlp.grpc", &config.collector.grpc_endpoint, &config.collector.grpc_auth,
       &config.collector.grpc_tls},
      {"collector.otlp.http", &config.collector.http_endpoint, &config.collector.http_auth,
       &config.collector.http_tls},
      {"query.http", &config.query.http_endpoint, &config.query.http_auth, &config.query.http_tls},
      {"query.grpc", &config.query.grpc_endpoint, &config.query.grpc_auth, &config.query.grpc_tls},
      {"admin", &config.admin.endpoint, &config.admin.auth, &config.admin.tls},
  };
}

std::vector<std::string> UnprotectedExposedListeners(const Config& config) {
  std::vector<std::string> out;
  for (const ListenerSettings& l : Listeners(config)) {
    std::string_view host = std::string_view(*l.endpoint).substr(0, l.endpoint->rfind(':'));
    if (!IsLoopbackHost(host) && !l.auth->enabled() && !l.tls->enabled()) {
      out.push_back(fmt::format("{}.endpoint={}", l.prefix, *l.endpoint));
    }
  }
  return out;
}

}  // namespace skua::config
