// OTLP/JSON, both ways, in one place: decoding export requests (OTLP/HTTP JSON bodies) and
// encoding responses and stored traces (api_v3 answers). The protobuf JSON mapping with OTLP's
// exceptions: hex trace and span IDs, integer or named enums, 64-bit integers as strings or
// numbers, lowerCamelCase or snake_case keys, unknown keys ignored.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::model {

namespace otlp_collector = ::opentelemetry::proto::collector::trace::v1;

// Decodes an ExportTraceServiceRequest into `out` (cleared first). Errors are kInvalidArgument
// with the path of the offending field, e.g.
// "resourceSpans[0].scopeSpans[0].spans[3].traceId: not hex".
// IDs of a wrong length are not decode errors: they reach the span validation, which rejects
// those spans individually.
// Memory: the parsed document holds at most MaxJsonValues(json.size()) values, so decoding
// costs at most kJsonDecodeFactor times the text (document, parser stack and strings) besides
// the decoded request.
absl::Status DecodeOtlpJson(std::string_view json, otlp_collector::ExportTraceServiceRequest& out);

// One value per four bytes of text: OTLP/JSON as exporters write it has one per eight or more
// (every value has a quoted key or is an object in a list).
inline uint64_t MaxJsonValues(size_t text_bytes) { return text_bytes / 4 + 64; }
inline constexpr uint64_t kJsonDecodeFactor = 9;

// {} or {"partialSuccess":{"rejectedSpans":"N","errorMessage":"…"}}.
std::string EncodeExportResponseJson(const otlp_collector::ExportTraceServiceResponse& response);

// The OTLP/JSON form of stored traces (Jaeger api_v3 `result`): {"resourceSpans":[…]} with hex
// IDs, integer enums, 64-bit integers and timestamps as decimal strings, lowerCamelCase keys,
// defaults omitted.
std::string RenderOtlpTracesData(const opentelemetry::proto::trace::v1::TracesData& data);

}  // namespace skua::model
