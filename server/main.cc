// skua: wires config, storage, the ingest pipeline, the receivers, the query API and the admin
// port together, and runs until SIGTERM/SIGINT.
//
// Shutdown order (SIGTERM): not ready -> receivers stop accepting and finish their calls ->
// ingest queues drain and commit -> query and admin servers stop -> RocksDB closes. Exit 0.

#include <google/protobuf/stubs/logging.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>

#include "collector/ingest_pipeline.h"
#include "collector/otlp_grpc.h"
#include "collector/otlp_http.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/cors.h"
#include "common/http_server.h"
#include "common/log_limiter.h"
#include "common/memory_budget.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/tenancy.h"
#include "common/tls.h"
#include "config/config.h"
#include "query/grpc_api.h"
#include "query/http_api.h"
#include "server/admin.h"
#include "storage/metrics.h"
#include "storage/span_store.h"

extern char** environ;

namespace {

constexpr char kVersion[] = "0.1.0";

// Exit statuses: 0 clean stop, 1 runtime failure (cannot listen, cannot open storage),
// 2 bad configuration or command line.
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

skua::common::HttpServerOptions HttpOptions(std::string name, std::string endpoint,
                                            uint64_t max_body, int threads, int max_connections) {
  skua::common::HttpServerOptions o;
  o.name = std::move(name);
  o.endpoint = std::move(endpoint);
  o.max_body_bytes = max_body;
  o.threads = threads;
  o.max_connections = max_connections;
  return o;
}

// `message` with the data directory's path replaced by "<data>": answers on the admin port say
// why storage fails without telling where files are (the log has the full text).
std::string WithoutDataPath(absl::string_view message, const std::string& path) {
  std::string out(message.data(), message.size());
  std::error_code ec;
  std::string absolute = std::filesystem::absolute(path, ec).lexically_normal().string();
  for (const std::string& p : {absolute, path}) {
    if (p.empty()) continue;
    for (size_t at = out.find(p); at != std::string::npos; at = out.find(p, at)) {
      out.replace(at, p.size(), "<data>");
      at += 6;
    }
  }
  return out;
}

// Raises the soft limit on open files to the hard limit: connections are capped per port
// (docs/operations.md) so that together they stay below it.
void RaiseDescriptorLimit() {
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) != 0) return;
  if (l.rlim_cur < l.rlim_max) {
    rlim_t before = l.rlim_cur;
    l.rlim_cur = l.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &l) == 0) {
      SPDLOG_INFO("open file limit raised from {} to {}", before, l.rlim_cur);
    }
  }
}

// Protobuf's own log lines (e.g. "String field ... contains invalid UTF-8 data") repeat for every
// bad request a client sends: at most one line every 10 s, with the count it stands for.
void RouteProtobufLogs() {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel level, const char* file, int line, const std::string& msg) {
        static skua::common::LogLimiter limiter(std::chrono::seconds(10));
        uint64_t n = 0;
        if (level >= google::protobuf::LOGLEVEL_FATAL) {
          SPDLOG_CRITICAL("protobuf {}:{}: {}", file, line, msg);
        } else if (limiter.Allow(&n)) {
          SPDLOG_WARN("protobuf ({} message(s) in 10 s, last): {}", n, msg);
        }
      });
}

int Fail(const absl::Status& st) {
  SPDLOG_CRITICAL("{}", st.message());
  return kExitRuntime;
}

// `skua --compact`: offline full compaction of the data directory.
int Compact(const skua::config::Config& cfg) {
  using namespace skua;
  common::SystemClock clock;
  auto store = storage::SpanStore::Open(cfg.storage, clock);
  if (!store.ok()) return Fail(store.status());
  SPDLOG_INFO("compacting {}", cfg.storage.path);
  if (auto st = (*store)->CompactAll(); !st.ok()) return Fail(st);
  SPDLOG_INFO("compacted: {} bytes of live data", (*store)->LiveDataBytes());
  for (const auto& u : (*store)->DiskUsageByKind()) {
    if (u.bytes > 0) SPDLOG_INFO("  {}: {} bytes", u.kind, u.bytes);
  }
  return 0;
}

int Run(const skua::config::Config& cfg) {
  using namespace skua;
  common::MetricsRegistry metrics;
  std::atomic<bool> ready{false};

  // Signals are handled by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  RaiseDescriptorLimit();
  // TLS files and credentials of each listener class, read now: a file that cannot be used
  // stops the start.
  std::map<std::string_view, std::shared_ptr<common::Authenticator>> auth;  // by key prefix
  for (const config::ListenerSettings& l : config::Listeners(cfg)) {
    if (absl::Status st = common::CheckTls(*l.tls); !st.ok()) {
      SPDLOG_CRITICAL("{}.{}", l.prefix, st.message());
      return kExitUsage;
    }
    if (!l.auth->enabled()) continue;
    if (!l.auth->client_cert_names.empty() && l.tls->client_ca_file.empty()) {
      SPDLOG_CRITICAL(
          "{}.auth.client_cert_names needs the listener's tls.client_ca_file (mutual TLS)",
          l.prefix);
      return kExitUsage;
    }
    auto a = common::Authenticator::Create(*l.auth);
    if (!a.ok()) {
      SPDLOG_CRITICAL("{}.auth: {}", l.prefix, a.status().message());
      return kExitUsage;
    }
    auth[l.prefix] = std::move(*a);
  }
  // The authenticator of a listener class; null without authentication.
  auto auth_of = [&auth](std::string_view prefix) {
    auto it = auth.find(prefix);
    return it == auth.end() ? nullptr : it->second;
  };
  for (const auto& listener : config::UnprotectedExposedListeners(cfg)) {
    SPDLOG_WARN(
        "{} is reachable from other hosts and has neither TLS nor authentication: anyone "
        "who can reach it can use it",
        listener);
  }

  // Why Skua cannot serve, once started (OK: it can). Read by /readyz and the gRPC health
  // service; the pieces it looks at are set once they exist. The admin port starts before the
  // store opens (probes answer meanwhile) and stops before it closes.
  std::atomic<storage::SpanStore*> open_store{nullptr};
  std::mutex listeners_mu;
  std::vector<std::pair<std::string, std::function<bool()>>> listeners;  // name, accepting
  auto readiness = [&]() -> absl::Status {
    if (storage::SpanStore* s = open_store.load()) {
      if (absl::Status st = s->Health(); !st.ok()) {
        return absl::UnavailableError(fmt::format("storage cannot write: {}",
                                                  WithoutDataPath(st.message(), cfg.storage.path)));
      }
    }
    std::lock_guard lock(listeners_mu);
    for (const auto& [name, accepting] : listeners) {
      if (!accepting()) {
        return absl::UnavailableError(
            fmt::format("{} cannot accept connections (out of file descriptors)", name));
      }
    }
    return absl::OkStatus();
  };
  std::function<absl::Status()> purge;  // none unless admin.purge.enabled
  if (cfg.admin.purge_enabled) {
    SPDLOG_WARN("admin.purge.enabled: POST /purge on the admin port deletes all stored data");
    purge = [&]() -> absl::Status {
      storage::SpanStore* s = open_store.load();
      if (s == nullptr) return absl::UnavailableError("storage is not open yet");
      absl::Status st = s->Purge();
      if (!st.ok()) return absl::Status(st.code(), WithoutDataPath(st.message(), cfg.storage.path));
      return st;
    };
  }
  auto admin_options = HttpOptions("admin", cfg.admin.endpoint, 1 << 20, 1, 64);
  admin_options.tls = cfg.admin.tls;
  auto admin = common::HttpServer::Start(
      admin_options,
      common::WithAuth(
          auth_of("admin"),
          [](const common::HttpRequest& r) { return r.path == "/healthz" || r.path == "/readyz"; },
          server::MakeAdminHandler(metrics, ready, readiness, std::move(purge))));
  if (!admin.ok()) return Fail(admin.status());
  SPDLOG_INFO("admin listening on {}", (*admin)->address());

  common::SystemClock clock;
  auto store = storage::SpanStore::Open(
      cfg.storage, clock, {.max_queue_bytes = cfg.collector.queue_max_bytes, .metrics = &metrics});
  if (!store.ok()) return Fail(store.status());
  storage::SpanStore& s = **store;
  open_store = &s;
  storage::RegisterMetrics(s, metrics);
  if (cfg.collector.queue_max_bytes < cfg.collector.grpc_max_recv_msg_size) {
    SPDLOG_WARN(
        "collector.queue.max_bytes ({}) is below collector.otlp.grpc.max_recv_msg_size ({}): "
        "a request whose spans for one shard exceed the queue bound is always refused",
        cfg.collector.queue_max_bytes, cfg.collector.grpc_max_recv_msg_size);
  }

  // Tenants: resolved per call by the receivers and the query APIs; limited per tenant by the
  // pipeline. Tenants that already have data count towards tenancy.max_tenants.
  const common::Tenancy tenancy(cfg.tenancy);
  std::optional<collector::TenantLimits> tenant_limits;
  if (tenancy.enabled()) {
    tenant_limits.emplace(cfg.tenancy, clock, s.Tenants());
    SPDLOG_INFO("tenancy on: tenant from header '{}', {}", tenancy.header(),
                cfg.tenancy.tenants.empty()
                    ? fmt::format("any tenant ID, at most {} tenants", cfg.tenancy.max_tenants)
                    : fmt::format("{} allowed tenants", cfg.tenancy.tenants.size()));
  }
  collector::IngestPipeline pipeline(s, metrics, tenant_limits ? &*tenant_limits : nullptr);
  common::MemoryBudget ingest_budget(cfg.collector.max_inflight_bytes);
  metrics.AddCallbackGauge("skua_ingest_inflight_bytes",
                           "Bytes of OTLP requests held in memory before their spans are queued "
                           "(received, inflated, decoded), all receivers",
                           {},
                           [&ingest_budget] { return static_cast<double>(ingest_budget.used()); });
  auto grpc = collector::StartOtlpGrpcReceiver(cfg.collector, pipeline, ingest_budget,
                                               auth_of("collector.otlp.grpc").get(), &tenancy);
  if (!grpc.ok()) return Fail(grpc.status());
  SPDLOG_INFO("otlp-grpc listening on {}", (*grpc)->address());

  // Compressed bodies are bounded by the same limit as decompressed ones.
  auto http_options =
      HttpOptions("otlp-http", cfg.collector.http_endpoint,
                  cfg.collector.http_max_request_body_size, 4, cfg.collector.http_max_connections);
  http_options.body_budget = &ingest_budget;
  http_options.tls = cfg.collector.http_tls;
  http_options.retry_after_seconds = collector::RetryAfterSeconds(cfg.collector);
  auto http = common::HttpServer::Start(
      http_options, common::WithCors(cfg.collector.http_cors, {"POST"},
                                     common::WithAuth(auth_of("collector.otlp.http"), nullptr,
                                                      collector::MakeOtlpHttpHandler(
                                                          pipeline, cfg.collector, metrics,
                                                          ingest_budget, &tenancy))));
  if (!http.ok()) return Fail(http.status());
  SPDLOG_INFO("otlp-http listening on {}", (*http)->address());

  auto query_options = HttpOptions("query-http", cfg.query.http_endpoint, 1 << 20, 2,
                                   cfg.query.http_max_connections);
  query_options.runs_long = query::IsSearchRequest;
  query_options.tls = cfg.query.http_tls;
  query_options.long_threads = cfg.query.search_threads;
  query::QueryService query_service(s, cfg.query, clock);
  auto query = common::HttpServer::Start(
      query_options, common::WithCors(cfg.query.http_cors, {"GET"},
                                      common::WithAuth(auth_of("query.http"), nullptr,
                                                       query::MakeQueryHttpHandler(
                                                           query_service, metrics, &tenancy))));
  if (!query.ok()) return Fail(query.status());
  SPDLOG_INFO("query-http listening on {}", (*query)->address());

  auto query_grpc =
      query::StartQueryGrpcServer(query_service, metrics, auth_of("query.grpc").get(), &tenancy);
  if (!query_grpc.ok()) return Fail(query_grpc.status());
  SPDLOG_INFO("query-grpc listening on {}", (*query_grpc)->address());

  {
    std::lock_guard lock(listeners_mu);
    auto add = [&](const char* name, auto& server) {
      listeners.emplace_back(name, [&server] { return server->accepting(); });
    };
    add("otlp-grpc", *grpc);
    add("otlp-http", *http);
    add("query-http", *query);
    add("query-grpc", *query_grpc);
    add("admin", *admin);
  }
  ready = true;
  SPDLOG_INFO("skua {} ready (data in {}, {} shards)", kVersion, cfg.storage.path, s.shard_count());

  // The gRPC health service follows readiness, checked every second until a signal arrives.
  int sig = 0;
  bool serving = false;
  for (;;) {
    bool now_serving = readiness().ok();
    if (now_serving != serving) {
      (*grpc)->SetServing(now_serving);
      (*query_grpc)->SetServing(now_serving);
      serving = now_serving;
    }
    timespec second{1, 0};
    sig = sigtimedwait(&signals, nullptr, &second);
    if (sig > 0) break;
  }
  SPDLOG_INFO("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  ready = false;
  (*grpc)->SetServing(false);
  (*query_grpc)->SetServing(false);
  (*grpc)->Stop();
  (*http)->Stop();
  pipeline.Stop();
  (*query)->Stop();
  (*query_grpc)->Stop();
  (*admin)->Stop();
  open_store = nullptr;
  {
    std::lock_guard lock(listeners_mu);
    listeners.clear();
  }
  store->reset();
  SPDLOG_INFO("storage closed; bye");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto logger = spdlog::stdout_color_mt("skua");
  RouteProtobufLogs();
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::flush_on(spdlog::level::info);

  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  auto loaded = skua::config::Load(args, env);
  if (!loaded.ok()) {
    std::fprintf(stderr, "skua: %s\n", std::string(loaded.status().message()).c_str());
    return kExitUsage;
  }
  if (loaded->help) {
    std::cout << skua::config::HelpText();
    return 0;
  }
  if (loaded->validate) {
    std::cout << skua::config::Describe(loaded->config);
    return 0;
  }
  if (loaded->version) {
    std::cout << "skua " << kVersion << "\n";
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(loaded->config.log.level));
  if (!loaded->config_file.empty()) SPDLOG_INFO("config file {}", loaded->config_file);
  if (loaded->compact) return Compact(loaded->config);
  return Run(loaded->config);
}
