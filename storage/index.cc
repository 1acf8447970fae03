// Index entries: building them from spans (IndexBatchBuilder) and collecting hits.

#include "storage/index.h"

#include <algorithm>
#include <cstring>

#include "common/hash.h"
#include "model/values.h"
#include "storage/span_terms.h"

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

void IndexBatchBuilder::Add(const SpanRef& ref) {
  const auto& span = *ref.span;
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
  }
  auto [sit, new_service] = services_.try_emplace(ref.resource, 0);
  if (new_service) sit->second = Intern(model::ServiceNameOf(ref.resource->resource()));

  IndexBatch::Entry e;
  std::memcpy(e.trace_id.bytes.data(), span.trace_id().data(), 16);
  e.span_id = SpanIdValue(span.span_id());
  e.parent_span_id = SpanIdValue(span.parent_span_id());
  e.start_ns = static_cast<int64_t>(span.start_time_unix_nano());
  e.duration_ns =
      span.end_time_unix_nano() > span.start_time_unix_nano()
          ? static_cast<int64_t>(span.end_time_unix_nano() - span.start_time_unix_nano())
          : 0;
  e.service = sit->second;
  e.operation = Intern(span.name().empty() ? "empty-span-name" : span.name());
  e.origin = oit->second;
  e.kind = static_cast<uint8_t>(span.kind());
  e.terms_begin = static_cast<uint32_t>(batch_.terms.size());
  ForEachSpanTerm(span, [&](std::string_view k, std::string_view v) {
    batch_.terms.push_back(TermHash(k, v));
  });
  e.terms_end = static_cast<uint32_t>(batch_.terms.size());
  batch_.entries.push_back(e);
  uint64_t cat =
      (static_cast<uint64_t>(e.service) << 40) ^ (static_cast<uint64_t>(e.operation) << 8) ^ e.kind;
  if (catalog_seen_.try_emplace(cat, true).second) {
    batch_.catalog.push_back({e.service, e.operation, e.kind});
  }
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
