// Helpers of the JSON writers (the query APIs' answers, OTLP/JSON): RapidJSON's writer, strings
// written as valid UTF-8 whatever they hold, base64, Jaeger's pretty printing.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/utf8.h"

namespace skua::common {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Calls write(data, size, copy) with `s`, or with `s` made valid UTF-8 (invalid bytes become
// U+FFFD) when it is not, so an answer is valid JSON even for data stored before the storage
// rules refused such strings.
template <typename Write>
void WithValidUtf8(std::string_view s, Write write) {
  if (IsValidUtf8(s)) return write(s.data(), static_cast<rapidjson::SizeType>(s.size()), false);
  std::string fixed = ToValidUtf8(s);
  write(fixed.data(), static_cast<rapidjson::SizeType>(fixed.size()), true);
}

inline void WriteString(JsonWriter& w, std::string_view s) {
  WithValidUtf8(s, [&w](const char* d, rapidjson::SizeType n, bool copy) { w.String(d, n, copy); });
}

inline void WriteKey(JsonWriter& w, std::string_view s) {
  WithValidUtf8(s, [&w](const char* d, rapidjson::SizeType n, bool copy) { w.Key(d, n, copy); });
}

// Standard base64 with padding.
std::string Base64Encode(std::string_view raw);

// Decodes standard or URL-safe base64, with or without padding; nullopt if malformed (mixed
// alphabets included).
std::optional<std::string> Base64Decode(std::string_view encoded);

// Re-indents compact JSON with 4 spaces (Jaeger's prettyPrint).
std::string PrettyPrint(const std::string& compact);

}  // namespace skua::common
