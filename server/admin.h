// The admin port: /metrics (Prometheus text), /healthz (process alive), /readyz (storage open
// and receivers listening).
#pragma once

#include <atomic>
#include <functional>

#include "absl/status/status.h"
#include "common/http_server.h"
#include "common/metrics.h"

namespace skua::server {

// `metrics` and `ready` must outlive the handler. `storage_health` says why writes fail, if
// they do: /readyz then answers 503 with the reason.
common::HttpHandler MakeAdminHandler(common::MetricsRegistry& metrics, std::atomic<bool>& ready,
                                     std::function<absl::Status()> storage_health);

}  // namespace skua::server
