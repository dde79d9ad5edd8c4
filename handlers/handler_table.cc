#include "handlers/handler_table.h"

#include "clients/spreadsheets_api.h"
#include "domain/event_types.h"
#include "handlers/append_to_sheet.h"
#include "handlers/issue_receipt.h"
#include "handlers/publish_to_jetstream.h"
#include "handlers/store_tickets.h"

namespace booking::handlers {
namespace {

using Step = tickets::v1::TicketStep;
using domain::kTicketCanceled;
using domain::kTicketConfirmed;

std::unique_ptr<domain::Handler> MakeStoreTickets(std::string_view name, const HandlerDeps& deps) {
  return std::make_unique<StoreTickets>(name, deps.tickets);
}

std::unique_ptr<domain::Handler> MakeIssueReceipt(std::string_view name, const HandlerDeps& deps) {
  return std::make_unique<IssueReceipt>(name, deps.receipts);
}

std::unique_ptr<domain::Handler> MakeAppendToTracker(std::string_view name,
                                                     const HandlerDeps& deps) {
  return std::make_unique<AppendToSheet>(
      std::string(name), std::string(clients::kTicketsToPrintSheet), deps.spreadsheets);
}

std::unique_ptr<domain::Handler> MakeAppendToRefund(std::string_view name,
                                                    const HandlerDeps& deps) {
  return std::make_unique<AppendToSheet>(
      std::string(name), std::string(clients::kTicketsToRefundSheet), deps.spreadsheets);
}

std::unique_ptr<domain::Handler> MakeAppendToAudit(std::string_view name, const HandlerDeps& deps) {
  if (deps.options.audit_sheet.empty()) return nullptr;  // --audit_sheet
  return std::make_unique<AppendToSheet>(std::string(name), deps.options.audit_sheet,
                                         deps.spreadsheets);
}

std::unique_ptr<domain::Handler> MakePublishToJetStream(std::string_view name,
                                                        const HandlerDeps& deps) {
  if (deps.options.broker == nullptr) return nullptr;  // --jetstream_url
  return std::make_unique<PublishToJetStream>(name, *deps.options.broker);
}

}  // namespace

absl::Span<const HandlerSpec> HandlerTable() {
  // clang-format off
  static const auto* kTable = new std::vector<HandlerSpec>{
    // name                   event types                          step when done          stores optional
    {"StoreTickets",         {kTicketConfirmed},                  Step::STORED,              true,  false, MakeStoreTickets},
    {"IssueReceipt",         {kTicketConfirmed},                  Step::RECEIPT_ISSUED,      false, false, MakeIssueReceipt},
    {"AppendToTracker",      {kTicketConfirmed},                  Step::APPENDED_TO_TRACKER, false, false, MakeAppendToTracker},
    // StoreTickets for canceled events; the name predates it.
    {"RemoveCanceledTicket", {kTicketCanceled},                   Step::CANCELED,            true,  false, MakeStoreTickets},
    {"AppendToRefund",       {kTicketCanceled},                   Step::APPENDED_TO_TRACKER, false, false, MakeAppendToRefund},
    {"AppendToAudit",        {kTicketConfirmed},                  Step::HANDLED,             false, true,  MakeAppendToAudit},
    // Both types in one lane: a ticket's events leave in log order.
    {"PublishToJetStream",   {kTicketConfirmed, kTicketCanceled}, Step::HANDLED,             false, true,  MakePublishToJetStream},
  };
  // clang-format on
  return *kTable;
}

std::vector<std::string> StoringHandlerNames() {
  std::vector<std::string> names;
  for (const HandlerSpec& spec : HandlerTable()) {
    if (spec.stores_ticket) names.emplace_back(spec.name);
  }
  return names;
}

std::vector<std::string> AllHandlerNames() {
  std::vector<std::string> names;
  for (const HandlerSpec& spec : HandlerTable()) names.emplace_back(spec.name);
  return names;
}

absl::flat_hash_map<std::string, tickets::v1::TicketStep::Kind> StepKinds() {
  absl::flat_hash_map<std::string, tickets::v1::TicketStep::Kind> kinds;
  for (const HandlerSpec& spec : HandlerTable()) kinds.emplace(spec.name, spec.step);
  return kinds;
}

}  // namespace booking::handlers
