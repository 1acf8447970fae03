// The admin port: /metrics (Prometheus text), /healthz (process alive), /readyz (storage open
// and writable, every listener accepting).
#pragma once

#include <atomic>
#include <functional>

#include "absl/status/status.h"
#include "common/http_server.h"
#include "common/metrics.h"

namespace skua::server {

// `metrics` and `ready` must outlive the handler. `readiness` says why Skua cannot serve once
// started (storage cannot write, a listener cannot accept): /readyz then answers 503 with it.
common::HttpHandler MakeAdminHandler(common::MetricsRegistry& metrics, std::atomic<bool>& ready,
                                     std::function<absl::Status()> readiness);

}  // namespace skua::server
