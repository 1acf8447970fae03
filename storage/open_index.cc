// The open search index of a shard: appending, searching and sealing the in-memory blocks.

#include "storage/open_index.h"

#include <algorithm>

namespace skua::storage {

void OpenIndex::Apply(const std::vector<std::pair<const IndexBatch*, uint64_t>>& batches,
                      int64_t arrival_ns) {
  std::lock_guard lock(mu_);
  for (const auto& [batch, seq] : batches) {
    if (entries_ == 0) oldest_arrival_ns_ = arrival_ns;
    for (const auto& e : batch->entries) {
      const std::string& service = batch->strings[e.service];
      auto key = std::make_pair(batch->tenant, service);
      auto it = blocks_.find(key);
      if (it == blocks_.end()) it = blocks_.emplace(std::move(key), OpenBlock(service)).first;
      it->second.Append(*batch, e);
      ++entries_;
      term_occurrences_ += e.terms_end - e.terms_begin;
      deps_.Add(batch->tenant, e.trace_id, e.span_id, e.parent_span_id, service, e.start_ns);
    }
    OpenBlock* block = nullptr;
    uint32_t block_service = UINT32_MAX;
    for (const auto& v : batch->values) {
      if (v.service != block_service) {
        auto it = blocks_.find(std::make_pair(batch->tenant, batch->strings[v.service]));
        // Every value's service has an entry in its batch, so a block: appended above.
        if (it == blocks_.end()) continue;
        block = &it->second;
        block_service = v.service;
      }
      bool may_grow = dictionary_bytes_ < static_cast<int64_t>(kOpenDictionaryBytes);
      dictionary_bytes_ += block->AddValue(v, may_grow);
    }
    last_seq_ = std::max(last_seq_, seq);
  }
}

void OpenIndex::Search(const TraceQuery& q, Hits& hits) const {
  std::lock_guard lock(mu_);
  for (auto it = blocks_.lower_bound({q.tenant, ""});
       it != blocks_.end() && it->first.first == q.tenant; ++it) {
    if (q.service.empty() || q.service == it->first.second) it->second.Search(q, hits);
  }
}

std::optional<OpenIndex::Sealing> OpenIndex::SealIfDue(bool force, int64_t now_ns,
                                                       const SealPolicy& policy) const {
  std::lock_guard lock(mu_);
  if (entries_ == 0) return std::nullopt;
  bool old = now_ns - oldest_arrival_ns_ >= policy.max_age_ns;
  bool new_period = false;
  for (int64_t w : policy.widths) {
    new_period = new_period || now_ns / 1'000'000'000 / w != oldest_arrival_ns_ / 1'000'000'000 / w;
  }
  if (!force && !old && !new_period && entries_ < kSealEntries &&
      term_occurrences_ < kSealTermOccurrences) {
    return std::nullopt;
  }
  Sealing out;
  out.through_seq = last_seq_;
  out.oldest_arrival_s = oldest_arrival_ns_ / 1'000'000'000;
  for (const auto& [key, block] : blocks_) {
    out.blocks.push_back({key.first, key.second, block.max_start(), block.Seal()});
  }
  deps_.ForEachDirty([&](const std::string& key, const std::string& value) {
    out.dependency_rows.emplace_back(key, value);
  });
  return out;
}

void OpenIndex::Sealed() {
  std::lock_guard lock(mu_);
  blocks_.clear();
  entries_ = 0;
  term_occurrences_ = 0;
  dictionary_bytes_ = 0;
  deps_.ClearDirty();
}

bool OpenIndex::NothingOpenBefore(int64_t end_s) const {
  std::lock_guard lock(mu_);
  return entries_ == 0 || oldest_arrival_ns_ / 1'000'000'000 >= end_s;
}

void OpenIndex::LoadDependency(const std::string& tenant, int64_t bucket, const std::string& parent,
                               const std::string& child, uint64_t n) {
  std::lock_guard lock(mu_);
  deps_.Load(tenant, bucket, parent, child, n);
}

void OpenIndex::SumDependencies(
    const std::string& tenant, int64_t start_ns, int64_t end_ns,
    std::map<std::pair<std::string, std::string>, uint64_t>& out) const {
  std::lock_guard lock(mu_);
  deps_.Sum(tenant, start_ns, end_ns, out);
}

void OpenIndex::Clear() {
  std::lock_guard lock(mu_);
  blocks_.clear();
  entries_ = 0;
  term_occurrences_ = 0;
  dictionary_bytes_ = 0;
  oldest_arrival_ns_ = 0;
  deps_ = DependencyCounter();
}

void OpenIndex::ForgetDependencies(int64_t before_bucket) {
  std::lock_guard lock(mu_);
  deps_.Forget(before_bucket);
}

}  // namespace skua::storage
