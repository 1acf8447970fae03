// The attribute catalog of every shard, kept in memory and persisted a minute at a time.

#include "storage/attribute_catalog.h"

#include <algorithm>
#include <tuple>

#include "common/hash.h"
#include "storage/coding.h"
#include "storage/index.h"
#include "storage/span_terms.h"

namespace skua::storage {
namespace {

constexpr uint8_t kRowFormat = 1;

bool ValidLevel(uint8_t l) {
  return l >= static_cast<uint8_t>(filter::Level::kSpan) &&
         l <= static_cast<uint8_t>(filter::Level::kLink);
}

template <typename T>
void KeepTop(std::vector<T>& v, size_t limit) {
  auto order = [](const T& a, const T& b) {
    if (a.count != b.count) return a.count > b.count;
    if constexpr (requires { a.key; }) {
      return std::tie(a.key, a.level) < std::tie(b.key, b.level);
    } else {
      return std::tie(a.value, a.type) < std::tie(b.value, b.type);
    }
  };
  if (v.size() > limit) {
    std::partial_sort(v.begin(), v.begin() + static_cast<long>(limit), v.end(), order);
    v.resize(limit);
  } else {
    std::sort(v.begin(), v.end(), order);
  }
}

}  // namespace

uint64_t ServiceIdentity(std::string_view tenant, std::string_view service) {
  return common::StableHash64(tenant) * 0x9fb21c651e98df25ULL ^ common::StableHash64(service);
}

uint64_t KeyIdFrom(uint64_t service_identity, filter::Level level, uint64_t key_state) {
  uint64_t h = (service_identity ^ static_cast<uint64_t>(level)) * 0xbf58476d1ce4e5b9ULL;
  return (h ^ key_state) * 0x94d049bb133111ebULL;
}

uint64_t KeyId(std::string_view tenant, std::string_view service, filter::Level level,
               std::string_view key) {
  return KeyIdFrom(ServiceIdentity(tenant, service), level, TermKeyState(key));
}

AttributeCatalog::AttributeCatalog(Limits limits)
    : limits_(limits), truncated_snapshot_(std::make_shared<TruncatedKeys>()) {}

void AttributeCatalog::Add(const IndexBatch& batch, int64_t now_s) {
  if (batch.attributes.empty()) return;
  {
    std::unique_lock lock(mu_);
    Services& services = tenants_[batch.tenant];
    ServiceEntry* s = nullptr;
    uint32_t s_index = UINT32_MAX;
    for (const AttributeOccurrence& o : batch.attributes) {
      if (o.service != s_index) {
        s_index = o.service;
        const std::string& name = batch.strings[o.service];
        auto it = services.find(name);
        if (it == services.end() && entries_ < limits_.max_entries) {
          it = services.try_emplace(name).first;
          ++entries_;
        }
        s = it == services.end() ? nullptr : &it->second;
      }
      if (s != nullptr) AddOne(batch.tenant, batch.strings[o.service], *s, o, now_s);
    }
    PublishTruncated();
  }
}

void AttributeCatalog::AddOne(const std::string& tenant, const std::string& service,
                              ServiceEntry& s, const AttributeOccurrence& o, int64_t now_s) {
  auto k = s.keys.find(o.key_id);
  if (k == s.keys.end()) {
    if (s.keys.size() >= limits_.keys_per_service || entries_ >= limits_.max_entries ||
        o.key.size() > limits_.max_value_bytes) {
      return;
    }
    k = s.keys.try_emplace(o.key_id).first;
    ++entries_;
    k->second.level = o.level;
    k->second.key = o.key;
  }
  s.dirty = true;
  KeyEntry& key = k->second;
  key.count += o.count;
  key.last_s = std::max(key.last_s, now_s);
  if (o.type == 0 || o.value.size() > limits_.max_value_bytes) return;
  auto v = key.values.find(o.value_id);
  if (v == key.values.end()) {
    // At the bound, a key holding more than its share makes room itself.
    if (entries_ >= limits_.max_entries) {
      if (key.values.size() <= limits_.values_per_key) return;
      Prune(tenant, service, key);
    }
    v = key.values.try_emplace(o.value_id).first;
    v->second.value = o.value;
    ++entries_;
  }
  v->second.count += o.count;
  v->second.last_s = std::max(v->second.last_s, now_s);
  v->second.type = o.type;
  if (key.values.size() >= 2 * limits_.values_per_key) Prune(tenant, service, key);
}

// Keeps the values_per_key most frequent values (the Frequent-items idea: a value seen often
// survives every pruning; one seen rarely is forgotten and may come back).
void AttributeCatalog::Prune(const std::string& tenant, const std::string& service, KeyEntry& k) {
  std::vector<uint64_t> counts;
  counts.reserve(k.values.size());
  for (const auto& [v, e] : k.values) counts.push_back(e.count);
  auto nth = counts.begin() + static_cast<long>(limits_.values_per_key);
  std::nth_element(counts.begin(), nth, counts.end(), std::greater<>());
  uint64_t floor = *nth;
  // Everything above the floor stays (fewer than values_per_key), then floor values up to it.
  size_t room = limits_.values_per_key;
  for (const auto& [v, e] : k.values) room -= e.count > floor ? 1 : 0;
  for (auto it = k.values.begin(); it != k.values.end();) {
    bool keep = it->second.count > floor || (it->second.count == floor && room > 0);
    if (it->second.count == floor && keep) --room;
    if (keep) {
      ++it;
    } else {
      k.values.erase(it++);
      --entries_;
    }
  }
  if (!k.truncated) {
    k.truncated = true;
    truncated_.insert(KeyId(tenant, service, k.level, k.key));
    truncated_changed_ = true;
  }
}

void AttributeCatalog::PublishTruncated() {
  if (!truncated_changed_) return;
  truncated_changed_ = false;
  truncated_snapshot_ = std::make_shared<const TruncatedKeys>(truncated_);
}

std::shared_ptr<const TruncatedKeys> AttributeCatalog::Truncated() const {
  std::shared_lock lock(mu_);
  return truncated_snapshot_;
}

std::vector<AttributeCatalog::KeyStat> AttributeCatalog::Keys(const Query& q) const {
  std::map<std::pair<filter::Level, std::string_view>, uint64_t> sum;
  std::shared_lock lock(mu_);
  auto t = tenants_.find(q.tenant);
  if (t == tenants_.end()) return {};
  auto add = [&](const ServiceEntry& s) {
    for (const auto& [id, k] : s.keys) {
      if (q.level != filter::Level::kNone && k.level != q.level) continue;
      if (!k.key.starts_with(q.prefix)) continue;
      sum[{k.level, k.key}] += k.count;
    }
  };
  if (q.service.empty()) {
    for (const auto& [name, s] : t->second) add(s);
  } else if (auto s = t->second.find(q.service); s != t->second.end()) {
    add(s->second);
  }
  std::vector<KeyStat> out;
  out.reserve(sum.size());
  for (const auto& [lk, count] : sum) out.push_back({lk.first, std::string(lk.second), count});
  KeepTop(out, q.limit);
  return out;
}

AttributeCatalog::Values AttributeCatalog::ValuesOf(const Query& q) const {
  Values out;
  absl::flat_hash_map<std::pair<std::string_view, uint8_t>, uint64_t> sum;
  const uint64_t key_state = TermKeyState(q.key);
  std::shared_lock lock(mu_);
  auto t = tenants_.find(q.tenant);
  if (t == tenants_.end()) return out;
  auto add = [&](const ServiceEntry& s) {
    for (auto level : {filter::Level::kSpan, filter::Level::kResource, filter::Level::kScope,
                       filter::Level::kEvent, filter::Level::kLink}) {
      if (q.level != filter::Level::kNone && level != q.level) continue;
      auto k = s.keys.find(AttributeKeyId(level, key_state));
      if (k == s.keys.end() || k->second.key != q.key) continue;
      out.truncated = out.truncated || k->second.truncated;
      for (const auto& [id, e] : k->second.values) {
        if (e.value.starts_with(q.prefix)) sum[{e.value, e.type}] += e.count;
      }
    }
  };
  if (q.service.empty()) {
    for (const auto& [name, s] : t->second) add(s);
  } else if (auto s = t->second.find(q.service); s != t->second.end()) {
    add(s->second);
  }
  out.values.reserve(sum.size());
  for (const auto& [vt, count] : sum) {
    out.values.push_back({std::string(vt.first), vt.second, count});
  }
  KeepTop(out.values, q.limit);
  return out;
}

// u8 format · var n_keys · per key: u8 level · str key · var count · svar last_s · u8 truncated ·
// var n_values · per value: str value · u8 type · var count · svar last_s
std::string AttributeCatalog::EncodeService(const ServiceEntry& s) {
  ByteWriter w;
  w.U8(kRowFormat);
  w.Var(s.keys.size());
  for (const auto& [id, k] : s.keys) {
    w.U8(static_cast<uint8_t>(k.level));
    w.Str(k.key);
    w.Var(k.count);
    w.SVar(k.last_s);
    w.U8(k.truncated ? 1 : 0);
    w.Var(k.values.size());
    for (const auto& [vid, e] : k.values) {
      w.Str(e.value);
      w.U8(e.type);
      w.Var(e.count);
      w.SVar(e.last_s);
    }
  }
  return w.Take();
}

void AttributeCatalog::Dirty(
    const std::function<void(std::string_view key, std::string_view value)>& fn) {
  std::vector<std::pair<std::string, std::string>> rows;
  {
    std::unique_lock lock(mu_);
    for (auto& [tenant, services] : tenants_) {
      for (auto& [name, s] : services) {
        if (!s.dirty) continue;
        s.dirty = false;
        rows.emplace_back(tenant + '\0' + name, EncodeService(s));
      }
    }
    for (auto& [tenant, service] : gone_) rows.emplace_back(tenant + '\0' + service, "");
    gone_.clear();
  }
  for (const auto& [k, v] : rows) fn(k, v);
}

absl::Status AttributeCatalog::Load(std::string_view key, std::string_view value) {
  size_t nul = key.find('\0');
  if (nul == std::string_view::npos) return absl::DataLossError("attribute catalog row: bad key");
  std::string tenant(key.substr(0, nul)), service(key.substr(nul + 1));
  ByteReader r(value);
  ServiceEntry s;
  size_t values = 0;  // entries: keys and values
  if (r.U8() != kRowFormat) return absl::DataLossError("attribute catalog row: unknown format");
  for (size_t i = 0, n = r.Count(6); i < n && r.ok(); ++i) {
    uint8_t level = r.U8();
    KeyEntry e;
    e.level = static_cast<filter::Level>(level);
    e.key = std::string(r.Str());
    const uint64_t key_state = TermKeyState(e.key);
    e.count = r.Var();
    e.last_s = r.SVar();
    e.truncated = r.U8() != 0;
    for (size_t j = 0, m = r.Count(4); j < m && r.ok(); ++j) {
      ValueEntry ve;
      ve.value = std::string(r.Str());
      ve.type = r.U8();
      ve.count = r.Var();
      ve.last_s = r.SVar();
      uint64_t vid = TermHashFrom(key_state, ve.value);
      e.values.emplace(vid, std::move(ve));
    }
    if (!ValidLevel(level)) return absl::DataLossError("attribute catalog row: bad level");
    values += 1 + e.values.size();
    s.keys.emplace(AttributeKeyId(e.level, key_state), std::move(e));
  }
  if (!r.ok()) return absl::DataLossError("attribute catalog row: truncated");
  {
    std::unique_lock lock(mu_);
    auto& services = tenants_[tenant];
    auto [it, fresh] = services.try_emplace(service);
    auto& slot = it->second;
    if (fresh) ++entries_;
    for (const auto& [id, k] : slot.keys) entries_ -= 1 + k.values.size();
    for (const auto& [id, k] : s.keys) {
      if (k.truncated) {
        truncated_.insert(KeyId(tenant, service, k.level, k.key));
        truncated_changed_ = true;
      }
    }
    slot = std::move(s);
    entries_ += values;
    PublishTruncated();
  }
  return absl::OkStatus();
}

void AttributeCatalog::Expire(
    const std::function<int64_t(std::string_view tenant, std::string_view service)>&
        expired_before_s) {
  {
    std::unique_lock lock(mu_);
    for (auto t = tenants_.begin(); t != tenants_.end();) {
      for (auto s = t->second.begin(); s != t->second.end();) {
        int64_t before = expired_before_s(t->first, s->first);
        for (auto k = s->second.keys.begin(); k != s->second.keys.end();) {
          KeyEntry& key = k->second;
          for (auto v = key.values.begin(); v != key.values.end();) {
            if (v->second.last_s < before) {
              key.values.erase(v++);
              --entries_;
              s->second.dirty = true;
            } else {
              ++v;
            }
          }
          if (key.last_s < before) {
            entries_ -= 1 + key.values.size();
            if (key.truncated) {
              truncated_.erase(KeyId(t->first, s->first, key.level, key.key));
              truncated_changed_ = true;
            }
            s->second.keys.erase(k++);
            s->second.dirty = true;
          } else {
            ++k;
          }
        }
        if (s->second.keys.empty()) {
          gone_.emplace_back(t->first, s->first);
          --entries_;
          t->second.erase(s++);
        } else {
          ++s;
        }
      }
      if (t->second.empty()) {
        tenants_.erase(t++);
      } else {
        ++t;
      }
    }
    PublishTruncated();
  }
}

void AttributeCatalog::Clear() {
  {
    std::unique_lock lock(mu_);
    for (const auto& [tenant, services] : tenants_) {
      for (const auto& [service, s] : services) gone_.emplace_back(tenant, service);
    }
    tenants_.clear();
    entries_ = 0;
    truncated_.clear();
    truncated_changed_ = true;
    PublishTruncated();
  }
}

size_t AttributeCatalog::EntryCount() const {
  std::shared_lock lock(mu_);
  return entries_;
}

}  // namespace skua::storage
