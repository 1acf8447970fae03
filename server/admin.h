// The admin port: /metrics (Prometheus text), /healthz (process alive), /readyz (storage open
// and writable, every listener accepting), and POST /purge (deletes all data) when enabled.
#pragma once

#include <atomic>
#include <functional>

#include "absl/status/status.h"
#include "common/http_server.h"
#include "common/metrics.h"

namespace skua::server {

// `metrics` and `ready` must outlive the handler. `readiness` says why Skua cannot serve once
// started (storage cannot write, a listener cannot accept): /readyz then answers 503 with it.
// `purge` (empty: disabled, and /purge answers 404 saying how to enable it) deletes every stored
// span; POST /purge answers 200 once it has.
common::HttpHandler MakeAdminHandler(common::MetricsRegistry& metrics, std::atomic<bool>& ready,
                                     std::function<absl::Status()> readiness,
                                     std::function<absl::Status()> purge = {});

}  // namespace skua::server
