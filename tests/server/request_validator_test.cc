#include "server/request_validator.h"

#include <cstdio>
#include <functional>

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "tests/support/bad_requests.h"

namespace booking::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using tickets::v1::UpdateTicketsStatusRequest;

using testing::ValidRequest;

TEST(RequestValidatorTest, AcceptsValidRequest) {
  EXPECT_TRUE(ValidateRequest(ValidRequest(3), {}).ok());
}

TEST(RequestValidatorTest, AcceptsCanceledUpperCaseUuidAndBookingId) {
  auto request = ValidRequest();
  request.mutable_tickets(0)->set_status("canceled");
  request.mutable_tickets(0)->set_ticket_id("5A1F3C9E-0B7D-4E2A-9C11-00000000000A");
  request.mutable_tickets(0)->set_booking_id("0b7d4e2a-5a1f-3c9e-9c11-000000000001");
  EXPECT_TRUE(ValidateRequest(request, {}).ok());
}

TEST(RequestValidatorTest, RejectsEmptyRequest) {
  absl::Status status = ValidateRequest(UpdateTicketsStatusRequest(), {});
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(std::string(status.message()), StartsWith("tickets: "));
}

TEST(RequestValidatorTest, RejectsTooManyTickets) {
  ValidationLimits limits;
  limits.max_tickets_per_call = 2;
  absl::Status status = ValidateRequest(ValidRequest(3), limits);
  EXPECT_THAT(std::string(status.message()), HasSubstr("tickets: must hold at most 2"));
  EXPECT_TRUE(ValidateRequest(ValidRequest(2), limits).ok());
}

TEST(RequestValidatorTest, RejectsDuplicateTicketIgnoringCase) {
  auto request = ValidRequest(2);
  request.mutable_tickets(1)->set_ticket_id(request.tickets(0).ticket_id());
  absl::Status status = ValidateRequest(request, {});
  EXPECT_THAT(std::string(status.message()),
              StartsWith("tickets[1].ticket_id: repeats tickets[0]"));
}

TEST(RequestValidatorTest, EveryViolationIsInTheBadRequestDetail) {
  auto request = ValidRequest(12);
  for (int i = 0; i < 12; ++i) request.mutable_tickets(i)->set_status("lost");
  absl::Status status = ValidateRequest(request, {});
  EXPECT_THAT(std::string(status.message()), HasSubstr("and 2 more")) << "the message lists 10";
  auto payload = status.GetPayload(api::kBadRequestType);
  ASSERT_TRUE(payload.has_value());
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(bad_request.ParseFromString(std::string(*payload)));
  ASSERT_EQ(bad_request.field_violations_size(), 12) << "the detail lists them all";
  EXPECT_EQ(bad_request.field_violations(11).field(), "tickets[11].status");
}

struct BadField {
  std::string name;
  std::function<void(tickets::v1::TicketStatusChange&)> mutate;
  std::string field;  // expected path, for the ticket at index 1
};

class BadFieldTest : public ::testing::TestWithParam<BadField> {};

TEST_P(BadFieldTest, NamesTheField) {
  auto request = ValidRequest(3);
  GetParam().mutate(*request.mutable_tickets(1));
  std::vector<api::FieldViolation> violations = FindViolations(request, {});
  ASSERT_EQ(violations.size(), 1u) << GetParam().name;
  EXPECT_EQ(violations[0].field, GetParam().field);
  absl::Status status = ValidateRequest(request, {});
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(std::string(status.message()), StartsWith(GetParam().field + ": "));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, BadFieldTest,
    ::testing::Values(
        BadField{"MissingTicketId", [](auto& t) { t.clear_ticket_id(); }, "tickets[1].ticket_id"},
        BadField{"TicketIdNotUuid", [](auto& t) { t.set_ticket_id("ticket-1"); },
                 "tickets[1].ticket_id"},
        BadField{"TicketIdWithoutDashes",
                 [](auto& t) { t.set_ticket_id("5a1f3c9e0b7d4e2a9c11000000000001"); },
                 "tickets[1].ticket_id"},
        BadField{"TicketIdBraced",
                 [](auto& t) { t.set_ticket_id("{5a1f3c9e-0b7d-4e2a-9c11-00000000001}"); },
                 "tickets[1].ticket_id"},
        BadField{"MissingStatus", [](auto& t) { t.clear_status(); }, "tickets[1].status"},
        BadField{"UnknownStatus", [](auto& t) { t.set_status("pending"); }, "tickets[1].status"},
        BadField{"StatusWrongCase", [](auto& t) { t.set_status("Confirmed"); },
                 "tickets[1].status"},
        BadField{"MissingEmail", [](auto& t) { t.clear_customer_email(); },
                 "tickets[1].customer_email"},
        BadField{"EmailWithoutAt", [](auto& t) { t.set_customer_email("ann.example.com"); },
                 "tickets[1].customer_email"},
        BadField{"EmailTwoAts", [](auto& t) { t.set_customer_email("ann@b@example.com"); },
                 "tickets[1].customer_email"},
        BadField{"EmailNoLocalPart", [](auto& t) { t.set_customer_email("@example.com"); },
                 "tickets[1].customer_email"},
        BadField{"EmailNoDomain", [](auto& t) { t.set_customer_email("ann@"); },
                 "tickets[1].customer_email"},
        BadField{"EmailWithSpace", [](auto& t) { t.set_customer_email("ann smith@example.com"); },
                 "tickets[1].customer_email"},
        BadField{"EmailTooLong",
                 [](auto& t) { t.set_customer_email(std::string(250, 'a') + "@example.com"); },
                 "tickets[1].customer_email"},
        BadField{"MissingPrice", [](auto& t) { t.clear_price(); }, "tickets[1].price"},
        BadField{"MissingAmount", [](auto& t) { t.mutable_price()->clear_amount(); },
                 "tickets[1].price.amount"},
        BadField{"NegativeAmount", [](auto& t) { t.mutable_price()->set_amount("-1.00"); },
                 "tickets[1].price.amount"},
        BadField{"PlusSignAmount", [](auto& t) { t.mutable_price()->set_amount("+1.00"); },
                 "tickets[1].price.amount"},
        BadField{"ThreeDecimals", [](auto& t) { t.mutable_price()->set_amount("1.005"); },
                 "tickets[1].price.amount"},
        BadField{"NineIntegerDigits",
                 [](auto& t) { t.mutable_price()->set_amount("123456789.00"); },
                 "tickets[1].price.amount"},
        BadField{"Exponent", [](auto& t) { t.mutable_price()->set_amount("1e3"); },
                 "tickets[1].price.amount"},
        BadField{"NaN", [](auto& t) { t.mutable_price()->set_amount("NaN"); },
                 "tickets[1].price.amount"},
        BadField{"Infinity", [](auto& t) { t.mutable_price()->set_amount("Infinity"); },
                 "tickets[1].price.amount"},
        BadField{"TrailingDot", [](auto& t) { t.mutable_price()->set_amount("5."); },
                 "tickets[1].price.amount"},
        BadField{"LeadingDot", [](auto& t) { t.mutable_price()->set_amount(".5"); },
                 "tickets[1].price.amount"},
        BadField{"CommaDecimal", [](auto& t) { t.mutable_price()->set_amount("5,30"); },
                 "tickets[1].price.amount"},
        BadField{"SpacesInAmount", [](auto& t) { t.mutable_price()->set_amount(" 5.30"); },
                 "tickets[1].price.amount"},
        BadField{"MissingCurrency", [](auto& t) { t.mutable_price()->clear_currency(); },
                 "tickets[1].price.currency"},
        BadField{"LowerCaseCurrency", [](auto& t) { t.mutable_price()->set_currency("eur"); },
                 "tickets[1].price.currency"},
        BadField{"FourLetterCurrency", [](auto& t) { t.mutable_price()->set_currency("EURO"); },
                 "tickets[1].price.currency"},
        BadField{"DigitsCurrency", [](auto& t) { t.mutable_price()->set_currency("978"); },
                 "tickets[1].price.currency"},
        BadField{"BookingIdNotUuid", [](auto& t) { t.set_booking_id("booking-7"); },
                 "tickets[1].booking_id"}),
    [](const auto& info) { return info.param.name; });

TEST(RequestValidatorTest, AmountBoundaries) {
  for (const char* ok : {"0", "0.0", "0.00", "12", "12.3", "99999999.99", "00000001.50"}) {
    EXPECT_TRUE(IsValidAmount(ok)) << ok;
  }
  for (const char* bad : {"", ".", "1.2.3", "100000000", "1.", "١٢"}) {
    EXPECT_FALSE(IsValidAmount(bad)) << bad;
  }
}

TEST(RequestValidatorTest, ReportsEveryViolationInFieldOrder) {
  auto request = ValidRequest(2);
  request.mutable_tickets(0)->mutable_price()->set_currency("eur");
  request.mutable_tickets(1)->set_status("x");
  std::vector<api::FieldViolation> violations = FindViolations(request, {});
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0].field, "tickets[0].price.currency");
  EXPECT_EQ(violations[1].field, "tickets[1].status");
}

TEST(RequestValidatorTest, QuotesBadValueEscaped) {
  auto request = ValidRequest();
  request.mutable_tickets(0)->set_status(std::string("a\nb\0c", 5));
  absl::Status status = ValidateRequest(request, {});
  EXPECT_THAT(std::string(status.message()), HasSubstr(R"("a\nb\x00\x63")"));
}

}  // namespace
}  // namespace booking::server
