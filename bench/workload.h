// The reference workload (shared design §6): the shape of Jaeger's tracegen defaults. 10
// services, traces of 3..30 spans across them, 11 attributes per span drawn from 100 keys and
// 1000 values, resources with service, host, k8s and SDK attributes. Reproducible from a seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace skua::bench {

struct Batch {
  std::string encoded;                     // serialized ExportTraceServiceRequest
  std::vector<size_t> trace_id_offsets;    // where each 16-byte trace ID sits in `encoded`
  std::vector<size_t> time_offsets;        // where each span start/end time (fixed64 LE) sits
  std::vector<std::string> trace_id_lows;  // hex of the low 8 bytes of each distinct trace ID
  int spans = 0;
};

// Builds one request of about `spans` spans (whole traces only). Trace IDs are unique per seed
// and batch index; callers that resend a batch rewrite them (see Stamp).
opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest MakeRequest(
    uint64_t seed, int batch_index, int spans, int64_t start_unix_nanos);

// Encodes a request and records the offsets of its trace IDs.
Batch Encode(const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& req);

// A copy of `batch.encoded` with `stamp` written into the first 8 bytes of every trace ID and
// `shift_ns` added to every span start and end time, so each send of a pre-encoded batch
// carries fresh, unique traces stamped with the time of sending. Trace identity within the
// batch is kept: spans of one trace still share one ID.
std::string Stamp(const Batch& batch, uint64_t stamp, int64_t shift_ns);

}  // namespace skua::bench
