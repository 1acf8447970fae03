// Bounded inflation of gzip and zlib ("deflate") data, shared by the OTLP receivers: a
// compressed body can expand a thousandfold, so output is checked while it grows, never after.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace skua::collector {

// Inflates `in` (gzip if `gzip`, else zlib). `may_grow(n)` is asked before the output grows to
// n bytes (64 KiB steps); it may refuse. Errors: kResourceExhausted past `limit` output bytes,
// kAborted when may_grow refuses, kInvalidArgument for corrupt or truncated data.
absl::StatusOr<std::string> Inflate(std::string_view in, size_t limit, bool gzip,
                                    const std::function<bool(size_t)>& may_grow = nullptr);

// True if `data` starts with the gzip magic bytes. A protobuf message never does (0x1f would be
// field 3 with the undefined wire type 7).
inline bool LooksGzipped(std::string_view data) {
  return data.size() >= 2 && data[0] == '\x1f' && data[1] == '\x8b';
}

}  // namespace skua::collector
