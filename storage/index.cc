// Index entries: building them from spans (IndexBatchBuilder) and collecting hits.

#include "storage/index.h"

#include <algorithm>
#include <cstring>

#include "common/hash.h"
#include "model/values.h"
#include "storage/span_terms.h"
#include "storage/value_dictionary.h"

namespace skua::storage {
namespace {

uint64_t SpanIdValue(std::string_view raw) {
  if (raw.size() != 8) return 0;
  uint64_t v = 0;
  for (char c : raw) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

}  // namespace

// ---- IndexBatch ----

size_t IndexBatch::ApproxBytes() const {
  size_t n = entries.size() * sizeof(Entry) + terms.size() * 8;
  for (const auto& o : origins) n += o.terms.size() * 8 + sizeof(Origin);
  for (const auto& s : strings) n += s.size() + 32;
  for (const auto& a : attributes) n += sizeof(a) + a.key.size() + a.value.size();
  for (const auto& v : values) n += sizeof(v) + v.text.size();
  return n;
}

uint32_t IndexBatchBuilder::Intern(std::string_view s) {
  auto it = strings_.find(absl::string_view(s.data(), s.size()));
  if (it != strings_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(batch_.strings.size());
  batch_.strings.emplace_back(s);
  strings_.emplace(std::string(s), id);
  return id;
}

IndexBatchBuilder::IndexBatchBuilder(std::string_view tenant,
                                     std::shared_ptr<const TruncatedKeys> truncated)
    : tenant_(tenant), truncated_(std::move(truncated)) {
  if (truncated_ != nullptr && truncated_->empty()) truncated_ = nullptr;
}

void IndexBatchBuilder::Occur(uint32_t service, filter::Level level, std::string_view key,
                              uint64_t key_state, uint64_t term,
                              const opentelemetry::proto::common::v1::AnyValue& value,
                              std::string_view text, uint32_t count) {
  using opentelemetry::proto::common::v1::AnyValue;
  auto type = static_cast<uint8_t>(value.value_case());
  // Values without a short text form are not offered; their key is.
  bool keep_value = type == AnyValue::kStringValue || type == AnyValue::kBoolValue ||
                    type == AnyValue::kIntValue || type == AnyValue::kDoubleValue;
  uint64_t id = keep_value ? term : Mix(key_state, 0x6b6579);
  id = Mix(Mix(id, static_cast<uint64_t>(level)), service);
  auto [it, fresh] = occurrences_.try_emplace(id, static_cast<uint32_t>(batch_.attributes.size()));
  if (!fresh) {
    batch_.attributes[it->second].count += count;
    return;
  }
  AttributeOccurrence o;
  o.service = service;
  o.level = level;
  o.type = keep_value ? type : 0;
  o.count = count;
  o.key_id = AttributeKeyId(level, key_state);
  o.value_id = term;
  o.key = std::string(key);
  if (keep_value) o.value = std::string(text);
  batch_.attributes.push_back(std::move(o));
}

void IndexBatchBuilder::AddValue(uint32_t service, uint64_t key_state, uint64_t term,
                                 std::string_view text) {
  if (!values_seen_.insert(Mix(term, service)).second) return;
  bool too_long = text.size() > kDictionaryMaxValueBytes;
  batch_.values.push_back(
      {service, key_state, term, too_long ? std::string() : std::string(text), too_long});
}

void IndexBatchBuilder::Add(const SpanRef& ref) {
  const auto& span = *ref.span;
  auto [sit, new_service] = services_.try_emplace(ref.resource, 0);
  if (new_service) sit->second = Intern(model::ServiceNameOf(ref.resource->resource()));
  const uint32_t service = sit->second;
  auto [oit, new_origin] = origins_.try_emplace(std::make_pair(ref.resource, ref.scope), 0);
  if (new_origin) {
    IndexBatch::Origin o;
    auto add = [&](std::string_view k, std::string_view v) { o.terms.push_back(TermHash(k, v)); };
    ForEachResourceTerm(ref.resource->resource(), add);
    ForEachScopeTerm(ref.scope->scope(), add);
    o.id = 0;
    for (uint64_t t : o.terms) o.id = Mix(o.id, t);
    oit->second = static_cast<uint32_t>(batch_.origins.size());
    batch_.origins.push_back(std::move(o));
    std::string scratch;
    auto values = [&](const auto& attributes) {
      for (const auto& kv : attributes) {
        uint64_t key_state = TermKeyState(kv.key());
        std::string_view v = TermValue(kv.value(), scratch);
        AddValue(service, key_state, TermHashFrom(key_state, v), v);
      }
    };
    values(ref.resource->resource().attributes());
    values(ref.scope->scope().attributes());
  }
  ++resource_spans_.try_emplace(ref.resource, service, 0).first->second.second;
  ++scope_spans_.try_emplace(ref.scope, service, 0).first->second.second;

  IndexBatch::Entry e;
  std::memcpy(e.trace_id.bytes.data(), span.trace_id().data(), 16);
  e.span_id = SpanIdValue(span.span_id());
  e.parent_span_id = SpanIdValue(span.parent_span_id());
  e.start_ns = static_cast<int64_t>(span.start_time_unix_nano());
  e.duration_ns =
      span.end_time_unix_nano() > span.start_time_unix_nano()
          ? static_cast<int64_t>(span.end_time_unix_nano() - span.start_time_unix_nano())
          : 0;
  e.service = service;
  e.operation = Intern(span.name().empty() ? "empty-span-name" : span.name());
  e.origin = oit->second;
  e.kind = static_cast<uint8_t>(span.kind());
  e.terms_begin = static_cast<uint32_t>(batch_.terms.size());
  // Truncated keys are counted for 1 span in kSampleEvery, chosen by span ID.
  uint64_t service_identity = 0;
  bool sampled = true;
  if (truncated_ != nullptr) {
    auto [id, fresh] = service_ids_.try_emplace(service, 0);
    if (fresh) id->second = ServiceIdentity(tenant_, batch_.strings[service]);
    service_identity = id->second;
    sampled = (e.span_id * 0x9e3779b97f4a7c15ULL) >> 60 == 0;
  }
  ForEachSpanTermAt(span, [&](filter::Level level, std::string_view k, std::string_view v,
                              const opentelemetry::proto::common::v1::AnyValue* attribute) {
    uint64_t key_state = TermKeyState(k);
    uint64_t term = TermHashFrom(key_state, v);
    batch_.terms.push_back(term);
    if (attribute == nullptr) return;
    AddValue(service, key_state, term, v);
    uint32_t count = 1;
    if (truncated_ != nullptr &&
        truncated_->contains(KeyIdFrom(service_identity, level, key_state))) {
      if (!sampled) return;
      count = AttributeCatalog::kSampleEvery;
    }
    Occur(service, level, k, key_state, term, *attribute, v, count);
  });
  e.terms_end = static_cast<uint32_t>(batch_.terms.size());
  batch_.entries.push_back(e);
  uint64_t cat =
      (static_cast<uint64_t>(e.service) << 40) ^ (static_cast<uint64_t>(e.operation) << 8) ^ e.kind;
  if (catalog_seen_.try_emplace(cat, true).second) {
    batch_.catalog.push_back({e.service, e.operation, e.kind});
  }
}

// Resource and scope attributes count once per span of the batch exported under them.
IndexBatch IndexBatchBuilder::Finish() {
  std::string scratch;
  auto each = [&](const auto& attrs, filter::Level level, uint32_t service, uint32_t spans) {
    for (const auto& kv : attrs) {
      uint64_t key_state = TermKeyState(kv.key());
      std::string_view v = TermValue(kv.value(), scratch);
      Occur(service, level, kv.key(), key_state, TermHashFrom(key_state, v), kv.value(), v, spans);
    }
  };
  for (const auto& [r, sv] : resource_spans_) {
    each(static_cast<const otlp::ResourceSpans*>(r)->resource().attributes(),
         filter::Level::kResource, sv.first, sv.second);
  }
  for (const auto& [sc, sv] : scope_spans_) {
    each(static_cast<const otlp::ScopeSpans*>(sc)->scope().attributes(), filter::Level::kScope,
         sv.first, sv.second);
  }
  // Grouped by service, so the catalog finds each service once per run.
  std::stable_sort(batch_.attributes.begin(), batch_.attributes.end(),
                   [](const AttributeOccurrence& a, const AttributeOccurrence& b) {
                     return a.service < b.service;
                   });
  return std::move(batch_);
}

// ---- Hits ----

std::optional<int64_t> Hits::NthNewest(size_t limit) const {
  if (limit == 0 || best.size() < limit) return std::nullopt;
  std::vector<int64_t> starts;
  starts.reserve(best.size());
  for (const auto& [id, s] : best) starts.push_back(s);
  std::nth_element(starts.begin(), starts.begin() + static_cast<long>(limit - 1), starts.end(),
                   std::greater<>());
  return starts[limit - 1];
}

}  // namespace skua::storage
