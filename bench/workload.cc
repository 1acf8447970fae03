#include "bench/workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace skua::bench {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
using Request = ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

constexpr int kServices = 10;
constexpr int kOpsPerService = 8;
constexpr int kAttrKeys = 100;
constexpr int kAttrValues = 1000;
constexpr int kAttrsPerSpan = 11;

const char* const kServiceNames[kServices] = {"frontend",       "checkout", "cart",     "payment",
                                              "shipping",       "email",    "currency", "ad",
                                              "recommendation", "quote"};

void AddAttr(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* attrs,
             const std::string& key, const std::string& value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

void FillResource(otlp_trace::ResourceSpans* rs, int service, std::mt19937_64& rng) {
  auto* a = rs->mutable_resource()->mutable_attributes();
  std::string name = kServiceNames[service];
  AddAttr(a, "service.name", name);
  AddAttr(a, "service.version", fmt::format("1.{}.0", service));
  AddAttr(a, "host.name", fmt::format("node-{}", rng() % 3));
  AddAttr(a, "k8s.namespace.name", "shop");
  AddAttr(a, "k8s.deployment.name", name);
  AddAttr(a, "k8s.pod.name", fmt::format("{}-7d9f{}", name, rng() % 2));
  AddAttr(a, "telemetry.sdk.name", "opentelemetry");
  AddAttr(a, "telemetry.sdk.language", "go");
  rs->set_schema_url("https://opentelemetry.io/schemas/1.24.0");
}

void SetId(std::string* out, size_t bytes, uint64_t hi, uint64_t lo) {
  out->assign(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) {
    uint64_t word = bytes == 16 && i < 8 ? hi : lo;
    (*out)[i] = static_cast<char>(word >> (56 - 8 * (i % 8)));
  }
}

// See Shape::kTracegen. Batch `b` holds the traces tracegen's one worker makes for service
// b % 10 in round b / 10; attribute counters run on as if one worker had made every earlier
// trace, so the key and value sequences are tracegen's own.
Request MakeTracegenRequest(uint64_t seed, int batch_index, int spans, int64_t start_unix_nanos) {
  constexpr int kTracegenServices = 10, kChildren = 9, kAttrs = 11, kKeys = 97, kValues = 1000;
  std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(batch_index));
  Request req;
  const int service = batch_index % kTracegenServices;
  const std::string service_name = fmt::format("tracegen-{:02d}", service);
  auto* rs = req.add_resource_spans();
  auto* a = rs->mutable_resource()->mutable_attributes();
  AddAttr(a, "host.name", "loadgen-host");
  AddAttr(a, "os.type", "linux");
  AddAttr(a, "service.name", service_name);
  AddAttr(a, "telemetry.sdk.language", "go");
  AddAttr(a, "telemetry.sdk.name", "opentelemetry");
  AddAttr(a, "telemetry.sdk.version", "1.38.0");
  rs->set_schema_url("https://opentelemetry.io/schemas/1.26.0");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("tracegen");

  const int traces = std::max(1, spans / (kChildren + 1));
  const uint64_t round = static_cast<uint64_t>(batch_index / kTracegenServices);
  int64_t t = start_unix_nanos;
  for (int j = 0; j < traces; ++j) {
    uint64_t g = round * kTracegenServices * static_cast<uint64_t>(traces) +
                 static_cast<uint64_t>(service) + kTracegenServices * static_cast<uint64_t>(j);
    std::string trace_id, root_id;
    SetId(&trace_id, 16, seed, rng());
    SetId(&root_id, 8, 0, rng() | 1);
    auto* root = ss->add_spans();
    root->set_trace_id(trace_id);
    root->set_span_id(root_id);
    root->set_name("lets-go");
    root->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
    AddAttr(root->mutable_attributes(), "peer.service", "tracegen-server");
    AddAttr(root->mutable_attributes(), "peer.host.ipv4", "1.1.1.1");
    root->set_start_time_unix_nano(static_cast<uint64_t>(t));
    int64_t at = t + 2'000 + static_cast<int64_t>(rng() % 3'000);
    for (int c = 0; c < kChildren; ++c) {
      auto* s = ss->add_spans();
      s->set_trace_id(trace_id);
      std::string sid;
      SetId(&sid, 8, 0, rng() | 1);
      s->set_span_id(sid);
      s->set_parent_span_id(root_id);
      s->set_name(fmt::format("child-span-{:02d}", c));
      s->set_kind(otlp_trace::Span::SPAN_KIND_CLIENT);
      for (int k = 0; k < kAttrs; ++k) {
        uint64_t slot = (g * kChildren + static_cast<uint64_t>(c)) * kAttrs + k;
        AddAttr(s->mutable_attributes(), fmt::format("attr_{:02d}", slot % kKeys),
                fmt::format("val_{:02d}", slot % kValues));
      }
      // A 1 µs pause measured by a real clock: tens of microseconds, nanosecond precision.
      int64_t duration = 52'000 + static_cast<int64_t>(rng() % 16'000);
      s->set_start_time_unix_nano(static_cast<uint64_t>(at));
      s->set_end_time_unix_nano(static_cast<uint64_t>(at + duration));
      at += duration + 1'000 + static_cast<int64_t>(rng() % 2'000);
    }
    root->set_end_time_unix_nano(static_cast<uint64_t>(at));
    t = at + 5'000 + static_cast<int64_t>(rng() % 5'000);
  }
  return req;
}

Request MakeRandomRequest(uint64_t seed, int batch_index, int spans, int64_t start_unix_nanos) {
  std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(batch_index));
  Request req;
  // One ResourceSpans (and one scope) per service, as the OTel Collector's batcher sends them.
  otlp_trace::ScopeSpans* scopes[kServices];
  for (int s = 0; s < kServices; ++s) {
    auto* rs = req.add_resource_spans();
    FillResource(rs, s, rng);
    scopes[s] = rs->add_scope_spans();
    scopes[s]->mutable_scope()->set_name("go.opentelemetry.io/contrib/otelhttp");
    scopes[s]->mutable_scope()->set_version("0.49.0");
  }
  int made = 0;
  uint64_t trace_no = 0;
  int64_t t0 = start_unix_nanos;
  while (made < spans) {
    int n = std::min<int>(3 + static_cast<int>(rng() % 28), spans - made);
    if (n <= 0) break;
    std::string trace_id(16, '\0');
    uint64_t lo = (static_cast<uint64_t>(batch_index) << 32) | ++trace_no;
    uint64_t hi = seed;
    for (int i = 0; i < 8; ++i) {
      trace_id[i] = static_cast<char>(hi >> (56 - 8 * i));
      trace_id[8 + i] = static_cast<char>(lo >> (56 - 8 * i));
    }
    std::vector<std::string> span_ids;
    int64_t root_duration = 1'000'000 + static_cast<int64_t>(rng() % 900'000'000);
    for (int i = 0; i < n; ++i) {
      int service = i == 0 ? 0 : static_cast<int>(rng() % kServices);
      auto* s = scopes[service]->add_spans();
      s->set_trace_id(trace_id);
      std::string sid(8, '\0');
      uint64_t v = rng() | 1;
      std::memcpy(sid.data(), &v, 8);
      s->set_span_id(sid);
      if (i > 0) s->set_parent_span_id(span_ids[rng() % span_ids.size()]);
      span_ids.push_back(sid);
      s->set_name(fmt::format("{} /api/op{}", i == 0 ? "GET" : "POST",
                              static_cast<int>(rng() % kOpsPerService)));
      s->set_kind(i == 0 ? otlp_trace::Span::SPAN_KIND_SERVER
                         : static_cast<otlp_trace::Span::SpanKind>(1 + rng() % 3));
      int64_t start = t0 + (i == 0 ? 0 : static_cast<int64_t>(rng() % (root_duration / 2)));
      int64_t duration =
          i == 0 ? root_duration : 1000 + static_cast<int64_t>(rng() % (root_duration / 2));
      s->set_start_time_unix_nano(static_cast<uint64_t>(start));
      s->set_end_time_unix_nano(static_cast<uint64_t>(start + duration));
      for (int k = 0; k < kAttrsPerSpan; ++k) {
        auto* kv = s->add_attributes();
        kv->set_key(fmt::format("attr.key{:02d}", static_cast<int>(rng() % kAttrKeys)));
        int value = static_cast<int>(rng() % kAttrValues);
        if (value % 4 == 0) {
          kv->mutable_value()->set_int_value(value);
        } else {
          kv->mutable_value()->set_string_value(fmt::format("value-{:03d}", value));
        }
      }
      if (rng() % 10 == 0) s->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
    }
    made += n;
    t0 += 1'000'000;
  }
  return req;
}

}  // namespace

bool ParseShape(const std::string& name, Shape* shape) {
  if (name == "random") {
    *shape = Shape::kRandom;
  } else if (name == "tracegen") {
    *shape = Shape::kTracegen;
  } else {
    return false;
  }
  return true;
}

Request MakeRequest(Shape shape, uint64_t seed, int batch_index, int spans,
                    int64_t start_unix_nanos) {
  return shape == Shape::kTracegen ? MakeTracegenRequest(seed, batch_index, spans, start_unix_nanos)
                                   : MakeRandomRequest(seed, batch_index, spans, start_unix_nanos);
}

Batch Encode(const Request& req) {
  Batch b;
  b.encoded = req.SerializeAsString();
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) b.spans += ss.spans_size();
  }
  // Trace IDs appear as field 1 (tag 0x0a, length 0x10) at the start of each encoded Span.
  // Find each distinct ID's occurrences by scanning for the ID bytes themselves.
  std::vector<std::string> ids;
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        if (ids.empty() || ids.back() != s.trace_id()) ids.push_back(s.trace_id());
      }
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (const auto& id : ids) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string low;
    for (int i = 8; i < 16; ++i) {
      low.push_back(kHex[static_cast<uint8_t>(id[i]) >> 4]);
      low.push_back(kHex[static_cast<uint8_t>(id[i]) & 15]);
    }
    b.trace_id_lows.push_back(std::move(low));
    for (size_t pos = b.encoded.find(id); pos != std::string::npos;
         pos = b.encoded.find(id, pos + 1)) {
      b.trace_id_offsets.push_back(pos);
    }
  }
  // Span times: fields 7 and 8 (fixed64), found by their tag byte followed by the exact value.
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        for (auto [tag, value] : {std::pair<char, uint64_t>{0x39, s.start_time_unix_nano()},
                                  std::pair<char, uint64_t>{0x41, s.end_time_unix_nano()}}) {
          std::string pattern(1, tag);
          pattern.append(reinterpret_cast<const char*>(&value), 8);
          for (size_t pos = b.encoded.find(pattern); pos != std::string::npos;
               pos = b.encoded.find(pattern, pos + 1)) {
            b.time_offsets.push_back(pos + 1);
          }
        }
      }
    }
  }
  std::sort(b.time_offsets.begin(), b.time_offsets.end());
  b.time_offsets.erase(std::unique(b.time_offsets.begin(), b.time_offsets.end()),
                       b.time_offsets.end());
  return b;
}

std::string Stamp(const Batch& batch, uint64_t stamp, int64_t shift_ns) {
  std::string out = batch.encoded;
  for (size_t off : batch.trace_id_offsets) {
    for (int i = 0; i < 8; ++i) out[off + i] = static_cast<char>(stamp >> (56 - 8 * i));
  }
  for (size_t off : batch.time_offsets) {
    uint64_t t = 0;
    std::memcpy(&t, out.data() + off, 8);  // little-endian hosts only (x86-64, arm64)
    t += static_cast<uint64_t>(shift_ns);
    std::memcpy(out.data() + off, &t, 8);
  }
  return out;
}

}  // namespace skua::bench
