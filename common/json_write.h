// Helpers of the JSON writers (the query APIs' answers, OTLP/JSON): RapidJSON's writer, strings
// written as valid UTF-8 whatever they hold, base64, Jaeger's pretty printing.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "common/utf8.h"

namespace skua::common {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Strings are written as valid UTF-8 whatever they hold (invalid bytes become U+FFFD), so an
// answer is valid JSON even for data stored before the storage rules refused such strings.
inline void WriteString(JsonWriter& w, std::string_view s) {
  if (!IsValidUtf8(s)) {
    std::string fixed = ToValidUtf8(s);
    w.String(fixed.data(), static_cast<rapidjson::SizeType>(fixed.size()), true);
    return;
  }
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

inline void WriteKey(JsonWriter& w, std::string_view s) {
  if (!IsValidUtf8(s)) {
    std::string fixed = ToValidUtf8(s);
    w.Key(fixed.data(), static_cast<rapidjson::SizeType>(fixed.size()), true);
    return;
  }
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Standard base64 with padding.
std::string Base64Encode(std::string_view raw);

// Re-indents compact JSON with 4 spaces (Jaeger's prettyPrint).
std::string PrettyPrint(const std::string& compact);

}  // namespace skua::common
