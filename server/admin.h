// The admin port: /metrics (Prometheus text), /healthz (process alive), /readyz (storage open
// and receivers listening).
#pragma once

#include <atomic>

#include "common/http_server.h"
#include "common/metrics.h"

namespace skua::server {

// `metrics` and `ready` must outlive the handler.
common::HttpHandler MakeAdminHandler(common::MetricsRegistry& metrics, std::atomic<bool>& ready);

}  // namespace skua::server
