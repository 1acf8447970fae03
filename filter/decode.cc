// From the wire form (jaeger.expression.v1) to the tree: only what the tree cannot hold is
// refused here; what the tree means is Finalize's to check.

#include <fmt/format.h>

#include "common/status_macros.h"
#include "filter/filter.h"
#include "filter/vocabulary.h"

namespace skua::filter {
namespace {

namespace wire = ::jaeger::expression::v1;

absl::Status Invalid(std::string message) {
  return absl::InvalidArgumentError("filter: " + std::move(message));
}

class Decoder {
 public:
  absl::StatusOr<Node> Call(const wire::Call& call, int depth) {
    if (depth > kMaxDepth) {
      return Invalid(fmt::format("calls nest deeper than {} levels", kMaxDepth));
    }
    SKUA_RETURN_IF_ERROR(Count());
    Node node;
    node.term = Node::Term::kCall;
    auto op = OpNamed(call.op());
    if (!op) {
      if (IsTextSearchOp(call.op())) {
        return absl::UnimplementedError(fmt::format(
            "filter: operator \"{}\" (text search) is not supported by this backend", call.op()));
      }
      return Invalid(fmt::format("unknown filter operator \"{}\"", Quoted(call.op())));
    }
    node.op = *op;
    for (const auto& arg : call.args()) {
      auto decoded = Expression(arg, depth);
      if (!decoded.ok()) return decoded.status();
      node.args.push_back(std::move(*decoded));
    }
    return node;
  }

 private:
  absl::StatusOr<Node> Expression(const wire::Expression& e, int depth) {
    Node node;
    switch (e.term_case()) {
      case wire::Expression::kCall:
        return Call(e.call(), depth + 1);
      case wire::Expression::kAttr: {
        SKUA_RETURN_IF_ERROR(Count());
        node.term = Node::Term::kAttr;
        SKUA_RETURN_IF_ERROR(Text(e.attr().key(), "an attribute key"));
        node.key = e.attr().key();
        auto level = LevelNamed(e.attr().level());
        if (!level) return UnknownLevel(e.attr().level());
        node.level = *level;
        return node;
      }
      case wire::Expression::kField: {
        SKUA_RETURN_IF_ERROR(Count());
        node.term = Node::Term::kField;
        auto level = LevelNamed(e.field().level());
        if (!level) return UnknownLevel(e.field().level());
        if (*level == Level::kNone) {
          return Invalid("field reference has no level, and a built-in field belongs to one");
        }
        if (e.field().name().empty()) return Invalid("field reference has no name");
        auto field = FieldNamed(*level, e.field().name());
        if (!field) {
          return Invalid(fmt::format(
              "unknown built-in field \"{}\" at the \"{}\" level; name an attribute to match a "
              "tag of that name instead",
              Quoted(e.field().name()), e.field().level()));
        }
        node.level = *level;
        node.field = *field;
        return node;
      }
      case wire::Expression::kNested: {
        SKUA_RETURN_IF_ERROR(Count());
        node.term = Node::Term::kNested;
        auto level = LevelNamed(e.nested().level());
        if (!level) return UnknownLevel(e.nested().level());
        node.level = *level;
        return node;
      }
      case wire::Expression::kScalar: {
        SKUA_RETURN_IF_ERROR(Count());
        node.term = Node::Term::kScalar;
        auto kind = KindNamed(e.scalar().type());
        if (!kind) return UnknownType(e.scalar().type());
        auto value = Typed(*kind, e.scalar().value());
        if (!value.ok()) return value.status();
        node.value = std::move(*value);
        return node;
      }
      case wire::Expression::kList: {
        SKUA_RETURN_IF_ERROR(Count());
        node.term = Node::Term::kList;
        auto kind = KindNamed(e.list().type());
        if (!kind) return UnknownType(e.list().type());
        node.list_kind = *kind;
        for (const auto& v : e.list().values()) {
          SKUA_RETURN_IF_ERROR(Count());
          auto value = Typed(*kind, v);
          if (!value.ok()) return value.status();
          node.values.push_back(std::move(*value));
        }
        return node;
      }
      case wire::Expression::TERM_NOT_SET:
        break;
    }
    return Invalid("an argument has no term (attr, field, nested, scalar, list or call)");
  }

  // A constant as the type it declares; one that is not that type has no node to become.
  absl::StatusOr<Constant> Typed(Kind kind, const std::string& text) {
    SKUA_RETURN_IF_ERROR(Text(text, "a constant"));
    Constant c;
    c.kind = kind;
    c.text = text;
    switch (kind) {
      case Kind::kInt: {
        auto i = ParseInteger(text);
        if (!i) {
          return Invalid(
              fmt::format("constant \"{}\" declares type int and is not one", Quoted(text)));
        }
        c.i = *i;
        c.text = std::to_string(c.i);
        return c;
      }
      case Kind::kDouble: {
        auto d = ParseNumber(text);
        if (!d) {
          return Invalid(
              fmt::format("constant \"{}\" declares type double and is not one", Quoted(text)));
        }
        c.d = *d;
        return c;
      }
      case Kind::kBool:
        if (text != "true" && text != "false") {
          return Invalid(fmt::format(
              "constant \"{}\" declares type bool and is not one (true or false)", Quoted(text)));
        }
        c.b = text == "true";
        return c;
      default:
        return c;
    }
  }

  absl::Status Count() {
    if (++nodes_ > kMaxNodes) {
      return Invalid(fmt::format("more than {} terms", kMaxNodes));
    }
    return absl::OkStatus();
  }

  static absl::Status Text(const std::string& text, std::string_view what) {
    if (text.size() > kMaxTextBytes) {
      return Invalid(fmt::format("{} is longer than {} bytes", what, kMaxTextBytes));
    }
    return absl::OkStatus();
  }

  static absl::Status UnknownLevel(const std::string& level) {
    return Invalid(fmt::format("unknown filter level \"{}\"", Quoted(level)));
  }
  static absl::Status UnknownType(const std::string& type) {
    return Invalid(fmt::format("unknown filter value type \"{}\"", Quoted(type)));
  }

  int nodes_ = 0;
};

}  // namespace

absl::StatusOr<Node> Decode(const wire::Call& call) { return Decoder().Call(call, 1); }

absl::StatusOr<std::shared_ptr<const Filter>> FromProto(const wire::Call& call) {
  auto root = Decode(call);
  if (!root.ok()) return root.status();
  return Finalize(std::move(*root));
}

}  // namespace skua::filter
