#include "common/uuid.h"

#include <set>

#include "gtest/gtest.h"

namespace booking::common {
namespace {

TEST(UuidTest, NewUuidsAreCanonicalVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUuid();
    ASSERT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_EQ(NormalizeUuid(id), id);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(UuidTest, RecognisesOnlyTheCanonicalForm) {
  EXPECT_TRUE(IsUuid("5a1f3c9e-0b7d-4e2a-9c11-000000000001"));
  EXPECT_TRUE(IsUuid("5A1F3C9E-0B7D-4E2A-9C11-00000000000F"));
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("5a1f3c9e0b7d4e2a9c11000000000001"));
  EXPECT_FALSE(IsUuid("{5a1f3c9e-0b7d-4e2a-9c11-00000000001}"));
  EXPECT_FALSE(IsUuid("5a1f3c9e-0b7d-4e2a-9c11-00000000000g"));
  EXPECT_FALSE(IsUuid("5a1f3c9e-0b7d-4e2a-9c1100-000000000"));
  EXPECT_EQ(NormalizeUuid("5A1F3C9E-0B7D-4E2A-9C11-00000000000F"),
            "5a1f3c9e-0b7d-4e2a-9c11-00000000000f");
}

}  // namespace
}  // namespace booking::common
