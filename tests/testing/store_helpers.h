// Writing test requests straight into a SpanStore, as the ingest pipeline would.
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <string>
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

// Submits every span of `req` as `tenant`'s (one write per shard) and waits until it is durable.
inline absl::Status SubmitAndWait(storage::SpanWriter& store, const ExportRequest& req,
                                  const std::string& tenant = "") {
  std::map<int, std::vector<storage::SpanRef>> by_shard;
  for (const auto& ref : RefsOf(req)) {
    by_shard[store.ShardOf(*common::TraceId::FromBytes(ref.span->trace_id()))].push_back(ref);
  }
  std::vector<storage::SpanWriter::ShardWrite> writes;
  for (auto& [shard, refs] : by_shard) writes.push_back({shard, store.Prepare(tenant, refs)});
  std::promise<absl::Status> done;
  store.Submit(std::move(writes), [&](absl::Status st) { done.set_value(std::move(st)); });
  return done.get_future().get();
}

inline void StoreRequest(storage::SpanWriter& store, const ExportRequest& req,
                         const std::string& tenant = "") {
  ASSERT_TRUE(SubmitAndWait(store, req, tenant).ok());
}

}  // namespace skua::testing
