// The closed vocabularies of the filter (levels, operators, built-in fields, value types) and
// their wire names; internal to filter/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "filter/filter.h"

namespace skua::filter {

// The type a built-in field holds, which is what a constant compared with it is read as.
enum class FieldType { kString, kDuration, kTimestamp, kSpanKind, kSpanStatus };

std::optional<Level> LevelNamed(std::string_view name);  // "" is kNone
std::string_view LevelName(Level level);                 // kNone is ""
std::optional<Op> OpNamed(std::string_view name);
std::string_view OpName(Op op);
// `phrase` and `fulltext`: RFC 0005 operators this backend does not serve.
bool IsTextSearchOp(std::string_view name);
std::optional<Field> FieldNamed(Level level, std::string_view name);
std::string_view FieldName(Field field);
Level FieldLevel(Field field);
FieldType TypeOf(Field field);
std::optional<Kind> KindNamed(std::string_view type);  // "" is kAny

// The words span.kind and span.status hold (RFC 0005: lower case, OTLP's order).
bool IsSpanKindWord(std::string_view word);
bool IsSpanStatusWord(std::string_view word);

// A finite number in decimal or exponent notation (as JSON and Go's ParseFloat read it);
// nullopt otherwise.
std::optional<double> ParseNumber(std::string_view text);
// A whole number in int64 range, decimal digits with an optional leading minus.
std::optional<int64_t> ParseInteger(std::string_view text);

// Caller text for an error message: at most 100 characters, then "…".
std::string Quoted(std::string_view text);

}  // namespace skua::filter
