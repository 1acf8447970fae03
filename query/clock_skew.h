// Jaeger's clock-skew adjuster as its query service runs it by default (maximum adjustment 0):
// it moves nothing, but it warns about what it would have corrected. Shared by the span model
// (v1 API, api_v2) and OTLP (api_v3) adjusters, which word one warning differently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace skua::query {

struct SkewSpan {
  uint64_t span_id = 0;
  uint64_t parent_id = 0;  // 0 = root
  int64_t start_ns = 0;
  int64_t duration_ns = 0;
  std::string host;  // "" = unknown
};

enum class SkewWording {
  kSpanModel,  // v1 adjuster: "invalid parent span IDs=…"
  kOtlp,       // v2 adjuster: "parent span ID=… is not in the trace"
};

// The warnings for each of `spans` (one trace), in Jaeger's words: duplicate span IDs, parents
// missing from the trace, and "clock skew adjustment disabled; not applying calculated delta of
// <Go duration>" for a span outside its parent on another (or an unknown) host, a delta that
// children on the same host inherit.
std::vector<std::vector<std::string>> ClockSkewWarnings(const std::vector<SkewSpan>& spans,
                                                        SkewWording wording);

// Go's time.Duration.String(): "0s", "750ns", "1.5µs", "2.25ms", "3.5s", "1m30s", "2h0m1s".
std::string GoDuration(int64_t nanos);

}  // namespace skua::query
