// AppendToSheet with an in-memory spreadsheets API: the template for a handler that calls an
// external API (see CONTRIBUTING.md, "A new handler").
#include "handlers/append_to_sheet.h"

#include <map>
#include <string>
#include <vector>

#include "domain/event_types.h"
#include "gtest/gtest.h"
#include "tests/support/events.h"

namespace booking::handlers {
namespace {

using testing::TicketEvent;

// Rows per sheet in memory; fails every append with `failure` when set.
class MemorySpreadsheetsApi final : public clients::SpreadsheetsApi {
 public:
  absl::Status Append(std::string_view sheet, absl::Span<const domain::TrackerRow> rows) override {
    if (!failure_.ok()) return failure_;
    for (const domain::TrackerRow& row : rows) sheets_[std::string(sheet)].push_back(row);
    return absl::OkStatus();
  }
  void FailWith(absl::Status status) { failure_ = std::move(status); }
  const std::vector<domain::TrackerRow>& rows(const std::string& sheet) { return sheets_[sheet]; }

 private:
  std::map<std::string, std::vector<domain::TrackerRow>> sheets_;
  absl::Status failure_;
};

constexpr char kAudit[] = "ticket-audit";

TEST(AppendToSheetTest, AppendsOneRowPerEventToItsSheet) {
  MemorySpreadsheetsApi api;
  AppendToSheet handler(std::string("AppendToAudit"), kAudit, api);
  domain::Event first =
      TicketEvent("5a1f3c9e-0b7d-4e2a-9c11-000000000001", "confirmed", 1, "12.50");
  domain::Event second = TicketEvent("5a1f3c9e-0b7d-4e2a-9c11-000000000002", "confirmed", 2);
  const domain::Event* batch[] = {&first, &second};
  ASSERT_TRUE(handler.Handle(batch).ok());
  ASSERT_EQ(api.rows(kAudit).size(), 2u);
  EXPECT_TRUE(api.rows("tickets-to-print").empty());
  const domain::TrackerRow& row = api.rows(kAudit)[0];
  EXPECT_EQ(row.ticket_id, "5a1f3c9e-0b7d-4e2a-9c11-000000000001");
  EXPECT_EQ(row.event_id, first.id);
  EXPECT_EQ(row.customer_email, "ann@example.com");
  EXPECT_EQ(row.price_amount, "12.50");
  EXPECT_EQ(row.price_currency, "EUR");
  EXPECT_EQ(first.note, kAudit) << "watchers are told the sheet";
}

TEST(AppendToSheetTest, ASinkThatIsDownIsRetryableAndNothingIsNoted) {
  MemorySpreadsheetsApi api;
  api.FailWith(absl::UnavailableError("sheets down"));
  AppendToSheet handler(std::string("AppendToAudit"), kAudit, api);
  domain::Event event = TicketEvent("5a1f3c9e-0b7d-4e2a-9c11-000000000003", "confirmed", 1);
  const domain::Event* batch[] = {&event};
  const absl::Status status = handler.Handle(batch);
  EXPECT_TRUE(domain::IsRetryable(status)) << status;
  EXPECT_TRUE(event.note.empty());
}

TEST(AppendToSheetTest, ACorruptEventFailsAloneAndForGood) {
  MemorySpreadsheetsApi api;
  AppendToSheet handler(std::string("AppendToAudit"), kAudit, api);
  domain::Event good = TicketEvent("5a1f3c9e-0b7d-4e2a-9c11-000000000004", "confirmed", 1);
  domain::Event corrupt = TicketEvent("5a1f3c9e-0b7d-4e2a-9c11-000000000005", "confirmed", 2);
  corrupt.payload = "\xff\xff\xff";
  const domain::Event* batch[] = {&good, &corrupt};
  std::vector<absl::Status> results(2);
  handler.HandleEach(batch, absl::MakeSpan(results));
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_FALSE(results[1].ok());
  EXPECT_FALSE(domain::IsRetryable(results[1]))
      << "no retry can fix a payload: a dead letter at once";
  ASSERT_EQ(api.rows(kAudit).size(), 1u);
  EXPECT_EQ(api.rows(kAudit)[0].ticket_id, good.ticket_id);
}

}  // namespace
}  // namespace booking::handlers
