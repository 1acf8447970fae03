// Trace and span identifiers: fixed-size byte arrays, parsed and formatted the way Jaeger and
// OTLP do it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skua::common {

// A 128-bit trace ID, big-endian (OTLP byte order). A 64-bit ID occupies the low 8 bytes.
struct TraceId {
  std::array<uint8_t, 16> bytes{};

  // False for the all-zero ID, which OTLP declares invalid.
  bool IsValid() const;
  uint64_t High() const;
  uint64_t Low() const;
  std::string_view AsBytes() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  friend bool operator==(const TraceId&, const TraceId&) = default;
  friend auto operator<=>(const TraceId&, const TraceId&) = default;

  // From raw bytes: exactly 16, or 8 (a 64-bit ID, high half zero). Anything else: nullopt.
  static std::optional<TraceId> FromBytes(std::string_view raw);
};

// For unordered containers. Trace IDs are random, so mixing the halves is enough.
struct TraceIdHash {
  size_t operator()(const TraceId& id) const {
    return static_cast<size_t>(id.High() * 0x9E3779B97F4A7C15ULL ^ id.Low());
  }
};

struct SpanId {
  std::array<uint8_t, 8> bytes{};
  bool IsValid() const;
  std::string_view AsBytes() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  friend bool operator==(const SpanId&, const SpanId&) = default;

  // Exactly 8 bytes, else nullopt.
  static std::optional<SpanId> FromBytes(std::string_view raw);
};

// Lowercase hex of arbitrary bytes.
std::string HexEncode(std::string_view raw);
// Case-insensitive hex of even length into raw bytes; nullopt on any non-hex character.
std::optional<std::string> HexDecode(std::string_view hex);

// 32 hex digits, always (OTLP JSON, Jaeger api_v3).
std::string FormatTraceId32(const TraceId& id);
// Jaeger v1 form: 16 hex digits when the high 64 bits are zero, else 32.
std::string FormatTraceIdJaeger(const TraceId& id);

// Jaeger's hex rule for trace IDs in query parameters: 1..32 hex digits, case-insensitive, a
// shorter string is left-padded with zeros ("abc" == "0000…0abc").
std::optional<TraceId> ParseTraceIdHex(std::string_view s);

// Why ParseTraceIdHex refused `s`, in the words of Jaeger's own parser (Jaeger v1.76's
// model.TraceIDFromString, used by its v1 and api_v3 HTTP handlers alike): more than 32
// characters are "TraceID cannot be longer than 32 hex characters: <s>"; otherwise the half
// (the high digits beyond 16, or the low 16) that is not hex is named as Go's strconv names it,
// `strconv.ParseUint: parsing "<half>": invalid syntax`. Empty if `s` parses.
std::string TraceIdHexError(std::string_view s);

}  // namespace skua::common
