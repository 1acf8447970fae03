// Parsing JSON that a client sent: without recursion (RapidJSON's iterative parser) and with a
// bound on nesting, so no input can exhaust the stack, and memory stays linear in the input: a
// DOM value takes 16 bytes and at least one byte of input, and while an array or object is open
// its values also sit on the parser's stack, so a document costs at most ~32 bytes per input
// byte (a few bytes per byte for OTLP/JSON as exporters write it).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace skua::common {

struct JsonError {
  size_t offset = 0;
  std::string what;  // e.g. "Missing a comma or ']' after an array element."
};

// Parses `text` into `doc`. Arrays and objects nested deeper than `max_depth` are an error.
// With `nan_and_inf`, NaN and Infinity literals are accepted (protobuf's JSON mapping).
std::optional<JsonError> ParseJson(std::string_view text, rapidjson::Document& doc, int max_depth,
                                   bool nan_and_inf = false);

}  // namespace skua::common
