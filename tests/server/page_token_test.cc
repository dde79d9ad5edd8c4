#include "server/page_token.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::server {
namespace {

TEST(PageTokenTest, RoundTrips) {
  const std::string id = "5a1f3c9e-0b7d-4e2a-9c11-000000000001";
  const std::string token = EncodePageToken(id);
  EXPECT_EQ(token.find_first_of("+/="), std::string::npos) << "must be URL-safe: " << token;
  absl::StatusOr<std::string> decoded = DecodePageToken(token);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, id);
}

TEST(PageTokenTest, RejectsForeignTokens) {
  for (const char* token : {"garbage!", "YWZ0ZXI6", "bm90LW91cnM"}) {
    absl::StatusOr<std::string> decoded = DecodePageToken(token);
    ASSERT_TRUE(absl::IsInvalidArgument(decoded.status())) << token;
    EXPECT_THAT(std::string(decoded.status().message()), ::testing::StartsWith("page_token: "));
  }
}

}  // namespace
}  // namespace booking::server
