// Writing test requests straight into a SpanStore, as the ingest pipeline would.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "storage/span_store.h"
#include "tests/testing/otlp_builders.h"

namespace skua::testing {

// Every span of `req` with its resource and scope.
inline std::vector<storage::SpanRef> RefsOf(const ExportRequest& req) {
  std::vector<storage::SpanRef> refs;
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) refs.push_back({&rs, &ss, &s});
    }
  }
  return refs;
}

// Commits every span of `req` to its shard (one write per shard).
inline void StoreRequest(storage::SpanStore& store, const ExportRequest& req) {
  std::map<int, std::vector<storage::SpanRef>> by_shard;
  for (const auto& ref : RefsOf(req)) {
    by_shard[store.ShardOf(*common::TraceId::FromBytes(ref.span->trace_id()))].push_back(ref);
  }
  for (auto& [shard, refs] : by_shard) {
    storage::PreparedWrite w = store.Prepare(refs);
    const storage::PreparedWrite* ws[] = {&w};
    ASSERT_TRUE(store.Commit(shard, ws).ok());
  }
}

}  // namespace skua::testing
