#pragma once

#include <string_view>

namespace booking::domain {

// The handlers' names. They are stored in the database (handler progress, dead letters, ticket
// steps) and shown to clients (GetHandlerStatus, WatchTickets), so they never change: a renamed
// handler would start over as a new one.
inline constexpr std::string_view kStoreTickets = "StoreTickets";  // confirmed → tickets row
// canceled → tickets row. The name predates the handler being StoreTickets for canceled events.
inline constexpr std::string_view kStoreCanceledTickets = "RemoveCanceledTicket";
inline constexpr std::string_view kIssueReceipt = "IssueReceipt";
inline constexpr std::string_view kAppendToTracker = "AppendToTracker";  // "tickets-to-print"
inline constexpr std::string_view kAppendToRefund = "AppendToRefund";    // "tickets-to-refund"
inline constexpr std::string_view kAppendToAudit = "AppendToAudit";  // confirmed → --audit_sheet
// every event → NATS JetStream (--jetstream_url)
inline constexpr std::string_view kPublishToJetStream = "PublishToJetStream";

// The event types the handlers are registered for (the payload's full protobuf name).
inline constexpr std::string_view kTicketConfirmed = "tickets.v1.TicketBookingConfirmed";
inline constexpr std::string_view kTicketCanceled = "tickets.v1.TicketBookingCanceled";

}  // namespace booking::domain
