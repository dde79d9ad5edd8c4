#pragma once

#include <google/protobuf/descriptor.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace booking::openapi {

// The comments of proto elements (services, methods, messages, fields, enums and their values),
// by full name, read from a descriptor set with source info: the generated C++ carries none.
class ProtoComments {
 public:
  // `descriptor_set`: a serialized FileDescriptorSet built with --include_source_info.
  [[nodiscard]] static absl::StatusOr<ProtoComments> Parse(std::string_view descriptor_set);
  // Those of the API, built in (protos/descriptor_set.h).
  static const ProtoComments& Api();

  // The element's leading comment, else its trailing one, as one paragraph per blank line with
  // the comment markers gone; "" when it has none. `full_name` as in the descriptors
  // ("tickets.v1.BookingService.GetTicket", "tickets.v1.Ticket.status").
  std::string Of(const std::string& full_name) const;

  // The first sentence of Of(full_name) (up to ". " or its end), without the full stop.
  std::string SummaryOf(const std::string& full_name) const;

 private:
  std::map<std::string, std::string> by_name_;
};

}  // namespace booking::openapi
