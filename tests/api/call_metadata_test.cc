#include "api/call_metadata.h"

#include "common/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::api {
namespace {

TEST(CorrelationIdTest, KeepsUsableIncomingId) {
  EXPECT_EQ(ResolveCorrelationId("req-42.a_b:c"), "req-42.a_b:c");
}

TEST(CorrelationIdTest, GeneratesWhenMissingOrUnusable) {
  EXPECT_TRUE(common::IsUuid(ResolveCorrelationId(std::nullopt)));
  EXPECT_TRUE(common::IsUuid(ResolveCorrelationId("")));
  EXPECT_TRUE(common::IsUuid(ResolveCorrelationId("has space")));
  EXPECT_TRUE(common::IsUuid(ResolveCorrelationId(std::string(129, 'a'))));
  EXPECT_NE(ResolveCorrelationId(std::nullopt), ResolveCorrelationId(std::nullopt));
}

TEST(IdempotencyKeyTest, TakesMetadataOrField) {
  EXPECT_EQ(*ResolveIdempotencyKey("k-1", "", true), "k-1");
  EXPECT_EQ(*ResolveIdempotencyKey(std::nullopt, "k-2", true), "k-2");
  EXPECT_EQ(*ResolveIdempotencyKey("k-3", "k-3", true), "k-3");
}

TEST(IdempotencyKeyTest, RequiredByDefault) {
  absl::StatusOr<std::string> key = ResolveIdempotencyKey(std::nullopt, "", true);
  ASSERT_TRUE(absl::IsInvalidArgument(key.status()));
  EXPECT_THAT(std::string(key.status().message()), ::testing::StartsWith("idempotency_key: "));
}

TEST(IdempotencyKeyTest, GeneratedWhenNotRequired) {
  absl::StatusOr<std::string> key = ResolveIdempotencyKey(std::nullopt, "", false);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(common::IsUuid(*key));
}

TEST(IdempotencyKeyTest, RejectsConflictTooLongAndUnprintable) {
  EXPECT_TRUE(absl::IsInvalidArgument(ResolveIdempotencyKey("a", "b", true).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(ResolveIdempotencyKey(std::string(256, 'k'), "", true).status()));
  EXPECT_TRUE(ResolveIdempotencyKey(std::string(255, 'k'), "", true).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ResolveIdempotencyKey("a b", "", true).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ResolveIdempotencyKey("a\x01", "", true).status()));
}

}  // namespace
}  // namespace booking::api
