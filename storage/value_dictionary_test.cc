// Value dictionaries on their own: the terms of accepted values, what bounds leave unknown,
// merging, and damaged dictionaries answering "unknown" without reading outside their bytes.
// In index blocks: storage/index_test.cc.

#include "storage/value_dictionary.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
#include <set>

#include "storage/span_terms.h"

namespace skua::storage {
namespace {

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

}  // namespace
}  // namespace skua::storage
