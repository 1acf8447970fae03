// Value dictionaries on their own and in index blocks: what a pattern is narrowed to in open,
// sealed and merged blocks is exactly the entries with an accepted value, a key the dictionary
// cannot vouch for narrows nothing, and damaged dictionaries answer "unknown" without reading
// outside their bytes.

#include "storage/value_dictionary.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <memory>
#include <random>
#include <set>

#include "storage/open_block.h"
#include "storage/sealed_block.h"
#include "storage/span_terms.h"

namespace skua::storage {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

bool Accepts(std::string_view pattern, std::string_view v) {
  return re2::RE2::PartialMatch(v, re2::RE2(pattern));
}

std::set<uint64_t> Terms(const DictionaryAnswer& a) { return {a.terms.begin(), a.terms.end()}; }

TEST(ValueDictionaryTest, AnswersTheTermsOfAcceptedValuesAndSaysWhatItCannotTell) {
  ValueDictionaryBuilder d;
  uint64_t k = TermKeyState("http.route"), other = TermKeyState("peer");
  for (std::string v : {"/tasks", "/tasks/{id}", "/health", "/tasks"}) {
    d.Add(k, TermHashFrom(k, v), v);
  }
  d.MarkIncomplete(other);
  auto tasks = [](std::string_view v) { return Accepts("^/tasks", v); };
  std::set<uint64_t> want = {TermHashFrom(k, "/tasks"), TermHashFrom(k, "/tasks/{id}")};
  for (const std::string& encoded : {std::string(), d.Encode()}) {
    DictionaryAnswer a = encoded.empty() ? d.Match(k, tasks) : MatchEncoded(encoded, k, tasks);
    EXPECT_TRUE(a.known);
    EXPECT_EQ(Terms(a), want);
    DictionaryAnswer none = encoded.empty() ? d.Match(k, [](std::string_view) { return false; })
                                            : MatchEncoded(encoded, k, [](auto) { return false; });
    EXPECT_TRUE(none.known);
    EXPECT_TRUE(none.terms.empty());
    // A key no span has: known, nothing accepted. An incomplete key: unknown.
    uint64_t absent = TermKeyState("absent");
    EXPECT_TRUE(
        (encoded.empty() ? d.Match(absent, tasks) : MatchEncoded(encoded, absent, tasks)).known);
    EXPECT_FALSE(
        (encoded.empty() ? d.Match(other, tasks) : MatchEncoded(encoded, other, tasks)).known);
  }
  // No dictionary (a block of format 5): unknown.
  EXPECT_FALSE(MatchEncoded("", k, tasks).known);
}

TEST(ValueDictionaryTest, BoundsMakeKeysIncompleteOrUnlisted) {
  ValueDictionaryBuilder d;
  uint64_t many = TermKeyState("many"), shortk = TermKeyState("short");
  for (size_t i = 0; i <= kDictionaryMaxValuesPerKey; ++i) {
    std::string v = std::to_string(i);
    d.Add(many, TermHashFrom(many, v), v);
  }
  auto all = [](std::string_view) { return true; };
  EXPECT_FALSE(MatchEncoded(d.Encode(), many, all).known);
  d.Add(shortk, TermHashFrom(shortk, "a"), "a");
  EXPECT_TRUE(MatchEncoded(d.Encode(), shortk, all).known);
  // The caller's bound reached: a new value makes its key incomplete, a new key is unlisted, so
  // every key the dictionary does not list becomes unknown.
  d.Add(shortk, TermHashFrom(shortk, "b"), "b", /*may_grow=*/false);
  d.Add(TermKeyState("new"), TermHashFrom(TermKeyState("new"), "x"), "x", false);
  std::string encoded = d.Encode();
  EXPECT_FALSE(MatchEncoded(encoded, shortk, all).known);
  EXPECT_FALSE(MatchEncoded(encoded, TermKeyState("new"), all).known);
  EXPECT_FALSE(MatchEncoded(encoded, TermKeyState("never"), all).known);
}

TEST(ValueDictionaryTest, MergingIsTheUnionAndIncompleteAnywhereStaysIncomplete) {
  uint64_t k = TermKeyState("k"), j = TermKeyState("j");
  ValueDictionaryBuilder a, b;
  a.Add(k, TermHashFrom(k, "x1"), "x1");
  a.Add(j, TermHashFrom(j, "y"), "y");
  b.Add(k, TermHashFrom(k, "x2"), "x2");
  b.Add(k, TermHashFrom(k, "x1"), "x1");
  b.MarkIncomplete(j);
  ValueDictionaryBuilder merged;
  ASSERT_TRUE(merged.AddEncoded(a.Encode()));
  ASSERT_TRUE(merged.AddEncoded(b.Encode()));
  auto x = [](std::string_view v) { return Accepts("x", v); };
  std::string encoded = merged.Encode();
  EXPECT_EQ(Terms(MatchEncoded(encoded, k, x)),
            (std::set<uint64_t>{TermHashFrom(k, "x1"), TermHashFrom(k, "x2")}));
  EXPECT_FALSE(MatchEncoded(encoded, j, x).known);
}

TEST(ValueDictionaryTest, DamagedDictionariesAnswerUnknownOrWithinTheirBytes) {
  ValueDictionaryBuilder d;
  for (int key = 0; key < 20; ++key) {
    uint64_t ks = TermKeyState(fmt::format("key{}", key));
    for (int v = 0; v < 30; ++v) {
      std::string text = fmt::format("value-{:03d}", v * 7 + key);
      d.Add(ks, TermHashFrom(ks, text), text);
    }
  }
  const std::string good = d.Encode();
  auto all = [](std::string_view) { return true; };
  for (size_t cut = 0; cut < good.size(); ++cut) {
    std::string truncated = good.substr(0, cut);  // exactly `cut` bytes: the sanitizers watch
    for (int key = 0; key < 20; key += 7) {
      EXPECT_FALSE(MatchEncoded(truncated, TermKeyState(fmt::format("key{}", key)), all).known)
          << cut;
    }
    ValueDictionaryBuilder merged;
    EXPECT_FALSE(merged.AddEncoded(truncated));
  }
  std::mt19937_64 rng(7);
  for (int round = 0; round < 500; ++round) {
    std::string damaged = good;
    damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    MatchEncoded(damaged, TermKeyState("key3"), all);
    ValueDictionaryBuilder merged;
    merged.AddEncoded(damaged);
    merged.Encode();
  }
}

// Blocks: entry i has `route` = /r/<i % 40>; a pattern search marks exactly the entries whose
// value it accepts, in the open block, sealed and merged; a merge with a block without a
// dictionary narrows nothing (every entry is a candidate, verified later on the spans).
IndexBatch RouteBatch(int n, int first_trace) {
  IndexBatch b;
  b.strings = {"svc", "op"};
  b.origins.push_back({7, {}});
  uint64_t ks = TermKeyState("route");
  for (int i = 0; i < n; ++i) {
    IndexBatch::Entry e;
    e.trace_id = *common::ParseTraceIdHex(fmt::format("{:032x}", first_trace + i + 1));
    e.start_ns = kT0 + i;
    e.duration_ns = 1000;
    e.operation = 1;
    e.terms_begin = static_cast<uint32_t>(b.terms.size());
    std::string v = fmt::format("/r/{}", i % 40);
    b.terms.push_back(TermHashFrom(ks, v));
    e.terms_end = static_cast<uint32_t>(b.terms.size());
    b.entries.push_back(e);
    b.values.push_back({0, ks, TermHashFrom(ks, v), v, false});
  }
  return b;
}

template <typename Block>
size_t Found(const Block& block, std::string_view pattern) {
  TraceQuery q;
  q.patterns.push_back({"route", std::make_shared<const re2::RE2>(pattern)});
  q.limit = 1 << 20;
  Hits hits;
  block.Search(q, hits);
  return hits.best.size();
}

TEST(ValueDictionaryTest, BlocksNarrowPatternsToTheEntriesWithAcceptedValues) {
  IndexBatch batch = RouteBatch(400, 0);
  OpenBlock open("svc");
  for (const auto& e : batch.entries) open.Append(batch, e);
  for (const auto& v : batch.values) open.AddValue(v, true);
  BlockRows rows = open.Seal();
  auto sealed = SealedBlock::Decode(rows.block);
  ASSERT_TRUE(sealed.has_value());
  // /r/1, /r/10../r/19: 11 of 40 values, 10 entries each.
  EXPECT_EQ(Found(open, "^/r/1"), 110u);
  EXPECT_EQ(Found(*sealed, "^/r/1"), 110u);
  EXPECT_EQ(Found(*sealed, "nothing"), 0u);
  IndexBatch second = RouteBatch(400, 400);
  OpenBlock open2("svc");
  for (const auto& e : second.entries) open2.Append(second, e);
  for (const auto& v : second.values) open2.AddValue(v, true);
  auto merged = SealedBlock::Merge({rows.block, open2.Seal().block});
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(Found(*SealedBlock::Decode(merged->block), "^/r/1"), 220u);
  // A key with a value too long to list narrows nothing: all 400 entries are candidates.
  IndexBatch longer = RouteBatch(400, 800);
  OpenBlock open3("svc");
  for (const auto& e : longer.entries) open3.Append(longer, e);
  for (const auto& v : longer.values) open3.AddValue(v, true);
  open3.AddValue({0, TermKeyState("route"), 0, "", true}, true);
  BlockRows incomplete = open3.Seal();
  EXPECT_EQ(Found(*SealedBlock::Decode(incomplete.block), "nothing"), 400u);
  // A block of format 5 (no dictionary: the same bytes without the trailing empty one) is
  // searched unnarrowed, and makes a merge holding it unnarrowed too.
  IndexBatch bare = RouteBatch(400, 1200);
  bare.values.clear();
  OpenBlock open4("svc");
  for (const auto& e : bare.entries) open4.Append(bare, e);
  std::string old = open4.Seal().block;
  ASSERT_EQ(old.substr(old.size() - 3), std::string("\x02\x01\x00", 3));
  old.resize(old.size() - 3);
  old[0] = 5;
  ASSERT_TRUE(SealedBlock::Decode(old).has_value());
  EXPECT_EQ(Found(*SealedBlock::Decode(old), "nothing"), 400u);
  auto mixed = SealedBlock::Merge({rows.block, old});
  ASSERT_TRUE(mixed.has_value());
  EXPECT_EQ(Found(*SealedBlock::Decode(mixed->block), "nothing"), 800u);
}

}  // namespace
}  // namespace skua::storage
