// Parsing JSON that a client sent: without recursion (RapidJSON's iterative parser), with a bound
// on nesting (no input can exhaust the stack) and optionally on the number of values, which
// bounds memory: a DOM value (an object key too) takes 16 bytes, and while its array or object
// is open it also sits on the parser's stack, so N values cost at most 32 N bytes besides the
// strings' text.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skua::common {

struct JsonError {
  size_t offset = 0;
  std::string what;  // e.g. "Missing a comma or ']' after an array element."
};

// Parses `text` into `doc`. Arrays and objects nested deeper than `max_depth`, and more than
// `max_values` values (object keys included), are errors. With `nan_and_inf`, NaN and Infinity
// literals are accepted (protobuf's JSON mapping).
std::optional<JsonError> ParseJson(std::string_view text, rapidjson::Document& doc, int max_depth,
                                   bool nan_and_inf = false, uint64_t max_values = UINT64_MAX);

}  // namespace skua::common
