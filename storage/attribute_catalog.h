// The attribute catalog: which attribute keys each service's spans carry, at which level (span,
// resource, scope, event, link), and their most frequent values — what autocomplete offers.
// One catalog serves every shard. It is a statistic, not data: bounded in memory, approximate in
// its counts, and allowed to lose the last minute of counting in a crash (spans never are).
//
// Bounds (Limits): a key or value longer than max_value_bytes, or a value of a type without a
// short text form (bytes, arrays, maps), is not kept (such a value's key is). Each (service,
// level, key) keeps at most 2 × values_per_key values; when it reaches that, the half seen least
// often is dropped (the key is then marked truncated: its list holds its most frequent values,
// not all of them). A truncated key's occurrences are counted for 1 in kSampleEvery spans (its
// counts scaled back), which bounds what a key with millions of distinct values costs on the
// write path. Each service keeps at most keys_per_service keys, and the whole catalog at most
// max_entries services, keys and values together: at that bound a new value is kept only by
// pruning its own key if it holds more than values_per_key, and nothing else new is kept. With
// the defaults that is at most ~64 MiB (about 300 bytes an entry at worst).
//
// Life: the shard writers add each committed request's summary (IndexBatch::attributes). Every
// minute of the store's clock (and at a clean close) the services changed since the last time
// are written as rows (EncodeService), and entries whose newest occurrence is in an expired
// time partition are removed (Expire), so autocomplete covers exactly the retention. Counts
// are of every occurrence since the entry was created.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "filter/filter.h"
#include "storage/span_store.h"

namespace skua::storage {

struct IndexBatch;

// What one request's spans add: distinct (service, level, key, value) with their counts.
struct AttributeOccurrence {
  uint32_t service = 0;  // into IndexBatch::strings
  filter::Level level = filter::Level::kSpan;
  uint8_t type = 0;  // OTLP AnyValue value_case; 0 = the value is not kept (only the key)
  uint32_t count = 0;
  uint64_t key_id = 0;    // AttributeKeyId(level, TermKeyState(key))
  uint64_t value_id = 0;  // TermHash(key, value), if the value is kept
  std::string key;
  std::string value;
};

// A key's identity within a service: its level and name, hashed (storage/span_terms.h's
// TermKeyState of the name). The catalog's maps are keyed by it and by the term hash of a value,
// so the write path hashes nothing twice.
inline uint64_t AttributeKeyId(filter::Level level, uint64_t key_state) {
  return (key_state ^ static_cast<uint64_t>(level)) * 0x9fb21c651e98df25ULL;
}

// Which (tenant, service, level, key) are truncated, by KeyId: the write path samples them.
using TruncatedKeys = absl::flat_hash_set<uint64_t>;
uint64_t KeyId(std::string_view tenant, std::string_view service, filter::Level level,
               std::string_view key);
// KeyId in steps, for the write path: KeyId(t, s, l, k) ==
// KeyIdFrom(ServiceIdentity(t, s), l, TermKeyState(k)).
uint64_t ServiceIdentity(std::string_view tenant, std::string_view service);
uint64_t KeyIdFrom(uint64_t service_identity, filter::Level level, uint64_t key_state);

class AttributeCatalog {
 public:
  static constexpr uint32_t kSampleEvery = 16;
  struct Limits {
    size_t values_per_key = 100;
    size_t keys_per_service = 1000;
    size_t max_entries = 200'000;
    size_t max_value_bytes = 128;
  };

  using KeyStat = AttributeKeyCount;
  using ValueStat = AttributeValueCount;
  using Values = AttributeValues;
  using Query = AttributeQuery;

  AttributeCatalog() : AttributeCatalog(Limits{}) {}
  explicit AttributeCatalog(Limits limits);

  // Writer threads. `now_s`: the store's clock, the occurrence's time for expiry.
  void Add(const IndexBatch& batch, int64_t now_s);
  // The keys whose occurrences the write path samples (see above); never null.
  std::shared_ptr<const TruncatedKeys> Truncated() const;

  // Any thread.
  std::vector<KeyStat> Keys(const Query& q) const;
  Values ValuesOf(const Query& q) const;

  // Persistence, from one writer thread. A service's rows: key = tenant \0 service, value =
  // EncodeService's bytes. Dirty calls fn for every service changed since the last call (with
  // an empty value for one that is gone) and forgets that they changed.
  void Dirty(const std::function<void(std::string_view key, std::string_view value)>& fn);
  // Adds a row written by Dirty (at start). Errors: kDataLoss (undecodable row; nothing added).
  absl::Status Load(std::string_view key, std::string_view value);
  // Removes what was last seen at or before `expired_before_s(tenant, service)` (seconds; the
  // end of the newest expired partition of the service's retention).
  void Expire(const std::function<int64_t(std::string_view tenant, std::string_view service)>&
                  expired_before_s);
  void Clear();

  // Services, keys and values kept (for tests).
  size_t EntryCount() const;

 private:
  struct ValueEntry {
    std::string value;
    uint64_t count = 0;
    int64_t last_s = 0;
    uint8_t type = 0;
  };
  struct KeyEntry {
    filter::Level level = filter::Level::kSpan;
    std::string key;
    uint64_t count = 0;
    int64_t last_s = 0;
    bool truncated = false;
    absl::flat_hash_map<uint64_t, ValueEntry> values;  // by TermHash(key, value)
  };
  struct ServiceEntry {
    absl::flat_hash_map<uint64_t, KeyEntry> keys;  // by AttributeKeyId
    bool dirty = false;
  };
  using Services = std::map<std::string, ServiceEntry>;

  void AddOne(const std::string& tenant, const std::string& service, ServiceEntry& s,
              const AttributeOccurrence& o, int64_t now_s);
  void Prune(const std::string& tenant, const std::string& service, KeyEntry& k);
  // The snapshot Truncated() returns, renewed when truncated_ changed. REQUIRES: mu_ held
  // exclusively.
  void PublishTruncated();
  static std::string EncodeService(const ServiceEntry& s);

  const Limits limits_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Services> tenants_;
  size_t entries_ = 0;  // services, keys and values: bounded by max_entries
  TruncatedKeys truncated_;
  bool truncated_changed_ = false;
  std::shared_ptr<const TruncatedKeys> truncated_snapshot_;
  // Services whose last row was removed by Expire or Clear: Dirty reports them empty once.
  std::vector<std::pair<std::string, std::string>> gone_;
};

}  // namespace skua::storage
