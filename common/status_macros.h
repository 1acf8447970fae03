#pragma once

#include <fmt/format.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Returns the status from the enclosing function when `expr` is not OK.
#define SKUA_RETURN_IF_ERROR(expr)                        \
  do {                                                    \
    if (absl::Status _skua_st = (expr); !_skua_st.ok()) { \
      return _skua_st;                                    \
    }                                                     \
  } while (false)

namespace skua::common {
// absl::Status::message() as a std::string_view (Debian's Abseil has its own string_view type).
inline std::string_view Message(const absl::Status& st) {
  return {st.message().data(), st.message().size()};
}
}  // namespace skua::common

#if !defined(ABSL_USES_STD_STRING_VIEW)
// Lets fmt/spdlog format absl::string_view where it is not std::string_view.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(absl::string_view s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};
#endif
