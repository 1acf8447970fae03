// Sealed index blocks on their own: what a block answers after Seal/Decode (and Merge) is what
// its entries hold, for dense, rare and unique terms, gaps that need the Rice codes' escape,
// and enough distinct keys for many postings groups; damaged blocks are refused or
// answered without reading outside the row; and a pattern (regex) is narrowed through the
// blocks' value dictionaries to exactly the entries with an accepted value.

#include "storage/index.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <type_traits>

#include "storage/open_block.h"
#include "storage/sealed_block.h"

namespace skua::storage {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

struct Term {
  std::string key, value;
};

// A batch of `n` entries, entry i in trace i + first_trace, with the terms `terms_of(i)` and
// one origin carrying `origin_terms` for every entry.
IndexBatch MakeBatch(int n, int first_trace, const std::function<std::vector<Term>(int)>& terms_of,
                     const std::vector<Term>& origin_terms) {
  IndexBatch b;
  b.strings = {"svc", "op"};
  IndexBatch::Origin origin;
  origin.id = 7;
  for (const auto& t : origin_terms) origin.terms.push_back(TermHash(t.key, t.value));
  b.origins.push_back(origin);
  for (int i = 0; i < n; ++i) {
    IndexBatch::Entry e;
    e.trace_id = *common::ParseTraceIdHex(fmt::format("{:032x}", first_trace + i + 1));
    e.start_ns = kT0 + i;
    e.duration_ns = 1000;
    e.service = 0;
    e.operation = 1;
    e.terms_begin = static_cast<uint32_t>(b.terms.size());
    for (const auto& t : terms_of(i)) b.terms.push_back(TermHash(t.key, t.value));
    e.terms_end = static_cast<uint32_t>(b.terms.size());
    b.entries.push_back(e);
  }
  return b;
}

OpenBlock Open(const IndexBatch& batch) {
  OpenBlock block("svc");
  for (const auto& e : batch.entries) block.Append(batch, e);
  for (const auto& v : batch.values) block.AddValue(v, true);
  return block;
}

// Trace numbers (1-based, as MakeBatch numbers them) the block returns for one tag.
std::set<int> Found(const OpenBlock& block, const Term& tag);
std::set<int> Found(const SealedBlock& block, const Term& tag);

template <typename AnyBlock>
std::set<int> FoundIn(const AnyBlock& block, const Term& tag) {
  TraceQuery q;
  q.tags = {{tag.key, tag.value}};
  q.limit = 1 << 20;
  Hits hits;
  if constexpr (std::is_same_v<AnyBlock, SealedBlock>) {
    EXPECT_TRUE(block.Search(q, hits));
  } else {
    block.Search(q, hits);
  }
  std::set<int> out;
  for (const auto& [id, start] : hits.best) {
    out.insert(std::stoi(common::FormatTraceId32(id).substr(16), nullptr, 16));
  }
  return out;
}

std::set<int> Found(const OpenBlock& block, const Term& tag) { return FoundIn(block, tag); }
std::set<int> Found(const SealedBlock& block, const Term& tag) { return FoundIn(block, tag); }

class SealedBlockTest : public ::testing::Test {
 protected:
  static constexpr int kEntries = 5000;

  // Entry i: a term every entry has, one of three, its own, two of 20,000 rare ones, and a
  // term held by entries 0..99 and the last one only (an ordinal gap the Rice code escapes).
  static std::vector<Term> TermsOf(int i) {
    std::vector<Term> t = {
        {"dense", "x"}, {"mod3", std::to_string(i % 3)}, {"own", std::to_string(i)}};
    std::mt19937_64 rng(static_cast<uint64_t>(i));
    for (int r = 0; r < 2; ++r) t.push_back({"rare", std::to_string(rng() % 20000)});
    if (i < 100 || i == kEntries - 1) t.push_back({"edges", "y"});
    return t;
  }

  // What a block of TermsOf entries with origin term res=`res` must answer: entries having a
  // term with the same postings key (the top 32 bits of its hash; the search verifies
  // candidates against the spans later), or with the same hash if `exact` (open blocks).
  static std::set<int> Expected(const Term& tag, int first_trace, const std::string& res,
                                bool exact) {
    const int shift = exact ? 0 : 32;
    auto same = [&](const Term& t) {
      return TermHash(t.key, t.value) >> shift == TermHash(tag.key, tag.value) >> shift;
    };
    std::set<int> out;
    for (int i = 0; i < kEntries; ++i) {
      bool has = same({"res", res});
      for (const auto& t : TermsOf(i)) has = has || same(t);
      if (has) out.insert(first_trace + i + 1);
    }
    return out;
  }

  static std::vector<Term> Probes() {
    std::vector<Term> p = {{"dense", "x"},  {"mod3", "1"},  {"own", "0"},    {"own", "4999"},
                           {"own", "2500"}, {"edges", "y"}, {"absent", "z"}, {"dense", "y"},
                           {"res", "a"},    {"res", "b"}};
    for (int v = 0; v < 20000; v += 997) p.push_back({"rare", std::to_string(v)});
    return p;
  }
};

TEST_F(SealedBlockTest, AnswersWhatItsEntriesHold) {
  IndexBatch batch = MakeBatch(kEntries, 0, TermsOf, {{"res", "a"}});
  OpenBlock open = Open(batch);
  BlockRows sealed = open.Seal();
  auto block = SealedBlock::Decode(sealed.block);
  ASSERT_TRUE(block.has_value());
  EXPECT_EQ(block->size(), static_cast<size_t>(kEntries));
  for (const auto& tag : Probes()) {
    SCOPED_TRACE(tag.key + "=" + tag.value);
    std::set<int> want = Expected(tag, 0, "a", false);
    EXPECT_EQ(Found(open, tag), Expected(tag, 0, "a", true));
    EXPECT_EQ(Found(*block, tag), want);
    if (!want.empty()) {
      EXPECT_TRUE(FilterMayContain(sealed.filter, TermHash(tag.key, tag.value)));
    }
  }
  EXPECT_TRUE(FilterMayContain(sealed.filter, TermHash("edges", "y")));
}

TEST_F(SealedBlockTest, MergedBlocksAnswerLikeTheirParts) {
  IndexBatch first = MakeBatch(kEntries, 0, TermsOf, {{"res", "a"}});
  IndexBatch second = MakeBatch(kEntries, kEntries, TermsOf, {{"res", "b"}});
  BlockRows a = Open(first).Seal(), b = Open(second).Seal();
  auto merged = SealedBlock::Merge({a.block, b.block});
  ASSERT_TRUE(merged.has_value());
  auto block = SealedBlock::Decode(merged->block);
  ASSERT_TRUE(block.has_value());
  EXPECT_EQ(block->size(), static_cast<size_t>(2 * kEntries));
  for (const auto& tag : Probes()) {
    SCOPED_TRACE(tag.key + "=" + tag.value);
    std::set<int> want = Expected(tag, 0, "a", false);
    for (int i : Expected(tag, kEntries, "b", false)) want.insert(i);
    EXPECT_EQ(Found(*block, tag), want);
  }
}

TEST_F(SealedBlockTest, DamagedBlocksAreRefusedOrReadWithinBounds) {
  IndexBatch batch = MakeBatch(300, 0, TermsOf, {{"res", "a"}});
  const std::string good = Open(batch).Seal().block;
  std::mt19937_64 rng(42);
  auto probe = [](std::string_view data) {
    auto block = SealedBlock::Decode(data);
    if (!block) return;
    for (const auto& tag : Probes()) {
      TraceQuery q;
      q.tags = {{tag.key, tag.value}};
      Hits hits;
      block->Search(q, hits);  // any answer, or false; never a read outside `data`
    }
  };
  for (size_t cut = 0; cut < good.size(); cut += 1 + good.size() / 400) {
    // A copy of exactly `cut` bytes, so that a read past it is caught by the sanitizers.
    std::string truncated = good.substr(0, cut);
    probe(truncated);
  }
  for (int round = 0; round < 300; ++round) {
    std::string damaged = good;
    for (int flips = 0; flips < 3; ++flips) {
      damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    probe(damaged);
  }
}

// Blocks: entry i has `route` = /r/<i % 40>; a pattern search marks exactly the entries whose
// value it accepts, in the open block, sealed and merged; a merge with a block without a
// dictionary narrows nothing (every entry is a candidate, verified later on the spans).
IndexBatch RouteBatch(int n, int first_trace) {
  auto route = [](int i) { return fmt::format("/r/{}", i % 40); };
  IndexBatch b = MakeBatch(n, first_trace,
                           [&](int i) {
                             return std::vector<Term>{{"route", route(i)}};
                           },
                           {});
  uint64_t ks = TermKeyState("route");
  for (int i = 0; i < std::min(n, 40); ++i) {
    b.values.push_back({0, ks, TermHashFrom(ks, route(i)), route(i), false});
  }
  return b;
}

template <typename Block>
size_t FoundByPattern(const Block& block, std::string_view pattern) {
  TraceQuery q;
  q.patterns.push_back({"route", std::make_shared<const re2::RE2>(pattern)});
  q.limit = 1 << 20;
  Hits hits;
  block.Search(q, hits);
  return hits.best.size();
}

TEST(BlockPatternTest, NarrowsPatternsToTheEntriesWithAcceptedValues) {
  IndexBatch batch = RouteBatch(400, 0);
  OpenBlock open = Open(batch);
  BlockRows rows = open.Seal();
  auto sealed = SealedBlock::Decode(rows.block);
  ASSERT_TRUE(sealed.has_value());
  // /r/1, /r/10../r/19: 11 of 40 values, 10 entries each.
  EXPECT_EQ(FoundByPattern(open, "^/r/1"), 110u);
  EXPECT_EQ(FoundByPattern(*sealed, "^/r/1"), 110u);
  EXPECT_EQ(FoundByPattern(*sealed, "nothing"), 0u);
  IndexBatch second = RouteBatch(400, 400);
  auto merged = SealedBlock::Merge({rows.block, Open(second).Seal().block});
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(FoundByPattern(*SealedBlock::Decode(merged->block), "^/r/1"), 220u);
  // A key with a value too long to list narrows nothing: all 400 entries are candidates.
  IndexBatch longer = RouteBatch(400, 800);
  OpenBlock open3 = Open(longer);
  open3.AddValue({0, TermKeyState("route"), 0, "", true}, true);
  BlockRows incomplete = open3.Seal();
  EXPECT_EQ(FoundByPattern(*SealedBlock::Decode(incomplete.block), "nothing"), 400u);
  // A block of format 5 (no dictionary: the same bytes without the trailing empty one) is
  // searched unnarrowed, and makes a merge holding it unnarrowed too.
  IndexBatch bare = RouteBatch(400, 1200);
  bare.values.clear();
  std::string old = Open(bare).Seal().block;
  ASSERT_EQ(old.substr(old.size() - 3), std::string("\x02\x01\x00", 3));
  old.resize(old.size() - 3);
  old[0] = 5;
  ASSERT_TRUE(SealedBlock::Decode(old).has_value());
  EXPECT_EQ(FoundByPattern(*SealedBlock::Decode(old), "nothing"), 400u);
  auto mixed = SealedBlock::Merge({rows.block, old});
  ASSERT_TRUE(mixed.has_value());
  EXPECT_EQ(FoundByPattern(*SealedBlock::Decode(mixed->block), "nothing"), 800u);
}

}  // namespace
}  // namespace skua::storage
