// The served OpenAPI document against the tools that read it, with the real binary: Redocly's
// recommended rules, and the contract test (tests/contract/openapi_contract.mjs) that calls
// every documented operation from the document alone and validates each answer. The checker is
// also given doctored documents, to see it fail where a client would.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/booking_server.h"
#include "tests/support/command.h"
#include "tests/support/http_call.h"
#include "tests/support/test_database.h"

namespace booking::e2e {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSource = BOOKING_SOURCE_DIR;

class OpenApiContractE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new testing::TestDatabase();
    server_ = testing::BookingServer::Start(db_->url()).release();
  }
  static void TearDownTestSuite() {
    delete server_;  // checks the graceful stop
    delete db_;
  }

  static std::string Base() { return server_->url(); }

  // The served document, also written to a file of the test's own.
  std::string Document() {
    testing::HttpCaller http;
    testing::HttpResult answer = http.Call("GET", Base() + "/openapi.json");
    EXPECT_EQ(answer.status, 200);
    return answer.body;
  }
  fs::path Write(const std::string& name, const std::string& text) {
    const fs::path path = fs::path(::testing::TempDir()) /
                          absl::StrCat("openapi_", getpid(), "_", server_->http_port(), "_", name);
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }

  // The contract test against the server (bounded: it has 13 operations, each of a few ms).
  testing::CommandResult Contract(const std::string& extra = "") {
    return testing::Run(absl::StrCat(
        "cd ", testing::ShellQuote(kSource.string()), " && timeout 120 node ",
        "tests/contract/openapi_contract.mjs ", Base(), extra.empty() ? "" : " " + extra));
  }

  static int CountOperations(const std::string& document) {
    google::protobuf::Value value;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(document, &value).ok());
    int operations = 0;
    for (const auto& [path, item] :
         value.struct_value().fields().at("paths").struct_value().fields()) {
      operations += item.struct_value().fields_size();
    }
    return operations;
  }

  static testing::TestDatabase* db_;
  static testing::BookingServer* server_;
};

testing::TestDatabase* OpenApiContractE2eTest::db_ = nullptr;
testing::BookingServer* OpenApiContractE2eTest::server_ = nullptr;

TEST_F(OpenApiContractE2eTest, RedoclysRecommendedRulesFindNoError) {
  const fs::path document = Write("lint.json", Document());
  const testing::CommandResult lint = testing::Run(absl::StrCat(
      "timeout 120 ", testing::ShellQuote((kSource / "node_modules/.bin/redocly").string()),
      " lint --extends recommended --format=stylish ", testing::ShellQuote(document.string())));
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  EXPECT_THAT(lint.output, HasSubstr("Your API description is valid"));
  EXPECT_THAT(lint.output, ::testing::Not(HasSubstr(" error ")));
}

TEST_F(OpenApiContractE2eTest, EveryDocumentedOperationAnswersAsDocumented) {
  const int operations = CountOperations(Document());
  EXPECT_GE(operations, 13);
  const testing::CommandResult contract = Contract();
  EXPECT_EQ(contract.exit_code, 0) << contract.output;
  std::smatch summary;
  ASSERT_TRUE(std::regex_search(contract.output, summary,
                                std::regex(R"(contract: (\d+) operations, (\d+) answers checked, )"
                                           R"(0 failures; no 2xx from: (.*))")))
      << contract.output;
  EXPECT_EQ(std::stoi(summary[1]), operations);
  // Every operation once per documented media type, plus each write once without its key.
  EXPECT_EQ(std::stoi(summary[2]), operations + 3) << contract.output;
  // Its example names a handler the default configuration does not have: 404, as documented.
  EXPECT_EQ(summary[3], "AdminService_RetireHandler") << contract.output;
  // The write waited for STORED (its Prefer example), so the read of its ticket found it.
  EXPECT_THAT(contract.output, HasSubstr("GET /v1/tickets/{ticket_id} (Accept: application/json) "
                                         "-> 200 application/json"));
  EXPECT_THAT(contract.output, HasSubstr("GET /v1/tickets:watch (Accept: text/event-stream) "
                                         "-> 200 text/event-stream"));
  EXPECT_THAT(contract.output, HasSubstr("POST /v1/tickets-status without Idempotency-Key -> 400"));
}

TEST_F(OpenApiContractE2eTest, CheckerRefusesAnAnswerThatBreaksItsSchema) {
  std::string document = Document();
  // Ticket.status documented as an integer: the server's string must be refused.
  const std::string status = R"("status":{"description":)";
  const size_t ticket = document.find(R"("tickets.v1.Ticket":{)");
  ASSERT_NE(ticket, std::string::npos);
  const size_t at = document.find(status, ticket);
  ASSERT_NE(at, std::string::npos);
  const size_t type = document.find(R"("type":"string")", at);
  ASSERT_NE(type, std::string::npos);
  document.replace(type, 15, R"("type":"integer")");
  const testing::CommandResult contract =
      Contract("--document " + testing::ShellQuote(Write("wrong_schema.json", document).string()));
  EXPECT_EQ(contract.exit_code, 1) << contract.output;
  EXPECT_THAT(contract.output, HasSubstr("FAIL GET /v1/tickets/{ticket_id} (Accept: "
                                         "application/json): 200 application/json does not "
                                         "match its schema"));
}

TEST_F(OpenApiContractE2eTest, CheckerRefusesAnUndocumentedAnswer) {
  std::string document = Document();
  // The retire operation's 404 taken out of the document.
  const size_t retire = document.find(R"("/v1/admin/handlers/{handler}:retire":)");
  ASSERT_NE(retire, std::string::npos);
  const size_t not_found = document.find(R"("404":)", retire);
  ASSERT_NE(not_found, std::string::npos);
  document.replace(not_found, 6, R"("499":)");
  const testing::CommandResult contract =
      Contract("--document " + testing::ShellQuote(Write("no_404.json", document).string()));
  EXPECT_EQ(contract.exit_code, 1) << contract.output;
  EXPECT_THAT(contract.output, HasSubstr("FAIL POST /v1/admin/handlers/{handler}:retire (Accept: "
                                         "application/json): status 404 is not documented"));
}

TEST_F(OpenApiContractE2eTest, CheckerRefusesAnOperationWithoutExamples) {
  std::string document = Document();
  const std::string example = R"("example":"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b","in":"path")";
  const size_t at = document.find(example);
  ASSERT_NE(at, std::string::npos);
  document.replace(at, example.size(), R"("in":"path")");
  const testing::CommandResult contract =
      Contract("--document " + testing::ShellQuote(Write("no_example.json", document).string()));
  EXPECT_EQ(contract.exit_code, 1) << contract.output;
  EXPECT_THAT(contract.output,
              HasSubstr("FAIL GET /v1/tickets/{ticket_id}: no example for path parameter "
                        "ticket_id"));
}

}  // namespace
}  // namespace booking::e2e
