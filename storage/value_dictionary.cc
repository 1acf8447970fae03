// Value dictionaries of index blocks: building, encoding, matching and merging them.

#include "storage/value_dictionary.h"

#include <algorithm>

#include "storage/coding.h"
#include "storage/span_terms.h"

namespace skua::storage {
namespace {

// Memory of one listed value beyond its bytes (its hash in the set, its length) and of one key.
constexpr size_t kValueOverhead = 18;
constexpr size_t kKeyOverhead = 96;

constexpr uint8_t kEveryKeyListed = 1;

// Calls fn on each value of a builder's `values` string.
template <typename Fn>
void ForEachHeld(std::string_view values, Fn&& fn) {
  while (!values.empty()) {
    auto n = ReadVarint(values);
    if (!n || *n > values.size()) return;
    fn(values.substr(0, *n));
    values.remove_prefix(*n);
  }
}

// One key's entry in an encoded dictionary's table.
struct KeyRecord {
  uint64_t key_state = 0;
  size_t n_values = 0;
  bool complete = false;
  uint64_t section_bytes = 0;
  std::string_view section;  // its values
};

// Reads the table, then calls fn(record) per key until it returns false. False if malformed.
template <typename Fn>
bool ForEachRecord(std::string_view encoded, bool& every_key_listed, Fn&& fn) {
  ByteReader in(encoded);
  uint8_t flags = in.U8();
  every_key_listed = (flags & kEveryKeyListed) != 0;
  std::vector<KeyRecord> records(in.Count(10));
  if (!in.ok()) return false;
  for (KeyRecord& r : records) {
    std::string_view fixed = in.Bytes(8);
    uint64_t header = in.Var();
    r.section_bytes = in.Var();
    if (!in.ok()) return false;
    r.key_state = LoadFixedLE(fixed.data(), 8);
    r.complete = (header & 1) != 0;
    // More than a key may hold is malformed; the bound also caps the decoding loop.
    if ((header >> 1) > kDictionaryMaxValuesPerKey) return false;
    r.n_values = static_cast<size_t>(header >> 1);
  }
  for (KeyRecord& r : records) {
    if (r.section_bytes > encoded.size()) return false;
    r.section = in.Bytes(static_cast<size_t>(r.section_bytes));
    if (!in.ok()) return false;
  }
  for (const KeyRecord& r : records) {
    if (!fn(r)) break;
  }
  return true;
}

// Calls fn on each value of an encoded key section; false if malformed.
template <typename Fn>
bool ForEachEncoded(const KeyRecord& r, Fn&& fn) {
  ByteReader in(r.section);
  std::string value;
  for (size_t i = 0; i < r.n_values; ++i) {
    uint64_t shared = in.Var();
    std::string_view suffix = in.Str();
    if (!in.ok() || shared > value.size()) return false;
    value.resize(shared);
    value.append(suffix);
    if (value.size() > kDictionaryMaxValueBytes) return false;
    fn(std::string_view(value));
  }
  return in.ok();
}

}  // namespace

ValueDictionaryBuilder::Key* ValueDictionaryBuilder::Find(uint64_t key_state, bool may_grow) {
  auto it = keys_.find(key_state);
  if (it != keys_.end()) return &it->second;
  if (!may_grow || bytes_ + kKeyOverhead > kDictionaryMaxBytes) {
    every_key_listed_ = false;
    return nullptr;
  }
  bytes_ += kKeyOverhead;
  return &keys_[key_state];
}

void ValueDictionaryBuilder::Drop(Key& k) {
  if (!k.complete) return;
  k.complete = false;
  bytes_ -= k.bytes;
  k.bytes = 0;
  k.terms = {};
  k.values = {};
}

void ValueDictionaryBuilder::Add(uint64_t key_state, uint64_t term, std::string_view value,
                                 bool may_grow) {
  Key* k = Find(key_state, may_grow);
  if (k == nullptr || !k->complete || k->terms.contains(term)) return;
  size_t cost = value.size() + kValueOverhead;
  if (value.size() > kDictionaryMaxValueBytes || k->terms.size() >= kDictionaryMaxValuesPerKey ||
      !may_grow || bytes_ + cost > kDictionaryMaxBytes) {
    Drop(*k);
    return;
  }
  k->terms.insert(term);
  AppendVarint(k->values, value.size());
  k->values.append(value);
  k->bytes += cost;
  bytes_ += cost;
}

void ValueDictionaryBuilder::MarkIncomplete(uint64_t key_state) {
  // An incomplete key is listed even past the bound when it can be: it answers "unknown" for
  // its key, where an unlisted one makes every absent key unknown.
  if (Key* k = Find(key_state, true)) Drop(*k);
}

DictionaryAnswer ValueDictionaryBuilder::Match(
    uint64_t key_state, absl::FunctionRef<bool(std::string_view)> accepts) const {
  DictionaryAnswer out;
  auto it = keys_.find(key_state);
  if (it == keys_.end()) {
    out.known = every_key_listed_;
    return out;
  }
  if (!it->second.complete) return out;
  out.known = true;
  ForEachHeld(it->second.values, [&](std::string_view v) {
    if (accepts(v)) out.terms.push_back(TermHashFrom(key_state, v));
  });
  return out;
}

std::string ValueDictionaryBuilder::Encode() const {
  std::vector<uint64_t> order;
  order.reserve(keys_.size());
  for (const auto& [key_state, k] : keys_) order.push_back(key_state);
  std::sort(order.begin(), order.end());
  ByteWriter table, sections;
  table.U8(every_key_listed_ ? kEveryKeyListed : 0);
  table.Var(order.size());
  std::vector<std::string_view> values;
  for (uint64_t key_state : order) {
    const Key& k = keys_.at(key_state);
    values.clear();
    ForEachHeld(k.values, [&](std::string_view v) { values.push_back(v); });
    std::sort(values.begin(), values.end());
    ByteWriter section;
    std::string_view previous;
    for (std::string_view v : values) {
      size_t shared = 0;
      while (shared < previous.size() && shared < v.size() && previous[shared] == v[shared]) {
        ++shared;
      }
      section.Var(shared);
      section.Str(v.substr(shared));
      previous = v;
    }
    std::string bytes = section.Take();
    table.Fixed(key_state, 8);
    table.Var((static_cast<uint64_t>(values.size()) << 1) | (k.complete ? 1 : 0));
    table.Var(bytes.size());
    sections.Bytes(bytes);
  }
  std::string out = table.Take();
  out += sections.Take();
  return out;
}

bool ValueDictionaryBuilder::AddEncoded(std::string_view encoded) {
  bool every_key_listed = false;
  bool ok = !encoded.empty() && ForEachRecord(encoded, every_key_listed, [&](const KeyRecord& r) {
    if (!r.complete) {
      MarkIncomplete(r.key_state);
      return true;
    }
    if (Find(r.key_state, true) == nullptr) return true;
    bool values_ok = ForEachEncoded(
        r, [&](std::string_view v) { Add(r.key_state, TermHashFrom(r.key_state, v), v); });
    if (!values_ok) MarkIncomplete(r.key_state);
    return true;
  });
  if (!ok || !every_key_listed) every_key_listed_ = false;
  if (!ok) {
    for (auto& [key_state, k] : keys_) Drop(k);
  }
  return ok;
}

DictionaryAnswer MatchEncoded(std::string_view encoded, uint64_t key_state,
                              absl::FunctionRef<bool(std::string_view)> accepts) {
  DictionaryAnswer out;
  if (encoded.empty()) return out;
  bool every_key_listed = false;
  bool found = false;
  bool ok = ForEachRecord(encoded, every_key_listed, [&](const KeyRecord& r) {
    if (r.key_state != key_state) return true;
    found = true;
    if (!r.complete) return false;
    std::vector<uint64_t> terms;
    if (ForEachEncoded(r, [&](std::string_view v) {
          if (accepts(v)) terms.push_back(TermHashFrom(key_state, v));
        })) {
      out.known = true;
      out.terms = std::move(terms);
    }
    return false;
  });
  if (!ok) return DictionaryAnswer{};
  if (!found) out.known = every_key_listed;
  return out;
}

}  // namespace skua::storage
