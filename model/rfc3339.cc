// RFC 3339 timestamps, parsed with Go's error texts.

#include "model/rfc3339.h"

#include <fmt/format.h>

#include <limits>

namespace skua::model {
namespace {

absl::Status Err(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

absl::StatusOr<int64_t> ParseRfc3339Nanos(const std::string& v) {
  auto fail = [&] {
    return Err(fmt::format(
        "parsing time \"{}\" as \"2006-01-02T15:04:05.999999999Z07:00\": cannot parse", v));
  };
  auto num = [&](size_t at, size_t n, int& out) {
    if (at + n > v.size()) return false;
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (v[i] < '0' || v[i] > '9') return false;
      out = out * 10 + (v[i] - '0');
    }
    return true;
  };
  int Y, M, D, h, m, s;
  if (v.size() < 20 || !num(0, 4, Y) || v[4] != '-' || !num(5, 2, M) || v[7] != '-' ||
      !num(8, 2, D) || (v[10] != 'T' && v[10] != 't') || !num(11, 2, h) || v[13] != ':' ||
      !num(14, 2, m) || v[16] != ':' || !num(17, 2, s)) {
    return fail();
  }
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60) return fail();
  size_t i = 19;
  int64_t frac = 0;
  if (i < v.size() && v[i] == '.') {
    size_t j = i + 1;
    int digits = 0;
    while (j < v.size() && v[j] >= '0' && v[j] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (v[j] - '0');
        ++digits;
      }
      ++j;
    }
    if (j == i + 1) return fail();
    for (; digits < 9; ++digits) frac *= 10;
    i = j;
  }
  int64_t offset = 0;
  if (i < v.size() && (v[i] == 'Z' || v[i] == 'z') && i + 1 == v.size()) {
    offset = 0;
  } else {
    int oh, om;
    if (i + 6 != v.size() || (v[i] != '+' && v[i] != '-') || !num(i + 1, 2, oh) ||
        v[i + 3] != ':' || !num(i + 4, 2, om)) {
      return fail();
    }
    offset = (oh * 3600 + om * 60) * (v[i] == '-' ? -1 : 1);
  }
  int64_t secs = DaysFromCivil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D)) * 86400 +
                 h * 3600 + m * 60 + s - offset;
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  if (secs < -kMaxSeconds || secs > kMaxSeconds) {
    return Err(
        fmt::format("time \"{}\" is out of range: 64-bit nanoseconds since 1970 hold the "
                    "years 1678 to 2262",
                    v));
  }
  return secs * 1'000'000'000 + frac;
}

}  // namespace skua::model
