// Workloads for the benchmarks (docs/benchmarks.md, "Workload"), reproducible from a seed.
//
// Shape::kRandom, the reference workload: 10 services, traces of 3..30 spans across them, 11
// attributes per span drawn uniformly at random from 100 keys and 1000 values (a quarter of
// them ints), random nanosecond-precision starts and durations, resources with service, host,
// k8s and SDK attributes. It is deliberately harder than real instrumentation: its own
// information content is about 40 bytes per span (see docs/benchmarks.md).
//
// Shape::kTracegen: what Jaeger's `tracegen` sends with the options of the published Jaeger +
// ClickHouse measurements (`-services 10 -spans 9`, defaults otherwise): one service per
// trace, a "lets-go" server root and 9 "child-span-NN" client children, 11 attributes per
// child `attr_NN=val_NN` taken round robin from 97 keys and 1000 values, SDK resource (service,
// SDK, host, OS) and a "tracegen" scope, one service per request as each tracegen tracer has
// its own exporter.
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

enum class Shape { kRandom, kTracegen };

// Parses "random" or "tracegen".
bool ParseShape(const std::string& name, Shape* shape);

// Builds one request of about `spans` spans (whole traces only). Trace IDs are unique per seed
// and batch index; callers that resend a batch rewrite them (see Stamp). Content differs for
// every batch index.
opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest MakeRequest(
    Shape shape, uint64_t seed, int batch_index, int spans, int64_t start_unix_nanos);

// Encodes a request and records the offsets of its trace IDs.
Batch Encode(const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& req);

// A copy of `batch.encoded` with `stamp` written into the first 8 bytes of every trace ID and
// `shift_ns` added to every span start and end time, so each send of a pre-encoded batch
// carries fresh, unique traces stamped with the time of sending. Trace identity within the
// batch is kept: spans of one trace still share one ID.
std::string Stamp(const Batch& batch, uint64_t stamp, int64_t shift_ns);

}  // namespace skua::bench
