// UTF-8 validity as protobuf defines it for proto3 `string` fields: well-formed sequences only, no
// overlong forms, no surrogates (U+D800..U+DFFF), nothing past U+10FFFF.
#pragma once

#include <string>
#include <string_view>

namespace skua::common {

bool IsValidUtf8(std::string_view s);

// `s` with every byte that is not part of a well-formed sequence replaced by U+FFFD (what Go's
// encoding/json writes, so Jaeger's clients see the same).
std::string ToValidUtf8(std::string_view s);

}  // namespace skua::common
