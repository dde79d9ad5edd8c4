#include "handlers/handler_table.h"

#include <set>

#include "domain/event_types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "handlers/handler_set.h"
#include "tests/fakes/memory_ticket_repository.h"

namespace booking::handlers {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using Step = tickets::v1::TicketStep;

class NoReceipts final : public clients::ReceiptsApi {
 public:
  absl::Status Issue(absl::Span<const domain::ReceiptRequest>) override { return absl::OkStatus(); }
};

class NoSheets final : public clients::SpreadsheetsApi {
 public:
  absl::Status Append(std::string_view, absl::Span<const domain::TrackerRow>) override {
    return absl::OkStatus();
  }
};

class NoBroker final : public clients::EventPublisher {
 public:
  void PublishEach(absl::Span<const clients::BrokerMessage>,
                   absl::Span<absl::Status> results) override {
    for (absl::Status& result : results) result = absl::OkStatus();
  }
  clients::PublisherState state() const override { return {}; }
  int window() const override { return 1; }
};

std::vector<std::string> NamesFor(const HandlerSet& set, std::string_view type) {
  std::vector<std::string> names;
  for (const domain::Handler* handler : set.router().HandlersFor(type)) {
    names.emplace_back(handler->name());
  }
  return names;
}

// The names are stored in deployed databases: a renamed handler would start over as a new one.
TEST(HandlerTableTest, StoredNamesNeverChange) {
  EXPECT_THAT(AllHandlerNames(),
              ElementsAre("StoreTickets", "IssueReceipt", "AppendToTracker", "RemoveCanceledTicket",
                          "AppendToRefund", "AppendToAudit", "PublishToJetStream"));
  const std::vector<std::string> names = AllHandlerNames();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
}

TEST(HandlerTableTest, DerivesWhatStoredWaitsForAndWhatWatchersSee) {
  EXPECT_THAT(StoringHandlerNames(), ElementsAre("StoreTickets", "RemoveCanceledTicket"));
  EXPECT_THAT(StepKinds(), UnorderedElementsAre(Pair("StoreTickets", Step::STORED),
                                                Pair("IssueReceipt", Step::RECEIPT_ISSUED),
                                                Pair("AppendToTracker", Step::APPENDED_TO_TRACKER),
                                                Pair("RemoveCanceledTicket", Step::CANCELED),
                                                Pair("AppendToRefund", Step::APPENDED_TO_TRACKER),
                                                Pair("AppendToAudit", Step::HANDLED),
                                                Pair("PublishToJetStream", Step::HANDLED)));
}

TEST(HandlerTableTest, EveryRowBuildsAHandlerOfItsName) {
  testing::MemoryTicketRepository tickets;
  NoReceipts receipts;
  NoSheets sheets;
  NoBroker broker;
  const HandlerSetOptions options{.audit_sheet = "audit", .broker = &broker};
  const HandlerDeps deps{
      .tickets = tickets, .receipts = receipts, .spreadsheets = sheets, .options = options};
  for (const HandlerSpec& spec : HandlerTable()) {
    std::unique_ptr<domain::Handler> handler = spec.make(spec.name, deps);
    ASSERT_NE(handler, nullptr) << spec.name;
    EXPECT_EQ(handler->name(), spec.name);
    EXPECT_FALSE(spec.event_types.empty()) << spec.name;
  }
}

TEST(HandlerTableTest, OptionalHandlersAreRegisteredOnlyWithTheirFlags) {
  testing::MemoryTicketRepository tickets;
  NoReceipts receipts;
  NoSheets sheets;
  const HandlerSet plain(tickets, receipts, sheets);
  EXPECT_THAT(NamesFor(plain, domain::kTicketConfirmed),
              ElementsAre("StoreTickets", "IssueReceipt", "AppendToTracker"));
  EXPECT_THAT(NamesFor(plain, domain::kTicketCanceled),
              ElementsAre("RemoveCanceledTicket", "AppendToRefund"));

  NoBroker broker;
  const HandlerSet full(tickets, receipts, sheets, {.audit_sheet = "audit", .broker = &broker});
  EXPECT_THAT(NamesFor(full, domain::kTicketConfirmed),
              ElementsAre("StoreTickets", "IssueReceipt", "AppendToTracker", "AppendToAudit",
                          "PublishToJetStream"));
  EXPECT_THAT(NamesFor(full, domain::kTicketCanceled),
              ElementsAre("RemoveCanceledTicket", "AppendToRefund", "PublishToJetStream"));
  // The relay is one handler for both types: one lane, one order.
  EXPECT_EQ(full.router().HandlersFor(domain::kTicketConfirmed).back(),
            full.router().HandlersFor(domain::kTicketCanceled).back());
}

}  // namespace
}  // namespace booking::handlers
