// Small helpers shared by the JSON renderers of query/.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace skua::query {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

inline void WriteKey(JsonWriter& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Standard base64 with padding.
std::string Base64Encode(std::string_view raw);

// Re-indents compact JSON with 4 spaces (Jaeger's prettyPrint).
std::string PrettyPrint(const std::string& compact);

}  // namespace skua::query
