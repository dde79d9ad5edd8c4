#include "rest/http_types.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "rest/proto_json.h"

namespace booking::rest {

int HttpStatusForGrpcCode(int code) {
  switch (code) {
    case 0:  // OK
      return 200;
    case 1:  // CANCELLED
      return 499;
    case 3:   // INVALID_ARGUMENT
    case 9:   // FAILED_PRECONDITION
    case 11:  // OUT_OF_RANGE
      return 400;
    case 4:  // DEADLINE_EXCEEDED
      return 504;
    case 5:  // NOT_FOUND
      return 404;
    case 6:   // ALREADY_EXISTS
    case 10:  // ABORTED
      return 409;
    case 7:  // PERMISSION_DENIED
      return 403;
    case 8:  // RESOURCE_EXHAUSTED
      return 429;
    case 12:  // UNIMPLEMENTED
      return 501;
    case 14:  // UNAVAILABLE
      return 503;
    case 16:  // UNAUTHENTICATED
      return 401;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS
      return 500;
  }
}

std::string ErrorJson(int grpc_code, const std::string& message, const std::string& details_json) {
  // Fields in a fixed order; the message escaped by protobuf's JSON printer.
  google::protobuf::Value text;
  text.set_string_value(message);
  // A message that is not UTF-8 cannot be printed: say so rather than send invalid JSON.
  const std::string quoted = ToJson(text).value_or("\"(message not printable as JSON)\"");
  return absl::StrCat("{\"code\":", grpc_code, ",\"message\":", quoted,
                      ",\"details\":", details_json, "}");
}

}  // namespace booking::rest
