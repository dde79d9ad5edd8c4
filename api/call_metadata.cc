#include "api/call_metadata.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/uuid.h"
#include "spdlog/spdlog.h"

namespace booking::api {
namespace {

constexpr size_t kMaxCorrelationIdBytes = 128;
constexpr size_t kMaxIdempotencyKeyBytes = 255;

}  // namespace

bool IsUsableCorrelationId(std::string_view id) {
  if (id.empty() || id.size() > kMaxCorrelationIdBytes) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != ':') {
      return false;
    }
  }
  return true;
}

std::optional<std::string_view> FindMetadata(const grpc::ServerContextBase& context,
                                             std::string_view key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

std::string ResolveCorrelationId(std::optional<std::string_view> incoming) {
  if (incoming && IsUsableCorrelationId(*incoming)) return std::string(*incoming);
  std::string id = common::NewUuid();
  if (incoming) {
    // The caller's value is not logged: it is what could not be trusted in a log line.
    spdlog::warn(
        "correlation id replaced: not 1-128 characters of [A-Za-z0-9._:-] length={} "
        "correlation_id={}",
        incoming->size(), id);
  }
  return id;
}

absl::StatusOr<std::string> ResolveIdempotencyKey(std::optional<std::string_view> metadata,
                                                  std::string_view field, bool required) {
  if (metadata && !field.empty() && *metadata != field) {
    return absl::InvalidArgumentError(
        "idempotency_key: the request field and the idempotency-key metadata differ");
  }
  std::string_view key = metadata ? *metadata : field;
  if (key.empty()) {
    if (required) {
      return absl::InvalidArgumentError(
          "idempotency_key: is required; send the idempotency-key metadata (HTTP header "
          "Idempotency-Key) or the idempotency_key field");
    }
    return common::NewUuid();
  }
  if (key.size() > kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "idempotency_key: must be at most ", kMaxIdempotencyKeyBytes, " bytes, got ", key.size()));
  }
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError("idempotency_key: must be printable ASCII without spaces");
    }
  }
  return std::string(key);
}

}  // namespace booking::api
