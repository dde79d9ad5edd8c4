#include "domain/stored_payload.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "tickets/v1/events.pb.h"

namespace booking::domain {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;
using google::protobuf::io::StringOutputStream;
using tickets::v1::EventHeader;
using tickets::v1::TicketBookingCanceled;
using tickets::v1::TicketBookingConfirmed;

// Both ticket events lay out their header and ticket id alike.
constexpr int kHeader = TicketBookingConfirmed::kHeaderFieldNumber;
constexpr int kTicketId = TicketBookingConfirmed::kTicketIdFieldNumber;
static_assert(kHeader == TicketBookingCanceled::kHeaderFieldNumber);
static_assert(kTicketId == TicketBookingCanceled::kTicketIdFieldNumber);

bool IsTicketEvent(std::string_view type) {
  return type == TicketBookingConfirmed::descriptor()->full_name() ||
         type == TicketBookingCanceled::descriptor()->full_name();
}

bool IsLengthDelimited(uint32_t tag) {
  return WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
}

// Copies `in`'s fields to `out` but those for which `drop(field number)` holds (when length
// delimited). False: not a well-formed message.
template <typename Drop>
bool CopyFields(std::string_view in, std::string& out, Drop drop) {
  CodedInputStream input(reinterpret_cast<const uint8_t*>(in.data()), static_cast<int>(in.size()));
  StringOutputStream sink(&out);
  CodedOutputStream output(&sink);
  while (const uint32_t tag = input.ReadTag()) {
    if (IsLengthDelimited(tag) && drop(WireFormatLite::GetTagFieldNumber(tag), input, output)) {
      continue;
    }
    if (!WireFormatLite::SkipField(&input, tag, &output)) return false;
  }
  return input.ConsumedEntireMessage() && !output.HadError();
}

void WriteString(CodedOutputStream& output, int field, std::string_view value) {
  if (value.empty()) return;  // as proto3 writes it
  output.WriteTag(WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  output.WriteVarint32(static_cast<uint32_t>(value.size()));
  output.WriteRaw(value.data(), static_cast<int>(value.size()));
}

}  // namespace

std::string StoredPayload(std::string_view type, std::string_view payload) {
  if (!IsTicketEvent(type)) return std::string(payload);
  std::string stored;
  stored.reserve(payload.size());
  bool ok = CopyFields(
      payload, stored, [](int field, CodedInputStream& input, CodedOutputStream& output) {
        if (field == kTicketId) {
          std::string skipped;
          return WireFormatLite::ReadBytes(&input, &skipped);  // false: copied, and fails there
        }
        if (field != kHeader) return false;
        std::string header, kept;
        if (!WireFormatLite::ReadBytes(&input, &header)) return false;
        const bool header_ok =
            CopyFields(header, kept, [](int f, CodedInputStream& in, CodedOutputStream&) {
              if (f != EventHeader::kIdFieldNumber &&
                  f != EventHeader::kIdempotencyKeyFieldNumber &&
                  f != EventHeader::kCorrelationIdFieldNumber) {
                return false;
              }
              std::string skipped;
              return WireFormatLite::ReadBytes(&in, &skipped);
            });
        if (!header_ok) kept = header;  // not a header after all: kept whole
        WriteString(output, kHeader, kept);
        return true;
      });
  if (!ok) return std::string(payload);
  return stored;
}

std::string FullPayload(std::string_view type, std::string_view stored,
                        const EventColumns& columns) {
  if (!IsTicketEvent(type)) return std::string(stored);
  std::string header;
  {
    StringOutputStream sink(&header);
    CodedOutputStream output(&sink);
    WriteString(output, EventHeader::kIdFieldNumber, columns.event_id);
    WriteString(output, EventHeader::kIdempotencyKeyFieldNumber, columns.idempotency_key);
    WriteString(output, EventHeader::kCorrelationIdFieldNumber, columns.correlation_id);
  }
  std::string full;
  full.reserve(header.size() + columns.ticket_id.size() + stored.size() + 8);
  {
    StringOutputStream sink(&full);
    CodedOutputStream output(&sink);
    output.WriteTag(WireFormatLite::MakeTag(kHeader, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    output.WriteVarint32(static_cast<uint32_t>(header.size()));
    output.WriteRaw(header.data(), static_cast<int>(header.size()));
    WriteString(output, kTicketId, columns.ticket_id);
    output.WriteRaw(stored.data(), static_cast<int>(stored.size()));
  }
  return full;
}

}  // namespace booking::domain
