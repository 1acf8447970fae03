// Facts both families of Jaeger's query adjusters share (jaeger_model.cc for the span model,
// otlp_adjust.cc for OTLP): the attribute holding warnings, the attributes that belong to the
// SDK rather than the span, and the IP attributes Jaeger rewrites as dotted quads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/values.h"

namespace skua::query {

// The span attribute Jaeger keeps its warnings in (a list of strings).
using skua::model::kWarningsAttribute;

// OpenTelemetry SDK and distro attributes, which Jaeger moves from spans to their resource.
inline bool IsLibraryKey(std::string_view key) {
  return key == "telemetry.sdk.language" || key == "telemetry.sdk.name" ||
         key == "telemetry.sdk.version" || key == "telemetry.distro.name" ||
         key == "telemetry.distro.version";
}

// The dotted quad Jaeger shows for an IP attribute ("ip", "peer.ipv4") held as a number, or
// nullopt for any other key.
inline std::optional<std::string> IpAsDottedQuad(std::string_view key, uint32_t v) {
  if (key != "ip" && key != "peer.ipv4") return std::nullopt;
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." +
         std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}

// An IP held as a double, as Go converts it (in range only).
inline std::optional<uint32_t> IpOfDouble(double d) {
  if (!(d >= 0 && d < 4294967296.0)) return std::nullopt;
  return static_cast<uint32_t>(d);
}

// Big-endian bytes (an 8-byte span ID, or part of a trace ID) as a number.
inline uint64_t IdValue(std::string_view raw) {
  uint64_t v = 0;
  for (char c : raw) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

}  // namespace skua::query
