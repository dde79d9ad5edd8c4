#include "api/error_details.h"

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "rest/rest_error.h"

namespace booking::api {
namespace {

google::rpc::Status Details(const grpc::Status& status) {
  google::rpc::Status proto;
  EXPECT_TRUE(proto.ParseFromString(status.error_details()));
  return proto;
}

TEST(ErrorDetailsTest, FieldViolationsTravelAsBadRequest) {
  grpc::Status status = ToGrpcStatus(WithFieldViolations(
      absl::InvalidArgumentError("bad"), {{"tickets[0].status", "must be"}, {"tickets", "empty"}}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "bad");
  google::rpc::Status proto = Details(status);
  EXPECT_EQ(proto.code(), 3);
  EXPECT_EQ(proto.message(), "bad");
  ASSERT_EQ(proto.details_size(), 1);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(proto.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 2);
  EXPECT_EQ(bad_request.field_violations(0).field(), "tickets[0].status");
  EXPECT_EQ(bad_request.field_violations(1).description(), "empty");
}

// Every INVALID_ARGUMENT leaves with a BadRequest, even one made without: its field is what
// the message names first.
TEST(ErrorDetailsTest, EveryInvalidArgumentNamesItsField) {
  const auto violations_of = [](const absl::Status& status) {
    google::rpc::Status proto = Details(ToGrpcStatus(status));
    google::rpc::BadRequest bad_request;
    EXPECT_EQ(proto.details_size(), 1) << status;
    if (proto.details_size() == 1) {
      EXPECT_TRUE(proto.details(0).UnpackTo(&bad_request));
    }
    return bad_request;
  };
  google::rpc::BadRequest page =
      violations_of(absl::InvalidArgumentError("page_size: must not be negative"));
  ASSERT_EQ(page.field_violations_size(), 1);
  EXPECT_EQ(page.field_violations(0).field(), "page_size");
  EXPECT_EQ(page.field_violations(0).description(), "must not be negative");
  google::rpc::BadRequest nested =
      violations_of(absl::InvalidArgumentError("ids[2]: needs a sequence"));
  EXPECT_EQ(nested.field_violations(0).field(), "ids[2]");
  // A message that names no field: the request as a whole.
  google::rpc::BadRequest whole = violations_of(absl::InvalidArgumentError("not JSON at all"));
  EXPECT_EQ(whole.field_violations(0).field(), "");
  EXPECT_EQ(whole.field_violations(0).description(), "not JSON at all");
  EXPECT_EQ(violations_of(absl::InvalidArgumentError("a b: c")).field_violations(0).field(), "");
}

TEST(ErrorDetailsTest, MergedRefusalsListEveryViolation) {
  const absl::Status merged = MergeInvalidArguments(
      {absl::InvalidArgumentError("idempotency_key: is required"), absl::OkStatus(),
       WithFieldViolations(absl::InvalidArgumentError("tickets[0].status: bad; tickets[1]..."),
                           {{"tickets[0].status", "bad"}, {"tickets[1].price", "missing"}})});
  EXPECT_EQ(merged.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(merged.message(),
            "idempotency_key: is required; tickets[0].status: bad; tickets[1]...");
  std::vector<std::string> fields;
  for (const FieldViolation& violation : FieldViolationsOf(merged))
    fields.push_back(violation.field);
  EXPECT_THAT(fields,
              ::testing::ElementsAre("idempotency_key", "tickets[0].status", "tickets[1].price"));
  EXPECT_TRUE(MergeInvalidArguments({absl::OkStatus()}).ok());
}

TEST(ErrorDetailsTest, OverloadAndOutagesAlwaysSayWhenToRetry) {
  for (const absl::Status& plain :
       {absl::ResourceExhaustedError("full"), absl::UnavailableError("down")}) {
    grpc::Status status = ToGrpcStatus(plain);
    google::rpc::Status proto = Details(status);
    ASSERT_EQ(proto.details_size(), 1) << plain;
    google::rpc::RetryInfo retry;
    ASSERT_TRUE(proto.details(0).UnpackTo(&retry));
    EXPECT_EQ(retry.retry_delay().seconds(), 1);
    EXPECT_EQ(rest::RetryAfterSeconds(status.error_details()), 1);
  }
  grpc::Status own = ToGrpcStatus(WithRetryDelay(absl::UnavailableError("x"), absl::Seconds(7)));
  EXPECT_EQ(Details(own).details_size(), 1) << "the status's own RetryInfo, not a second one";
  EXPECT_EQ(rest::RetryAfterSeconds(own.error_details()), 7);
}

TEST(ErrorDetailsTest, OtherErrorsCarryNoDetails) {
  grpc::Status status = ToGrpcStatus(absl::NotFoundError("no such ticket"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(status.error_details().empty());
  EXPECT_EQ(rest::DetailsJson(status.error_details()), "[]");
  EXPECT_EQ(rest::RetryAfterSeconds(status.error_details()), std::nullopt);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(ErrorDetailsTest, DetailsJsonIgnoresGarbage) {
  EXPECT_EQ(rest::DetailsJson("\xff\xff not a status"), "[]");
  EXPECT_EQ(rest::RetryAfterSeconds("\xff\xff"), std::nullopt);
}

}  // namespace
}  // namespace booking::api
