// What the two gRPC query services share: request checks and the answer to storage failures.

#include "query/grpc_calls.h"

#include <limits>

#include "common/status_macros.h"

namespace skua::query {

grpc::Status Invalid(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

grpc::Status StorageFailure(const absl::Status& st) {
  if (st.code() == absl::StatusCode::kDeadlineExceeded) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "the search took longer than query.timeout or the call's deadline; "
                        "narrow it (time range, service, limit)");
  }
  SPDLOG_WARN("query-grpc: {}", st.message());
  return grpc::Status(static_cast<grpc::StatusCode>(st.code()),
                      "storage error; see the server's log");
}

std::optional<int64_t> TimestampNanos(const google::protobuf::Timestamp& t) {
  if (t.nanos() < 0 || t.nanos() > 999'999'999) return std::nullopt;
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  if (t.seconds() < -kMaxSeconds || t.seconds() > kMaxSeconds) return std::nullopt;
  return t.seconds() * 1'000'000'000 + t.nanos();
}

std::optional<int64_t> DurationNanos(const google::protobuf::Duration& d) {
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() > 999'999'999) return std::nullopt;
  if (d.seconds() > std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1) return std::nullopt;
  return d.seconds() * 1'000'000'000 + d.nanos();
}

std::string_view CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    default:
      return "OTHER";
  }
}

}  // namespace skua::query
