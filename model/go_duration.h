// Go's duration syntax (time.ParseDuration), which Jaeger's APIs and Skua's configuration use:
// "300ms", "1.5h", "2h45m", "-1.5us"; units ns, us (or µs), ms, s, m, h.
#pragma once

#include <chrono>
#include <string_view>

#include "absl/status/statusor.h"

namespace skua::model {

// Go duration syntax ("1.5s", "100ms", "72h", "1m30s") -> nanoseconds.
absl::StatusOr<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);

}  // namespace skua::model
