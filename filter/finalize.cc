// Checking a decoded filter and resolving its constants (RFC 0005 §7, stages 2 and 3), and
// compiling its patterns.

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>

#include "common/status_macros.h"
#include "filter/filter.h"
#include "filter/vocabulary.h"
#include "model/go_duration.h"
#include "model/rfc3339.h"

namespace skua::filter {
namespace {

absl::Status Invalid(std::string message) {
  return absl::InvalidArgumentError("filter: " + std::move(message));
}
absl::Status Unsupported(std::string message) {
  return absl::UnimplementedError("filter: " + std::move(message) +
                                  " is not supported by this backend");
}

bool IsReference(const Node& n) {
  return n.term == Node::Term::kAttr || n.term == Node::Term::kField;
}

bool IsIdField(Field f) {
  return f == Field::kSpanTraceId || f == Field::kSpanSpanId || f == Field::kSpanParentSpanId ||
         f == Field::kLinkTraceId || f == Field::kLinkSpanId;
}

// The kind of value a term holds, for "can these two be compared at all" (RFC 0005 §5.3).
enum class Domain { kUnknown, kNumber, kDuration, kTimestamp, kText, kBool };

Domain DomainOf(const Node& n) {
  switch (n.term) {
    case Node::Term::kField:
      switch (TypeOf(n.field)) {
        case FieldType::kDuration:
          return Domain::kDuration;
        case FieldType::kTimestamp:
          return Domain::kTimestamp;
        default:
          return Domain::kText;
      }
    case Node::Term::kScalar:
      switch (n.value.kind) {
        case Kind::kInt:
        case Kind::kDouble:
          return Domain::kNumber;
        case Kind::kString:
          return Domain::kText;
        case Kind::kBool:
          return Domain::kBool;
        case Kind::kDuration:
          return Domain::kDuration;
        case Kind::kTimestamp:
          return Domain::kTimestamp;
        case Kind::kAny:
          return Domain::kUnknown;
      }
      return Domain::kUnknown;
    default:
      return Domain::kUnknown;
  }
}

std::string Describe(const Node& n) {
  switch (n.term) {
    case Node::Term::kField:
      return fmt::format("{}.{}", LevelName(n.level), FieldName(n.field));
    case Node::Term::kAttr:
      return "an attribute reference";
    case Node::Term::kNested:
      return "a collection reference";
    case Node::Term::kList:
      return "a list";
    case Node::Term::kCall:
      return "a predicate";
    case Node::Term::kScalar:
      switch (n.value.kind) {
        case Kind::kAny:
          return "an untyped constant";
        case Kind::kString:
          return "a string constant";
        case Kind::kInt:
          return "an integer constant";
        case Kind::kDouble:
          return "a floating-point constant";
        case Kind::kBool:
          return "a boolean constant";
        case Kind::kDuration:
          return "a duration constant";
        case Kind::kTimestamp:
          return "a timestamp constant";
      }
  }
  return "a term";
}

// Reads a constant's text as the type `field` holds.
absl::StatusOr<Constant> ReadAs(Field field, const Constant& c, std::string_view op) {
  auto refuse = [&](std::string_view why) {
    return Invalid(fmt::format("operator \"{}\": cannot compare {}.{} against \"{}\": {}", op,
                               LevelName(FieldLevel(field)), FieldName(field), Quoted(c.text),
                               why));
  };
  FieldType type = TypeOf(field);
  if (c.kind != Kind::kAny && c.kind != Kind::kString) {
    return Invalid(fmt::format(
        "operator \"{}\" compares {}.{} against a constant of type {}, which hold different "
        "kinds of value",
        op, LevelName(FieldLevel(field)), FieldName(field),
        c.kind == Kind::kInt      ? "int"
        : c.kind == Kind::kDouble ? "double"
                                  : "bool"));
  }
  Constant out;
  out.text = c.text;
  switch (type) {
    case FieldType::kString:
      out.kind = Kind::kString;
      if (IsIdField(field)) {
        std::transform(out.text.begin(), out.text.end(), out.text.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      }
      return out;
    case FieldType::kSpanKind:
      if (!IsSpanKindWord(c.text)) {
        return refuse("not one of unspecified, internal, server, client, producer, consumer");
      }
      out.kind = Kind::kString;
      return out;
    case FieldType::kSpanStatus:
      if (!IsSpanStatusWord(c.text)) return refuse("not one of unset, ok, error");
      out.kind = Kind::kString;
      return out;
    case FieldType::kDuration: {
      if (c.kind == Kind::kString) return refuse("a duration is not a string");
      auto d = model::ParseGoDuration(c.text);
      if (!d.ok()) return refuse(common::Message(d.status()));
      out.kind = Kind::kDuration;
      out.i = d->count();
      return out;
    }
    case FieldType::kTimestamp: {
      if (c.kind == Kind::kString) return refuse("an instant is not a string");
      auto t = model::ParseRfc3339Nanos(c.text);
      if (!t.ok()) return refuse(common::Message(t.status()));
      out.kind = Kind::kTimestamp;
      out.i = *t;
      return out;
    }
  }
  return out;
}

Op Reversed(Op op) {
  switch (op) {
    case Op::kGt:
      return Op::kLt;
    case Op::kLt:
      return Op::kGt;
    case Op::kGte:
      return Op::kLte;
    case Op::kLte:
      return Op::kGte;
    default:
      return op;
  }
}

// RFC 0005 §5.3: a pattern is RE2 syntax matched anywhere in the value, case-sensitively; the
// constructs the Jaeger backends do not share (anchors, word boundaries, lazy quantifiers, case
// folding) are refused so that no backend answers a different question.
absl::Status CheckPortable(std::string_view p) {
  auto refuse = [](std::string_view why) {
    return Invalid(fmt::format("operator \"regex\" {}", why));
  };
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    char next = i + 1 < p.size() ? p[i + 1] : '\0';
    if (c == '\\') {
      if (next == 'Q') {  // \Q…\E is literal text
        size_t end = p.find("\\E", i + 2);
        i = end == std::string_view::npos ? p.size() : end + 1;
        continue;
      }
      if (!in_class && (next == 'A' || next == 'z')) {
        return refuse("matches anywhere in the value, so a pattern cannot anchor itself");
      }
      if (!in_class && (next == 'b' || next == 'B')) {
        return refuse("takes a pattern without word boundaries");
      }
      ++i;
      continue;
    }
    if (in_class) {
      if (c == '[' && next == ':') {  // [:alpha:]
        size_t end = p.find(":]", i + 2);
        if (end != std::string_view::npos) i = end + 1;
      } else if (c == ']') {
        in_class = false;
      }
      continue;
    }
    switch (c) {
      case '[':
        in_class = true;
        if (next == '^') ++i;
        if (i + 1 < p.size() && p[i + 1] == ']') ++i;  // a leading ']' is literal
        break;
      case '^':
      case '$':
        return refuse("matches anywhere in the value, so a pattern cannot anchor itself");
      case '(':
        if (next == '?') {
          // Flags: (?flags) or (?flags:re); a named group (?P<name>re) has none.
          size_t j = i + 2;
          bool clearing = false;
          for (; j < p.size() && p[j] != ')' && p[j] != ':' && p[j] != 'P'; ++j) {
            if (p[j] == '-') clearing = true;
            if (!clearing && p[j] == 'i') {
              return refuse("matches case-sensitively, so a pattern cannot fold case");
            }
            if (!clearing && p[j] == 'U') {
              return refuse("asks whether the value matches, so a quantifier cannot be lazy");
            }
          }
          i = j - 1;
        }
        break;
      case '*':
      case '+':
      case '?':
      case '}':
        if (next == '?') {
          return refuse("asks whether the value matches, so a quantifier cannot be lazy");
        }
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const re2::RE2>> Compile(const std::string& pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return Invalid(
        fmt::format("operator \"regex\" takes a pattern of at most {} bytes", kMaxPatternBytes));
  }
  SKUA_RETURN_IF_ERROR(CheckPortable(pattern));
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxPatternMemory);
  auto re = std::make_shared<const re2::RE2>(pattern, options);
  if (!re->ok()) {
    return Invalid(
        fmt::format("operator \"regex\" takes a pattern in RE2 syntax: {}", re->error()));
  }
  return re;
}

class Finalizer {
 public:
  absl::Status Call(Node& n, std::vector<Level>& quantified) {
    if (n.term != Node::Term::kCall) {
      return Invalid(fmt::format("a filter is a predicate, got {}", Describe(n)));
    }
    std::string_view op = OpName(n.op);
    auto want = [&](size_t count) -> absl::Status {
      if (n.args.size() == count) return absl::OkStatus();
      return Invalid(
          fmt::format("operator \"{}\" takes {} argument(s), got {}", op, count, n.args.size()));
    };
    switch (n.op) {
      case Op::kAnd:
      case Op::kOr:
        if (n.args.size() < 2) {
          return Invalid(fmt::format("operator \"{}\" takes at least two arguments, got {}", op,
                                     n.args.size()));
        }
        return Predicates(n, quantified);
      case Op::kNot:
        SKUA_RETURN_IF_ERROR(want(1));
        return Predicates(n, quantified);
      case Op::kExists:
        SKUA_RETURN_IF_ERROR(want(1));
        return Reference(n.args[0], op);
      case Op::kSome: {
        SKUA_RETURN_IF_ERROR(want(2));
        const Node& collection = n.args[0];
        if (collection.term != Node::Term::kNested) {
          return Invalid(fmt::format(
              "operator \"some\" takes a collection reference as its first argument, got {}",
              Describe(collection)));
        }
        if (collection.level != Level::kEvent && collection.level != Level::kLink) {
          return Invalid(fmt::format(
              "operator \"some\" quantifies over \"event\" or \"link\", got level \"{}\"",
              LevelName(collection.level)));
        }
        if (std::find(quantified.begin(), quantified.end(), collection.level) != quantified.end()) {
          return Invalid(fmt::format(
              "operator \"some\" is already quantifying over \"{}\", and a nested one over the "
              "same level has no defined binding",
              LevelName(collection.level)));
        }
        if (n.args[1].term != Node::Term::kCall) {
          return Invalid(
              fmt::format("operator \"some\" takes a predicate as its second argument, got {}",
                          Describe(n.args[1])));
        }
        quantified.push_back(collection.level);
        absl::Status st = Call(n.args[1], quantified);
        quantified.pop_back();
        return st;
      }
      case Op::kIn:
      case Op::kNotIn:
        SKUA_RETURN_IF_ERROR(want(2));
        return Membership(n, op);
      case Op::kRegex:
        SKUA_RETURN_IF_ERROR(want(2));
        return Regex(n);
      case Op::kEq:
      case Op::kNe:
      case Op::kGt:
      case Op::kLt:
      case Op::kGte:
      case Op::kLte:
        SKUA_RETURN_IF_ERROR(want(2));
        return Comparison(n);
    }
    return Invalid("unknown operator");
  }

 private:
  absl::Status Predicates(Node& n, std::vector<Level>& quantified) {
    for (Node& arg : n.args) {
      if (arg.term != Node::Term::kCall) {
        return Invalid(fmt::format("operator \"{}\" takes predicates as arguments, got {}",
                                   OpName(n.op), Describe(arg)));
      }
      SKUA_RETURN_IF_ERROR(Call(arg, quantified));
    }
    return absl::OkStatus();
  }

  static absl::Status Reference(const Node& n, std::string_view op) {
    if (n.term == Node::Term::kNested) {
      return Invalid("a collection reference is only the first argument of \"some\"");
    }
    if (!IsReference(n)) {
      return Invalid(fmt::format("operator \"{}\" takes a reference, got {}", op, Describe(n)));
    }
    if (n.term == Node::Term::kAttr && n.key.empty()) {
      return Invalid("attribute reference has no key");
    }
    return absl::OkStatus();
  }

  static absl::Status Operand(const Node& n, std::string_view op) {
    if (n.term == Node::Term::kScalar) return absl::OkStatus();
    if (n.term == Node::Term::kAttr || n.term == Node::Term::kField) return Reference(n, op);
    if (n.term == Node::Term::kNested) return Reference(n, op);
    return Invalid(
        fmt::format("operator \"{}\" compares a reference or a constant, got {}", op, Describe(n)));
  }

  absl::Status Membership(Node& n, std::string_view op) {
    SKUA_RETURN_IF_ERROR(Reference(n.args[0], op));
    Node& list = n.args[1];
    if (list.term != Node::Term::kList) {
      return Invalid(fmt::format("operator \"{}\" takes a list as its second argument, got {}", op,
                                 Describe(list)));
    }
    if (list.values.empty()) {
      return Invalid(fmt::format("operator \"{}\" takes a list with at least one element", op));
    }
    if (n.args[0].term == Node::Term::kField) {
      for (Constant& c : list.values) {
        SKUA_ASSIGN_OR_RETURN(c, ReadAs(n.args[0].field, c, op));
      }
      list.list_kind = list.values.front().kind;
    }
    return absl::OkStatus();
  }

  absl::Status Regex(Node& n) {
    SKUA_RETURN_IF_ERROR(Reference(n.args[0], "regex"));
    if (n.args[0].term == Node::Term::kField) {
      FieldType type = TypeOf(n.args[0].field);
      if (type == FieldType::kDuration || type == FieldType::kTimestamp) {
        return Invalid(fmt::format("operator \"regex\" matches text, and {} holds a {}",
                                   Describe(n.args[0]),
                                   type == FieldType::kDuration ? "duration" : "timestamp"));
      }
    }
    const Node& pattern = n.args[1];
    if (pattern.term != Node::Term::kScalar ||
        (pattern.value.kind != Kind::kAny && pattern.value.kind != Kind::kString)) {
      return Invalid(fmt::format(
          "operator \"regex\" takes a constant string as its pattern, got {}", Describe(pattern)));
    }
    SKUA_ASSIGN_OR_RETURN(n.pattern, Compile(pattern.value.text));
    return absl::OkStatus();
  }

  absl::Status Comparison(Node& n) {
    std::string_view op = OpName(n.op);
    SKUA_RETURN_IF_ERROR(Operand(n.args[0], op));
    SKUA_RETURN_IF_ERROR(Operand(n.args[1], op));
    if (!IsReference(n.args[0]) && IsReference(n.args[1])) {
      std::swap(n.args[0], n.args[1]);
      n.op = Reversed(n.op);
    }
    Node& left = n.args[0];
    Node& right = n.args[1];
    if (!IsReference(left)) return Unsupported("comparing two constants");
    if (left.term == Node::Term::kField && right.term == Node::Term::kScalar) {
      SKUA_ASSIGN_OR_RETURN(right.value, ReadAs(left.field, right.value, op));
    }
    Domain a = DomainOf(left);
    Domain b = DomainOf(right);
    if (a != Domain::kUnknown && b != Domain::kUnknown && a != b) {
      return Invalid(
          fmt::format("operator \"{}\" compares {} against {}, which hold different kinds of value",
                      op, Describe(left), Describe(right)));
    }
    // An attribute's stored value has no unit or epoch this API could read it in.
    for (const auto& [x, y] : {std::pair(&left, &right), std::pair(&right, &left)}) {
      Domain d = DomainOf(*y);
      if (x->term == Node::Term::kAttr && (d == Domain::kDuration || d == Domain::kTimestamp)) {
        return Unsupported(fmt::format("comparing an attribute with {}", Describe(*y)));
      }
    }
    bool ordered = n.op != Op::kEq && n.op != Op::kNe;
    if (ordered) {
      for (const Node* x : {&left, &right}) {
        bool words = x->term == Node::Term::kField && (TypeOf(x->field) == FieldType::kSpanKind ||
                                                       TypeOf(x->field) == FieldType::kSpanStatus);
        if (words || DomainOf(*x) == Domain::kBool) {
          return Invalid(fmt::format("operator \"{}\" has no ordering for {}", op, Describe(*x)));
        }
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::shared_ptr<const Filter>> Finalize(Node root) {
  std::vector<Level> quantified;
  SKUA_RETURN_IF_ERROR(Finalizer().Call(root, quantified));
  return std::shared_ptr<const Filter>(new Filter(std::move(root)));
}

}  // namespace skua::filter
