#pragma once

#include <string_view>

// bin/booking.pb built into the binary: a FileDescriptorSet of booking.proto and admin.proto
// with their imports and comments (protoc --include_imports --include_source_info).
extern const std::string_view kBookingDescriptorSet;
