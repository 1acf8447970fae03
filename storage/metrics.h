// The storage's metrics (skua_storage_*), read from the store at every scrape.
#pragma once

#include "common/metrics.h"
#include "storage/span_store.h"

namespace skua::storage {

// Registers the gauges and counters of `store` in `metrics`; `store` must outlive every scrape
// (the registry's callbacks read it).
void RegisterMetrics(SpanStore& store, common::MetricsRegistry& metrics);

}  // namespace skua::storage
