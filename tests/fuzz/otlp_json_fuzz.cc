// OTLP/JSON bodies: the decoder never crashes, never recurses without bound, and whatever it
// accepts and the storage rules accept, protobuf can encode and read back (what the stored
// span's readers rely on).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/otlp_json.h"
#include "storage/storable.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
  ExportTraceServiceRequest request;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!skua::model::DecodeOtlpJson(text, request).ok()) return 0;
  if (!skua::storage::CheckStorable(request.resource_spans()).ok()) return 0;
  std::string wire;
  if (!request.SerializeToString(&wire)) __builtin_trap();
  ExportTraceServiceRequest back;
  if (!back.ParseFromString(wire)) __builtin_trap();
  return 0;
}
