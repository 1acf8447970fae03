// Trace and span IDs: parsing and formatting in Jaeger's and OTLP's forms.

#include "common/ids.h"

#include <algorithm>

#include "common/json_write.h"

namespace skua::common {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint64_t LoadBigEndian(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

bool TraceId::IsValid() const {
  return std::any_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b != 0; });
}
uint64_t TraceId::High() const { return LoadBigEndian(bytes.data()); }
uint64_t TraceId::Low() const { return LoadBigEndian(bytes.data() + 8); }

std::optional<TraceId> TraceId::FromBytes(std::string_view raw) {
  if (raw.size() != 16 && raw.size() != 8) return std::nullopt;
  TraceId id;
  std::copy(raw.begin(), raw.end(), id.bytes.begin() + (16 - raw.size()));
  return id;
}

bool SpanId::IsValid() const {
  return std::any_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b != 0; });
}

std::optional<SpanId> SpanId::FromBytes(std::string_view raw) {
  if (raw.size() != 8) return std::nullopt;
  SpanId id;
  std::copy(raw.begin(), raw.end(), id.bytes.begin());
  return id;
}

std::string HexEncode(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(raw.size() * 2, '0');
  for (size_t i = 0; i < raw.size(); ++i) {
    auto b = static_cast<uint8_t>(raw[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xF];
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::string FormatTraceId32(const TraceId& id) { return HexEncode(id.AsBytes()); }

std::string FormatTraceIdJaeger(const TraceId& id) {
  if (id.High() == 0) return HexEncode(id.AsBytes().substr(8));
  return FormatTraceId32(id);
}

std::optional<TraceId> ParseTraceIdHex(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  TraceId id;
  // Walk from the last digit backwards, filling bytes from the right.
  for (size_t i = 0; i < s.size(); ++i) {
    int v = HexValue(s[s.size() - 1 - i]);
    if (v < 0) return std::nullopt;
    uint8_t& b = id.bytes[15 - i / 2];
    b |= static_cast<uint8_t>(i % 2 == 0 ? v : v << 4);
  }
  return id;
}

std::string TraceIdHexError(std::string_view s) {
  if (s.size() > 32) {
    return "TraceID cannot be longer than 32 hex characters: " + std::string(s);
  }
  auto refusal = [](std::string_view part) -> std::string {
    bool hex = !part.empty() &&
               std::all_of(part.begin(), part.end(), [](char c) { return HexValue(c) >= 0; });
    if (hex) return "";
    return "strconv.ParseUint: parsing \"" + std::string(part) + "\": invalid syntax";
  };
  if (s.size() <= 16) return refusal(s);
  // Jaeger parses the high digits first, so a refusal there is the one it reports.
  std::string high = refusal(s.substr(0, s.size() - 16));
  return high.empty() ? refusal(s.substr(s.size() - 16)) : high;
}

}  // namespace skua::common
