// What the search index may assume of every span a filter accepts (IndexHints): only
// conditions the filter implies, so the index yields a superset that Filter::Matches decides.

#include <algorithm>

#include "filter/filter.h"
#include "filter/vocabulary.h"
#include "model/values.h"

namespace skua::filter {
namespace {

// The string form the index hashes for a stored double (model::ValueAsString).
std::string DoubleText(double d) {
  opentelemetry::proto::common::v1::AnyValue v;
  v.set_double_value(d);
  return model::ValueAsString(v);
}

// The index term an equality with `c` implies, if there is exactly one: every stored value the
// constant can equal must have that one string form. An untyped "500" equals the string "500",
// the integer 500 and the double 500.0 — all indexed as "500" — but an untyped "5.0" equals
// the integer 5, indexed as "5", so it implies no single term.
std::optional<std::string> TermText(const Constant& c) {
  switch (c.kind) {
    case Kind::kString:
      return c.text;
    case Kind::kInt:
      return std::to_string(c.i);
    case Kind::kDouble:
      return DoubleText(c.d);
    case Kind::kBool:
      return c.b ? "true" : "false";
    case Kind::kAny: {
      if (auto i = ParseInteger(c.text)) {
        if (std::to_string(*i) != c.text) return std::nullopt;
        // Doubles equal to it must print the same: true up to 2^53, where every integer is exact
        // and prints without exponent.
        if (*i > (int64_t{1} << 53) || *i < -(int64_t{1} << 53)) return std::nullopt;
        return c.text;
      }
      if (auto d = ParseNumber(c.text)) {
        if (DoubleText(*d) != c.text) return std::nullopt;
        return c.text;
      }
      return c.text;  // only a string (or a boolean word, which prints as itself) equals it
    }
    default:
      return std::nullopt;
  }
}

void FromConjunct(const Node& n, IndexHints& hints, bool inside_some);

// The terms one of which every span satisfying `n` has: each branch of an `or` must imply one
// (any of a branch's implied terms will do), an `in` over an attribute implies one per value.
// Empty if `n` implies no such group.
std::vector<std::pair<std::string, std::string>> AnyOf(const Node& n) {
  std::vector<std::pair<std::string, std::string>> out;
  if (n.term != Node::Term::kCall) return out;
  if (n.op == Op::kOr) {
    for (const Node& branch : n.args) {
      auto implied = AnyOf(branch);
      if (implied.empty()) {
        IndexHints h;
        FromConjunct(branch, h, true);  // inside_some: attribute terms only
        if (h.terms.empty()) return {};
        implied.push_back(h.terms.front());
      }
      out.insert(out.end(), implied.begin(), implied.end());
    }
    return out;
  }
  if (n.op == Op::kIn && n.args[0].term == Node::Term::kAttr) {
    for (const Constant& k : n.args[1].values) {
      auto text = TermText(k);
      if (!text) return {};
      out.emplace_back(n.args[0].key, *text);
    }
    return out;
  }
  return out;
}

void FromConjunct(const Node& n, IndexHints& hints, bool inside_some) {
  if (n.term != Node::Term::kCall) return;
  if (n.op == Op::kAnd) {
    for (const Node& a : n.args) FromConjunct(a, hints, inside_some);
    return;
  }
  if (n.op == Op::kSome) {
    FromConjunct(n.args[1], hints, true);
    return;
  }
  if (n.op == Op::kOr || (n.op == Op::kIn && n.args[1].values.size() > 1)) {
    auto group = AnyOf(n);
    if (!group.empty()) hints.any_terms.push_back(std::move(group));
    return;
  }
  if (n.op == Op::kRegex) {
    // Any level's attribute values are in the index blocks' value dictionaries.
    if (n.args[0].term == Node::Term::kAttr && n.pattern != nullptr) {
      hints.patterns.push_back({n.args[0].key, n.pattern});
    }
    return;
  }
  bool equality = n.op == Op::kEq || (n.op == Op::kIn && n.args[1].values.size() == 1);
  const Node& left = n.args.empty() ? n : n.args[0];
  if (n.args.size() != 2) return;
  const Node& right = n.args[1];
  if (right.term != Node::Term::kScalar && right.term != Node::Term::kList) return;
  const Constant& k = right.term == Node::Term::kScalar ? right.value : right.values.front();
  if (left.term == Node::Term::kAttr) {
    if (!equality) return;
    // Every level's attributes are index terms of the span (events' and links' too), and an
    // unqualified reference reads the span's or the resource's.
    if (auto text = TermText(k)) hints.terms.emplace_back(left.key, *text);
    return;
  }
  if (left.term != Node::Term::kField || inside_some) return;
  switch (left.field) {
    case Field::kResourceService:
      if (equality && !k.text.empty()) hints.service = k.text;
      return;
    case Field::kSpanName:
      if (equality && !k.text.empty()) hints.operation = k.text;
      return;
    case Field::kSpanKind:
      if (equality && k.text != "unspecified") hints.terms.emplace_back("span.kind", k.text);
      return;
    case Field::kSpanStatus:
      if (equality && k.text == "error") hints.terms.emplace_back("otel.status_code", "ERROR");
      if (equality && k.text == "ok") hints.terms.emplace_back("otel.status_code", "OK");
      return;
    case Field::kSpanDuration: {
      if (right.term != Node::Term::kScalar) return;
      int64_t d = k.i;
      auto raise_min = [&](int64_t v) {
        if (v > hints.duration_min_ns) hints.duration_min_ns = v;
      };
      auto lower_max = [&](int64_t v) {
        if (v <= 0) return;  // 0 means unbounded to the index; a bound below 1 ns narrows nothing
        if (hints.duration_max_ns == 0 || v < hints.duration_max_ns) hints.duration_max_ns = v;
      };
      switch (n.op) {
        case Op::kEq:
          raise_min(d);
          lower_max(d);
          return;
        case Op::kGt:
          if (d < INT64_MAX) raise_min(d + 1);
          return;
        case Op::kGte:
          raise_min(d);
          return;
        case Op::kLt:
          if (d > INT64_MIN) lower_max(d - 1);
          return;
        case Op::kLte:
          lower_max(d);
          return;
        default:
          return;
      }
    }
    default:
      return;
  }
}

// The trace IDs `n` bounds every satisfying span to; nullopt when it bounds none.
std::optional<std::vector<std::string>> TraceIds(const Node& n) {
  if (n.term != Node::Term::kCall) return std::nullopt;
  auto is_trace_id = [](const Node& ref) {
    return ref.term == Node::Term::kField && ref.field == Field::kSpanTraceId;
  };
  switch (n.op) {
    case Op::kEq:
      if (is_trace_id(n.args[0]) && n.args[1].term == Node::Term::kScalar) {
        return std::vector<std::string>{n.args[1].value.text};
      }
      return std::nullopt;
    case Op::kIn:
      if (is_trace_id(n.args[0])) {
        std::vector<std::string> ids;
        for (const Constant& c : n.args[1].values) ids.push_back(c.text);
        return ids;
      }
      return std::nullopt;
    case Op::kAnd: {
      std::optional<std::vector<std::string>> best;
      for (const Node& a : n.args) {
        auto ids = TraceIds(a);
        if (ids && (!best || ids->size() < best->size())) best = std::move(ids);
      }
      return best;
    }
    case Op::kOr: {
      std::vector<std::string> all;
      for (const Node& a : n.args) {
        auto ids = TraceIds(a);
        if (!ids) return std::nullopt;
        all.insert(all.end(), ids->begin(), ids->end());
      }
      return all;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

IndexHints Narrow(const Filter& filter) {
  IndexHints hints;
  FromConjunct(filter.root(), hints, false);
  if (auto ids = TraceIds(filter.root())) {
    std::sort(ids->begin(), ids->end());
    ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
    hints.trace_ids = std::move(*ids);
  }
  return hints;
}

}  // namespace skua::filter
