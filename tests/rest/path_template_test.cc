#include "rest/path_template.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::rest {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

std::optional<std::vector<std::pair<std::string, std::string>>> Match(const std::string& t,
                                                                      const std::string& path) {
  absl::StatusOr<PathTemplate> parsed = PathTemplate::Parse(t);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed->Match(path);
}

TEST(PathTemplateTest, LiteralsAndSimpleVariables) {
  EXPECT_THAT(*Match("/v1/tickets", "/v1/tickets"), ElementsAre());
  EXPECT_FALSE(Match("/v1/tickets", "/v1/ticket"));
  EXPECT_FALSE(Match("/v1/tickets", "/v1/tickets/x"));
  EXPECT_THAT(*Match("/v1/tickets/{ticket_id}", "/v1/tickets/abc"),
              ElementsAre(Pair("ticket_id", "abc")));
  EXPECT_FALSE(Match("/v1/tickets/{ticket_id}", "/v1/tickets/"));
  EXPECT_FALSE(Match("/v1/tickets/{ticket_id}", "/v1/tickets/a/b"));
}

TEST(PathTemplateTest, VariablesWithSegmentsWildcardsAndVerbs) {
  EXPECT_THAT(*Match("/v1/{name=shelves/*/books/*}", "/v1/shelves/1/books/2"),
              ElementsAre(Pair("name", "shelves/1/books/2")));
  EXPECT_FALSE(Match("/v1/{name=shelves/*/books/*}", "/v1/shelves/1/cds/2"));
  EXPECT_THAT(*Match("/v1/files/{path=**}", "/v1/files/a/b/c.txt"),
              ElementsAre(Pair("path", "a/b/c.txt")));
  EXPECT_THAT(*Match("/v1/files/{path=**}", "/v1/files"), ElementsAre(Pair("path", "")));
  EXPECT_THAT(*Match("/v1/*/items", "/v1/any/items"), ElementsAre());
  EXPECT_THAT(*Match("/v1/{name=rooms/*}:shout", "/v1/rooms/7:shout"),
              ElementsAre(Pair("name", "rooms/7")));
  EXPECT_FALSE(Match("/v1/{name=rooms/*}:shout", "/v1/rooms/7"));
  EXPECT_THAT(*Match("/v1/{a.b}/x/{c}", "/v1/1/x/2"),
              ElementsAre(Pair("a.b", "1"), Pair("c", "2")));
}

TEST(PathTemplateTest, ValuesArePercentDecoded) {
  EXPECT_THAT(*Match("/v1/{id}", "/v1/a%20b%2Fc"), ElementsAre(Pair("id", "a b/c")));
  EXPECT_FALSE(Match("/v1/{id}", "/v1/a%2"));
  EXPECT_FALSE(Match("/v1/{id}", "/v1/a%zz"));
  EXPECT_EQ(*PercentDecode("a+b%21", true), "a b!");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
}

TEST(PathTemplateTest, RejectsMalformedTemplates) {
  for (const char* bad : {"", "v1/x", "/v1/{id", "/v1/{}", "/v1/{1a-}", "/v1/**/x", "/v1//x",
                          "/v1/x:", "/v1/{a}}", "/v1/a b"}) {
    EXPECT_FALSE(PathTemplate::Parse(bad).ok()) << bad;
  }
}

TEST(PathTemplateTest, OpenApiPathWritesEachVariableOnceAsItsName) {
  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/tickets", "/v1/tickets"},
           {"/v1/tickets/{ticket_id}", "/v1/tickets/{ticket_id}"},
           {"/v1/{name=shelves/*/books/*}:get", "/v1/{name}:get"},
           {"/v1/{a.b}/x/{c=**}", "/v1/{a.b}/x/{c}"},
           {"/v1/*/tickets:watch", "/v1/*/tickets:watch"},
       }) {
    EXPECT_EQ(PathTemplate::Parse(text)->OpenApiPath(), expected) << text;
  }
}

}  // namespace
}  // namespace booking::rest
