#include "storage/pg_array.h"

#include "gtest/gtest.h"

namespace booking::storage {
namespace {

TEST(PgArrayTest, QuotesAndEscapesEveryElement) {
  std::vector<std::string> values = {"plain", "with,comma", "q\"uote", "back\\slash", "{}", ""};
  const std::string literal = ToPgArrayLiteral(absl::Span<const std::string>(values),
                                               [](const std::string& s) { return s; });
  EXPECT_EQ(literal, R"({"plain","with,comma","q\"uote","back\\slash","{}",""})");
}

TEST(PgArrayTest, EscapesRunsOfSpecialCharactersAtBothEnds) {
  std::vector<std::string> values = {"\"\\x\\\"", "\\\\"};
  const std::string literal = ToPgArrayLiteral(absl::Span<const std::string>(values),
                                               [](const std::string& s) { return s; });
  EXPECT_EQ(literal, R"({"\"\\x\\\"","\\\\"})");
}

TEST(PgArrayTest, EmptyAsNull) {
  std::vector<std::string> values = {"a", ""};
  EXPECT_EQ(
      ToPgArrayLiteral(
          absl::Span<const std::string>(values), [](const std::string& s) { return s; }, true),
      R"({"a",NULL})");
}

}  // namespace
}  // namespace booking::storage
