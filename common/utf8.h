// UTF-8 validity as protobuf defines it for proto3 `string` fields: well-formed sequences only, no
// overlong forms, no surrogates (U+D800..U+DFFF), nothing past U+10FFFF.
#pragma once

#include <string_view>

namespace skua::common {

bool IsValidUtf8(std::string_view s);

}  // namespace skua::common
