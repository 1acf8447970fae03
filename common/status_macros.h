#pragma once

#include <fmt/format.h>

#include <string_view>
#include <utility>

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

// Evaluates `expr` (an absl::StatusOr<T>); returns its status from the enclosing function when
// not OK, else moves its value into `lhs` (a declaration such as `auto x`, or an lvalue).
#define SKUA_ASSIGN_OR_RETURN(lhs, expr) \
  SKUA_ASSIGN_OR_RETURN_IMPL(SKUA_STATUS_CONCAT(_skua_or_, __LINE__), lhs, expr)
#define SKUA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(*tmp)
#define SKUA_STATUS_CONCAT(a, b) SKUA_STATUS_CONCAT_IMPL(a, b)
#define SKUA_STATUS_CONCAT_IMPL(a, b) a##b

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
