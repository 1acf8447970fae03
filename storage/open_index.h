// The open (in-memory) search index of a shard: the entries not yet sealed into `B` rows, and
// the shard's dependency counts. Private to storage/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "storage/dependency_counter.h"
#include "storage/index.h"
#include "storage/open_block.h"

namespace skua::storage {

// Open blocks of a shard are sealed when they hold this many entries or term occurrences in
// total, or when the oldest entry has waited long enough (bounds memory and the replay after a
// crash). The occurrence bound only matters for spans with thousands of attributes; it keeps an
// open block's terms under ~64 MiB and a sealed block's postings far below 2^32 bits (the
// block format's positions are 32-bit).
inline constexpr size_t kSealEntries = 65536;
inline constexpr size_t kSealTermOccurrences = 4 << 20;
// The value dictionaries of a shard's open blocks hold at most this much; past it they list
// nothing new (and say so), until the next seal.
inline constexpr size_t kOpenDictionaryBytes = 8 << 20;

// One open block per tenant and service. The shard's writer thread appends and seals; searches
// read concurrently. Thread-safe; the one lock of the shard's index.
class OpenIndex {
 public:
  // Appends the entries of committed requests (each with its sequence number) that arrived at
  // `arrival_ns`, and counts their calls between services.
  void Apply(const std::vector<std::pair<const IndexBatch*, uint64_t>>& batches,
             int64_t arrival_ns);

  // Adds the open entries matching `q` (of its tenant; its service, if any, checked).
  void Search(const TraceQuery& q, Hits& hits) const;

  // When sealing is due: every open entry has to go to a sealed block, `force`d, or once they
  // are many or their oldest has waited `max_age_ns`, or once `now_ns` lies in another period of
  // any of `widths` (seconds) than the oldest entry: blocks never span two time partitions.
  struct SealPolicy {
    int64_t max_age_ns = 0;
    std::set<int64_t> widths;
  };
  struct Sealing {
    struct SealedBlock {
      std::string tenant;
      std::string service;
      int64_t max_start = 0;
      BlockRows rows;
    };
    std::vector<SealedBlock> blocks;
    uint64_t through_seq = 0;      // the newest request they hold
    int64_t oldest_arrival_s = 0;  // where they go: the partition of this arrival time
    // The `D` rows changed since the last seal, to write with the blocks.
    std::vector<std::pair<std::string, std::string>> dependency_rows;
  };
  // The open blocks sealed, if due; they stay open (and searched) until Sealed() says they are
  // durable. REQUIRES: the writer thread, with no Apply between this and Sealed().
  std::optional<Sealing> SealIfDue(bool force, int64_t now_ns, const SealPolicy& policy) const;
  void Sealed();

  // True if no entry is open, or the oldest one arrived at or after `end_s`: no more blocks can
  // be sealed into a partition ending then.
  bool NothingOpenBefore(int64_t end_s) const;

  // Dependency counts: restored at start, summed for queries, forgotten before a bucket.
  void LoadDependency(const std::string& tenant, int64_t bucket, const std::string& parent,
                      const std::string& child, uint64_t n);
  void SumDependencies(const std::string& tenant, int64_t start_ns, int64_t end_ns,
                       std::map<std::pair<std::string, std::string>, uint64_t>& out) const;
  void ForgetDependencies(int64_t before_bucket);

  // Forgets every open entry and dependency count, sealed or not (StoreAdmin::Purge).
  void Clear();

 private:
  mutable std::mutex mu_;
  // By tenant, then service; guarded by mu_.
  std::map<std::pair<std::string, std::string>, OpenBlock> blocks_;
  size_t entries_ = 0;             // guarded by mu_
  size_t term_occurrences_ = 0;    // span terms of blocks_; guarded by mu_
  int64_t dictionary_bytes_ = 0;   // value dictionaries of blocks_; guarded by mu_
  int64_t oldest_arrival_ns_ = 0;  // guarded by mu_
  uint64_t last_seq_ = 0;          // guarded by mu_
  DependencyCounter deps_;         // guarded by mu_
};

}  // namespace skua::storage
