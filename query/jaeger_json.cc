// Jaeger's v1 JSON rendering of traces in its span model.

#include "query/jaeger_json.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/ids.h"
#include "common/json_write.h"
#include "query/jaeger_model.h"

namespace skua::query {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace model = ::jaeger::api_v2;

constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

void WriteDouble(common::JsonWriter& w, double d) {
  if (std::isfinite(d)) {
    w.Double(d);
  } else {
    // JSON has no NaN/Inf; Jaeger (Go) would fail the whole response. A string keeps it readable.
    common::WriteString(w, std::isnan(d) ? "NaN" : (d > 0 ? "+Inf" : "-Inf"));
  }
}

// A Jaeger tag: {"key","type","value"}.
void WriteTag(common::JsonWriter& w, const model::KeyValue& kv) {
  w.StartObject();
  common::WriteKey(w, "key");
  common::WriteString(w, kv.key());
  common::WriteKey(w, "type");
  switch (kv.v_type()) {
    case model::BOOL:
      common::WriteString(w, "bool");
      common::WriteKey(w, "value");
      w.Bool(kv.v_bool());
      break;
    case model::INT64:
      common::WriteString(w, "int64");
      common::WriteKey(w, "value");
      if (kv.v_int64() > kMaxSafeInteger || kv.v_int64() < -kMaxSafeInteger) {
        common::WriteString(w, std::to_string(kv.v_int64()));
      } else {
        w.Int64(kv.v_int64());
      }
      break;
    case model::FLOAT64:
      common::WriteString(w, "float64");
      common::WriteKey(w, "value");
      WriteDouble(w, kv.v_float64());
      break;
    case model::BINARY:
      common::WriteString(w, "binary");
      common::WriteKey(w, "value");
      common::WriteString(w, common::Base64Encode(kv.v_binary()));
      break;
    default:
      common::WriteString(w, "string");
      common::WriteKey(w, "value");
      common::WriteString(w, kv.v_str());
      break;
  }
  w.EndObject();
}

void WriteTags(common::JsonWriter& w,
               const google::protobuf::RepeatedPtrField<model::KeyValue>& tags) {
  w.StartArray();
  for (const auto& kv : tags) WriteTag(w, kv);
  w.EndArray();
}

std::string JaegerTraceId(std::string_view raw) {
  auto id = common::TraceId::FromBytes(raw);
  return id ? common::FormatTraceIdJaeger(*id) : common::HexEncode(raw);
}

// Microseconds since the epoch (or of a duration), as the v1 JSON counts time.
uint64_t Micros(int64_t seconds, int32_t nanos) {
  return static_cast<uint64_t>(seconds) * 1'000'000 + static_cast<uint64_t>(nanos) / 1000;
}

void WriteSpan(common::JsonWriter& w, const model::Span& span, std::string_view process_id) {
  w.StartObject();
  common::WriteKey(w, "traceID");
  common::WriteString(w, JaegerTraceId(span.trace_id()));
  common::WriteKey(w, "spanID");
  common::WriteString(w, common::HexEncode(span.span_id()));
  common::WriteKey(w, "operationName");
  common::WriteString(w, span.operation_name());
  common::WriteKey(w, "references");
  w.StartArray();
  for (const auto& ref : span.references()) {
    w.StartObject();
    common::WriteKey(w, "refType");
    common::WriteString(w, ref.ref_type() == model::CHILD_OF ? "CHILD_OF" : "FOLLOWS_FROM");
    common::WriteKey(w, "traceID");
    common::WriteString(w, JaegerTraceId(ref.trace_id()));
    common::WriteKey(w, "spanID");
    common::WriteString(w, common::HexEncode(ref.span_id()));
    w.EndObject();
  }
  w.EndArray();
  common::WriteKey(w, "startTime");
  w.Uint64(Micros(span.start_time().seconds(), span.start_time().nanos()));
  common::WriteKey(w, "duration");
  w.Uint64(Micros(span.duration().seconds(), span.duration().nanos()));
  common::WriteKey(w, "tags");
  WriteTags(w, span.tags());
  common::WriteKey(w, "logs");
  w.StartArray();
  for (const auto& log : span.logs()) {
    w.StartObject();
    common::WriteKey(w, "timestamp");
    w.Uint64(Micros(log.timestamp().seconds(), log.timestamp().nanos()));
    common::WriteKey(w, "fields");
    WriteTags(w, log.fields());
    w.EndObject();
  }
  w.EndArray();
  common::WriteKey(w, "processID");
  common::WriteString(w, process_id);
  common::WriteKey(w, "warnings");
  if (span.warnings_size() > 0) {
    w.StartArray();
    for (const auto& s : span.warnings()) common::WriteString(w, s);
    w.EndArray();
  } else {
    w.Null();
  }
  w.EndObject();
}

uint64_t ProcessHash(const model::Process& p) {
  uint64_t h = std::hash<std::string_view>()(p.service_name());
  for (const auto& kv : p.tags()) {
    h = h * 0x9e3779b97f4a7c15ULL + std::hash<std::string_view>()(kv.key());
    h = h * 0x9e3779b97f4a7c15ULL + std::hash<std::string_view>()(kv.v_str()) +
        static_cast<uint64_t>(kv.v_int64()) + static_cast<uint64_t>(kv.v_type());
  }
  return h;
}

bool SameProcess(const model::Process& a, const model::Process& b) {
  if (a.service_name() != b.service_name() || a.tags_size() != b.tags_size()) return false;
  for (int i = 0; i < a.tags_size(); ++i) {
    const auto &x = a.tags(i), &y = b.tags(i);
    if (x.key() != y.key() || x.v_type() != y.v_type() || x.v_str() != y.v_str() ||
        x.v_bool() != y.v_bool() || x.v_int64() != y.v_int64() ||
        std::bit_cast<uint64_t>(x.v_float64()) != std::bit_cast<uint64_t>(y.v_float64()) ||
        x.v_binary() != y.v_binary()) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string RenderJaegerTrace(const otlp_trace::TracesData& trace, bool adjust) {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 1 << 20;
  google::protobuf::Arena arena(options);
  auto* spans = google::protobuf::Arena::CreateMessage<model::SpansResponseChunk>(&arena);
  AppendJaegerSpans(trace, adjust, *spans);

  // Processes: identical (service, tags) share one key, numbered by first appearance.
  std::vector<std::pair<std::string, const model::Process*>> processes;  // (id, process)
  absl::flat_hash_map<uint64_t, std::vector<size_t>> by_hash;            // -> into processes
  std::vector<std::string> span_process(spans->spans_size());
  for (int i = 0; i < spans->spans_size(); ++i) {
    const model::Process& p = spans->spans(i).process();
    auto& candidates = by_hash[ProcessHash(p)];
    auto same = std::find_if(candidates.begin(), candidates.end(),
                             [&](size_t c) { return SameProcess(*processes[c].second, p); });
    if (same == candidates.end()) {
      candidates.push_back(processes.size());
      processes.emplace_back("p" + std::to_string(processes.size() + 1), &p);
      span_process[i] = processes.back().first;
    } else {
      span_process[i] = processes[*same].first;
    }
  }

  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  w.StartObject();
  common::WriteKey(w, "traceID");
  common::WriteString(w, spans->spans_size() > 0 ? JaegerTraceId(spans->spans(0).trace_id()) : "");
  common::WriteKey(w, "spans");
  w.StartArray();
  for (int i = 0; i < spans->spans_size(); ++i) WriteSpan(w, spans->spans(i), span_process[i]);
  w.EndArray();
  common::WriteKey(w, "processes");
  w.StartObject();
  for (const auto& [id, p] : processes) {
    common::WriteKey(w, id);
    w.StartObject();
    common::WriteKey(w, "serviceName");
    common::WriteString(w, p->service_name());
    common::WriteKey(w, "tags");
    WriteTags(w, p->tags());
    w.EndObject();
  }
  w.EndObject();
  common::WriteKey(w, "warnings");
  w.Null();
  w.EndObject();
  return buf.GetString();
}

}  // namespace skua::query
