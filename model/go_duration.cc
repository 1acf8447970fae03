// Go's time.ParseDuration syntax.

#include "model/go_duration.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <string>

namespace skua::model {

absl::StatusOr<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  std::string_view s = text;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty())
    return absl::InvalidArgumentError(fmt::format("time: invalid duration \"{}\"", text));
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0)
      return absl::InvalidArgumentError(fmt::format("time: invalid duration \"{}\"", text));
    std::string num(s.substr(0, i));
    if (num == ".")
      return absl::InvalidArgumentError(fmt::format("time: invalid duration \"{}\"", text));
    long double value = std::strtold(num.c_str(), nullptr);
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j])) && s[j] != '.') ++j;
    std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    long double mult = 0;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else if (unit.empty())
      return absl::InvalidArgumentError(fmt::format("time: missing unit in duration \"{}\"", text));
    else
      return absl::InvalidArgumentError(
          fmt::format("time: unknown unit \"{}\" in duration \"{}\"", unit, text));
    total += value * mult;
  }
  if (total > 9.2e18L)
    return absl::InvalidArgumentError(fmt::format("time: invalid duration \"{}\"", text));
  auto ns = static_cast<int64_t>(total);
  return std::chrono::nanoseconds(neg ? -ns : ns);
}

}  // namespace skua::model
