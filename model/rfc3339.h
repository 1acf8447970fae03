// RFC 3339 timestamps as Jaeger's APIs take them (Go's time.RFC3339Nano layout).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace skua::model {

// RFC 3339 with optional fraction and offset -> ns since the epoch. Times that 64-bit
// nanoseconds cannot hold (before 1678 or after 2262) are refused. The error text is Go's
// (`parsing time "x" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse`).
absl::StatusOr<int64_t> ParseRfc3339Nanos(const std::string& v);

}  // namespace skua::model
