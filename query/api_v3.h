// Rules the api_v3 HTTP gateway and the api_v3 gRPC service share.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "storage/span_store.h"

namespace skua::query {

// Traces a search returns when it names no limit (Jaeger's storage default).
inline constexpr int kDefaultSearchLimit = 100;

// The number of traces for api_v3 `search_depth`: the default if not positive.
inline int V3SearchLimit(int64_t search_depth) {
  return search_depth > 0 ? static_cast<int>(std::min<int64_t>(search_depth, 1'000'000))
                          : kDefaultSearchLimit;
}

// An operation's span kind as api_v3 reports it: Jaeger v2 reports an unspecified kind as
// "internal".
inline std::string_view V3SpanKind(const storage::Operation& op) {
  return op.span_kind.empty() ? std::string_view("internal") : std::string_view(op.span_kind);
}

}  // namespace skua::query
