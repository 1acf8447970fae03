// Bounded gzip inflation of request bodies and gRPC messages.

#include "collector/inflate.h"

#include <fmt/format.h>
#include <zlib.h>

namespace skua::collector {

absl::StatusOr<std::string> Inflate(std::string_view in, size_t limit, bool gzip,
                                    const std::function<bool(size_t)>& may_grow) {
  z_stream zs{};
  if (inflateInit2(&zs, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
    return absl::InternalError("inflateInit2 failed");
  }
  const char* kind = gzip ? "gzip" : "deflate";
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  constexpr size_t kStep = 64 * 1024;
  int rc = Z_OK;
  auto fail = [&](absl::Status st) {
    inflateEnd(&zs);
    return st;
  };
  while (rc != Z_STREAM_END) {
    size_t have = out.size();
    if (have >= limit + 1) {
      return fail(absl::ResourceExhaustedError(
          fmt::format("decompressed body exceeds the limit of {} bytes", limit)));
    }
    size_t step = std::min(kStep, limit + 1 - have);
    if (may_grow && !may_grow(have + step)) {
      return fail(absl::AbortedError("the output may not grow further"));
    }
    out.resize(have + step);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + have);
    zs.avail_out = static_cast<uInt>(step);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(have + step - zs.avail_out);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      return fail(absl::InvalidArgumentError(
          fmt::format("body is not valid {} data: {}", kind, zs.msg ? zs.msg : "truncated")));
    }
    if (out.size() > limit) {
      return fail(absl::ResourceExhaustedError(
          fmt::format("decompressed body exceeds the limit of {} bytes", limit)));
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      return fail(
          absl::InvalidArgumentError(fmt::format("body is not valid {} data: truncated", kind)));
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace skua::collector
