// What a span must satisfy to be stored: the rules the read path relies on to decode, index and
// render it again. Every ingest path (OTLP/gRPC, OTLP/HTTP protobuf and JSON, anything added
// later) applies them through the ingest pipeline, before anything of the request is admitted,
// so a request either meets them whole or is refused whole with the offending field named.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>

#include "absl/status/status.h"
#include "model/values.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::storage {

// OK, or kInvalidArgument naming the first offending field, e.g.
// "resource_spans[0].scope_spans[1].spans[2].attributes[3].key: must not be empty". Rules:
//   - every string field is valid UTF-8 (protobuf's rule for proto3 strings);
//   - attribute keys (and keys inside key-value lists) are not empty;
//   - values nest at most model::kMaxValueDepth levels.
absl::Status CheckStorable(
    const google::protobuf::RepeatedPtrField<opentelemetry::proto::trace::v1::ResourceSpans>&
        resource_spans);

}  // namespace skua::storage
