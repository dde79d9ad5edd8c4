#include "server/cancellation_check.h"

#include "api/error_details.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace booking::server {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

domain::Event Of(const std::string& type, const std::string& ticket) {
  domain::Event event;
  event.type = "tickets.v1.TicketBooking" + type;
  event.ticket_id = ticket;
  return event;
}

TEST(CancellationCheckTest, OnlyCancellationsWithoutAnEarlierConfirmationInTheCallAreChecked) {
  const std::vector<domain::Event> events = {Of("Confirmed", "a"), Of("Canceled", "a"),
                                             Of("Canceled", "b"), Of("Confirmed", "c")};
  EXPECT_THAT(CancellationsToCheck(events),
              ElementsAre(Field(&CancellationToCheck::ticket_id, "b")));
  // A confirmation after the cancellation does not count: the refund would come first.
  const std::vector<domain::Event> late = {Of("Canceled", "d"), Of("Confirmed", "d")};
  EXPECT_THAT(CancellationsToCheck(late), ElementsAre(Field(&CancellationToCheck::index, 0)));
  EXPECT_TRUE(CancellationsToCheck({Of("Confirmed", "e")}).empty());
}

TEST(CancellationCheckTest, TheHistorysConfirmationsAreSubtracted) {
  std::vector<CancellationToCheck> checked = {{1, "a"}, {3, "b"}, {4, "c"}};
  const std::vector<std::string> confirmed = {"c", "a", "z"};
  EXPECT_THAT(Unconfirmed(checked, confirmed), ElementsAre(Field(&CancellationToCheck::index, 3)));
}

TEST(CancellationCheckTest, TheRefusalNamesEveryTicket) {
  const std::vector<CancellationToCheck> unknown = {{1, "a"}, {3, "b"}};
  const absl::Status status = NeverConfirmed(unknown);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("tickets[1]: ticket a was never confirmed"));
  EXPECT_THAT(status.message(), HasSubstr("tickets[3]: ticket b"));
  EXPECT_THAT(status.message(), HasSubstr("nothing was published"));
  google::rpc::PreconditionFailure failure;
  ASSERT_TRUE(failure.ParseFromString(
      std::string(status.GetPayload(api::kPreconditionFailureType).value_or(absl::Cord()))));
  ASSERT_EQ(failure.violations_size(), 2);
  EXPECT_EQ(failure.violations(1).type(), api::kTicketNotConfirmedType);
  EXPECT_EQ(failure.violations(1).subject(), "tickets[3]");
}

}  // namespace
}  // namespace booking::server
