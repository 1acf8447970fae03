// Walking protobuf encodings without decoding them, for storage's value formats. Internal to
// storage/.
#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstddef>
#include <optional>
#include <string_view>

#include "storage/keys.h"

namespace skua::storage {

// Calls fn(field_number, begin, end) for each top-level field of a message encoding, in order,
// until fn returns false; stops at the first malformed field.
template <typename Fn>
void ForEachField(std::string_view bytes, Fn fn) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  for (;;) {
    int begin = in.CurrentPosition();
    uint32_t tag = in.ReadTag();
    if (tag == 0 || !WireFormatLite::SkipField(&in, tag)) return;
    if (!fn(static_cast<int>(WireFormatLite::GetTagFieldNumber(tag)), static_cast<size_t>(begin),
            static_cast<size_t>(in.CurrentPosition()))) {
      return;
    }
  }
}

// The payload of the first length-delimited field `field` of a message encoding, or nullopt.
inline std::optional<std::string_view> FindBytesField(std::string_view message, int field) {
  std::optional<std::string_view> found;
  ForEachField(message, [&](int number, size_t begin, size_t end) {
    if (number != field) return true;
    std::string_view f = message.substr(begin, end - begin);
    auto tag = ReadVarint(f);
    if (!tag || (*tag & 7) != 2) return true;
    if (ReadVarint(f)) found = f;  // after the tag and the length, the payload is what is left
    return false;
  });
  return found;
}

}  // namespace skua::storage
