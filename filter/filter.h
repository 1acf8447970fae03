// The structured query filter of Jaeger RFC 0005 ("L2"): a boolean tree of calls over
// references to a span's values (level-qualified attributes and built-in fields) and constants,
// with `some` over a span's events or links. This part owns what a filter means: decoding it
// from its wire form, checking and resolving it (Finalize), deciding whether one span satisfies
// it (Matches), and what a search index may assume of every span that does (Narrow). Storage
// evaluates it; the query APIs decode it.
//
// Semantics (docs/api.md, "Structured filter"), in short:
//  - A filter holds for a span (with its resource and scope); a trace matches a search when one
//    of its spans satisfies the whole filter.
//  - A reference may resolve to several values (an unqualified attribute on the span and its
//    resource, an event attribute of several events, a repeated key). A positive leaf holds when
//    some value satisfies it; `ne` and `not_in` hold when the reference has a value and none
//    matches. A leaf over a reference with no value is false; only `not` turns that around.
//  - An untyped constant compared with an attribute is read at the attribute's stored type:
//    text as text, integers and doubles as numbers (the constant must parse as one), booleans as
//    `true`/`false`; arrays, maps and bytes by their string form. A typed constant matches only
//    values stored with that type.
//  - A constant compared with a built-in field is read as the field's type (a Go duration, an
//    RFC 3339 instant, a span kind or status word, text), and refused if it does not parse.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "jaeger/expression/v1/expression.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace re2 {
class RE2;
}

namespace skua::filter {

// kNone is an attribute reference without a level: the span's and the resource's attributes.
enum class Level { kNone, kSpan, kResource, kScope, kEvent, kLink };

enum class Op {
  kAnd,
  kOr,
  kNot,
  kEq,
  kNe,
  kGt,
  kLt,
  kGte,
  kLte,
  kRegex,
  kExists,
  kIn,
  kNotIn,
  kSome
};

// The built-in fields of RFC 0005 (its field registry), level by level.
enum class Field {
  kSpanTraceId,
  kSpanSpanId,
  kSpanParentSpanId,
  kSpanTraceState,
  kSpanName,
  kSpanKind,
  kSpanStartTime,
  kSpanEndTime,
  kSpanDuration,
  kSpanStatus,
  kSpanStatusMessage,
  kResourceService,
  kResourceSchemaUrl,
  kScopeName,
  kScopeVersion,
  kScopeSchemaUrl,
  kEventName,
  kEventTime,
  kEventTimeSinceStart,
  kLinkTraceId,
  kLinkSpanId,
  kLinkTraceState,
};

// What a constant holds once decoded (kAny: the caller declared no type) or resolved against a
// field (kDuration and kTimestamp, in nanoseconds, exist only that way: the wire has no such
// types). kString is also the type of span kind and status words and of IDs (lowercase hex).
enum class Kind { kAny, kString, kInt, kDouble, kBool, kDuration, kTimestamp };

struct Constant {
  Kind kind = Kind::kAny;
  std::string text;  // as written (kAny, kString), or the canonical spelling of the value
  int64_t i = 0;     // kInt, kDuration, kTimestamp
  double d = 0;      // kDouble
  bool b = false;    // kBool
};

// One node of the tree. Which members mean something depends on `term`.
struct Node {
  enum class Term { kCall, kAttr, kField, kNested, kScalar, kList };
  Term term = Term::kCall;
  Op op = Op::kAnd;                         // kCall
  std::vector<Node> args;                   // kCall
  std::string key;                          // kAttr
  Level level = Level::kNone;               // kAttr, kField, kNested
  Field field = Field::kSpanName;           // kField
  Constant value;                           // kScalar
  std::vector<Constant> values;             // kList, read as `list_kind`
  Kind list_kind = Kind::kAny;              // kList
  std::shared_ptr<const re2::RE2> pattern;  // the compiled second argument of kRegex
};

// A finalized filter: checked, its constants resolved against the fields they are compared
// with, references on the left of every comparison, patterns compiled. Immutable; shared by
// the shards searching with it.
class Filter {
 public:
  const Node& root() const { return root_; }

  // Whether the span, exported under `resource_spans` and `scope_spans`, satisfies the filter.
  bool Matches(const opentelemetry::proto::trace::v1::ResourceSpans& resource_spans,
               const opentelemetry::proto::trace::v1::ScopeSpans& scope_spans,
               const opentelemetry::proto::trace::v1::Span& span) const;

  // A fingerprint of what the filter asks, for logs and tests: the tree in a compact prefix
  // form, e.g. `and(eq(attr:http.status_code,"500"),gt(span.duration,2000000000ns))`.
  std::string DebugString() const;
  // The same question asked in another order (operands of `and`/`or`, list values) gives the
  // same string; what a constant resolved to (a duration in ns, an instant in ns) is printed, not
  // how it was spelled. For fingerprints of queries.
  std::string CanonicalString() const;

 private:
  friend absl::StatusOr<std::shared_ptr<const Filter>> Finalize(Node root);
  explicit Filter(Node root) : root_(std::move(root)) {}
  Node root_;
};

// Limits on what one filter may hold, so that a hostile request costs bounded memory and time.
inline constexpr int kMaxDepth = 32;           // nested calls
inline constexpr int kMaxNodes = 1000;         // terms of all kinds
inline constexpr size_t kMaxTextBytes = 4096;  // one key, constant or list element
inline constexpr size_t kMaxPatternBytes = 1024;
inline constexpr int64_t kMaxPatternMemory = 1 << 20;  // RE2's compiled program, per pattern

// Errors: what is malformed is kInvalidArgument (HTTP 400), naming the part of the filter; what
// is well formed but not served here (the text-search operators `phrase` and `fulltext`, an
// attribute compared with a duration or instant field) is kUnimplemented (HTTP 501), as RFC 0005
// requires of a backend that cannot answer a predicate faithfully.

// The tree of a wire filter. Refuses only what the tree cannot hold (an argument with no term,
// a constant that is not the type it declares, an unknown level, operator or value type, a tree
// beyond the limits above).
absl::StatusOr<Node> Decode(const jaeger::expression::v1::Call& call);

// Checks a decoded tree (operators' arity and operand kinds, built-in field names, the binding
// rules of `some`, value kinds of comparisons, patterns), resolves constants against the fields
// they are compared with, puts references first (reversing ordered operators), compiles the
// patterns.
absl::StatusOr<std::shared_ptr<const Filter>> Finalize(Node root);

// Decode then Finalize.
absl::StatusOr<std::shared_ptr<const Filter>> FromProto(const jaeger::expression::v1::Call& call);

// Whether `pattern` (a compiled `regex` constant) accepts `text`: somewhere in it, RE2 syntax.
// The one rule for the evaluator and for indexes matching stored values.
bool PatternMatches(const re2::RE2& pattern, std::string_view text);

// An attribute every satisfying span has with a value `pattern` accepts (PatternMatches of the
// value's string form, storage/span_terms.h), at some level.
struct PatternHint {
  std::string key;
  std::shared_ptr<const re2::RE2> pattern;
};

// What a search index may assume of every span satisfying the filter: conditions implied by
// the conjunction at the filter's top (and inside a `some` there). All are optional; an empty
// result narrows nothing. Exact only in the "implied" direction: the index finds a superset,
// which Matches then decides.
struct IndexHints {
  std::string service;    // resource.service = this
  std::string operation;  // span.name = this (non-empty)
  int64_t duration_min_ns = 0;
  int64_t duration_max_ns = 0;  // 0 = unbounded
  // key=value terms every satisfying span has, in the string form the index hashes
  // (storage/span_terms.h): attribute equalities whose constant reads the same at every type
  // it could match, span.kind and span.status words.
  std::vector<std::pair<std::string, std::string>> terms;
  // Groups of terms of which every satisfying span has at least one: what an `or` whose every
  // branch implies a term, or an `in` over an attribute, implies.
  std::vector<std::vector<std::pair<std::string, std::string>>> any_terms;
  // Attribute patterns (`regex` over an attribute at the top, or inside a `some` there).
  std::vector<PatternHint> patterns;
  // The traces (32 lowercase hex digits) every satisfying span belongs to, when the filter
  // names them (span.traceID `eq`/`in` at its top, or an `or` whose every branch does); empty:
  // no such bound. A span search reads these traces instead of searching.
  std::vector<std::string> trace_ids;
};
IndexHints Narrow(const Filter& filter);

// What Skua serves, for jaeger.storage.v2.Capabilities: every level and operator of RFC 0005's
// initial set.
const std::vector<std::string>& SupportedLevels();
const std::vector<std::string>& SupportedOperators();

}  // namespace skua::filter
