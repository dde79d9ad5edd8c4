// The protos against Buf's rules (tools/buf.sh, protos/buf.yaml): lint clean, and no breaking
// change against the committed image of every proto (protos/image.json). Each kind of break is
// tried on an edited copy of the real protos, so the check is seen to catch it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/command.h"

namespace booking::protos {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kSource = BOOKING_SOURCE_DIR;
constexpr char kEvents[] = "tickets/v1/events.proto";
constexpr char kBooking[] = "tickets/v1/booking.proto";
constexpr char kAdmin[] = "tickets/v1/admin.proto";

using Outcome = testing::CommandResult;

// Runs `tools/buf.sh <args>` (bounded: protoc and buf take well under a second).
Outcome Buf(const std::string& args) {
  return testing::Run("timeout 120 bash " +
                      testing::ShellQuote((kSource / "tools/buf.sh").string()) + " " + args);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class BufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    copy_ = fs::path(::testing::TempDir()) /
            ("buf_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(copy_);
    fs::copy(kSource / "protos", copy_, fs::copy_options::recursive);
  }
  void TearDown() override {
    std::error_code error;
    fs::remove_all(copy_, error);
  }

  // Replaces the first `from` in the copy's `file` by `to`.
  void Edit(const std::string& file, const std::string& from, const std::string& to) {
    std::string text = ReadFile(copy_ / file);
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << "no \"" << from << "\" in " << file;
    text.replace(at, from.size(), to);
    std::ofstream(copy_ / file, std::ios::binary | std::ios::trunc) << text;
  }

  Outcome Breaking() { return Buf("breaking " + testing::ShellQuote(copy_.string())); }
  Outcome Lint() { return Buf("lint " + testing::ShellQuote(copy_.string())); }

  fs::path copy_;
};

TEST_F(BufTest, ProtosAreLintClean) {
  const Outcome lint = Buf("lint");
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  EXPECT_THAT(lint.output, HasSubstr("lint clean"));
}

TEST_F(BufTest, ProtosHaveNoBreakingChangeAgainstThePublishedImage) {
  const Outcome breaking = Buf("breaking");
  EXPECT_EQ(breaking.exit_code, 0) << breaking.output;
}

TEST_F(BufTest, ImageHoldsEveryProtoOfTheProjectWithoutComments) {
  const std::string image = ReadFile(kSource / "protos/image.json");
  for (const char* file : {kEvents, kBooking, kAdmin, "external/v1/receipts.proto",
                           "external/v1/spreadsheets.proto", "echotest/v1/echo.proto"}) {
    EXPECT_NE(image.find("\"name\": \"" + std::string(file) + "\""), std::string::npos) << file;
  }
  // find(), not HasSubstr: a failure should not print the whole image.
  EXPECT_EQ(image.find("\"sourceCodeInfo\": {"), std::string::npos) << "comments are recorded";
}

TEST_F(BufTest, LintStillAppliesItsRules) {
  Edit(kAdmin, "service AdminService {", "enum Shade {\n  DARK = 0;\n}\n\nservice AdminService {");
  const Outcome lint = Lint();
  EXPECT_NE(lint.exit_code, 0);
  EXPECT_THAT(lint.output,
              HasSubstr("Enum value name \"DARK\" should be prefixed with \"SHADE_\""));
}

TEST_F(BufTest, UnchangedCopyPasses) {
  const Outcome breaking = Breaking();
  EXPECT_EQ(breaking.exit_code, 0) << breaking.output;
}

TEST_F(BufTest, FieldRemovedWithoutReservingFails) {
  Edit(kEvents, "  string customer_email = 3;\n", "");
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output,
              AllOf(HasSubstr("tickets/v1/events.proto:"),
                    HasSubstr("Previously present field \"3\" with name \"customer_email\" on "
                              "message \"TicketBookingConfirmed\" was deleted without reserving "
                              "the number \"3\""),
                    HasSubstr("without reserving the name \"customer_email\"")));
}

TEST_F(BufTest, FieldRemovedWithNumberAndNameReservedPasses) {
  Edit(kEvents, "string customer_email = 3;", "reserved 3;\n  reserved \"customer_email\";");
  const Outcome breaking = Breaking();
  EXPECT_EQ(breaking.exit_code, 0) << breaking.output;
}

TEST_F(BufTest, FieldRemovedWithOnlyItsNumberReservedFails) {
  Edit(kEvents, "string customer_email = 3;", "reserved 3;");
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output, HasSubstr("without reserving the name \"customer_email\""));
  EXPECT_THAT(breaking.output, Not(HasSubstr("without reserving the number")));
}

TEST_F(BufTest, FieldNumberChangedFails) {
  Edit(kEvents, "customer_email = 3;", "customer_email = 6;");
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output,
              HasSubstr("Previously present field \"3\" with name "
                        "\"customer_email\" on message \"TicketBookingConfirmed\""));
}

TEST_F(BufTest, FieldTypeChangedFails) {
  Edit(kEvents, "Money price = 4;", "string price = 4;");
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output, HasSubstr("Field \"4\" with name \"price\" on message "
                                         "\"TicketBookingConfirmed\" changed type from "
                                         "\"message\" to \"string\""));
}

TEST_F(BufTest, SingularFieldMadeRepeatedFails) {
  Edit(kEvents, "string ticket_id = 2;", "repeated string ticket_id = 2;");
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output, HasSubstr("Field \"2\" with name \"ticket_id\" on message "
                                         "\"TicketBookingConfirmed\" changed cardinality"));
}

TEST_F(BufTest, FieldRenamedFails) {
  Edit(kEvents, "string customer_email = 3;", "string phone = 3;");
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output, HasSubstr("Field \"3\" on message \"TicketBookingConfirmed\" "
                                         "changed name from \"customer_email\" to \"phone\""));
}

TEST_F(BufTest, MessageRenamedFails) {
  Edit(kEvents, "TicketBookingCanceled {", "TicketBookingCancelled {");
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output,
              HasSubstr("Previously present message \"TicketBookingCanceled\" was deleted"));
}

TEST_F(BufTest, PackageChangedFails) {
  // events.proto names Money unqualified; qualify it so the moved file still compiles.
  Edit(kEvents, "  Money price = 4;", "  tickets.v1.Money price = 4;");
  Edit(kEvents, "  Money price = 4;", "  tickets.v1.Money price = 4;");
  Edit(kEvents, "package tickets.v1;", "package tickets.v2;");
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output,
              HasSubstr("File package changed from \"tickets.v1\" to \"tickets.v2\""));
}

TEST_F(BufTest, EnumValueRemovedWithoutReservingFails) {
  Edit(kBooking, "STORED = 2;", "");  // the first: Consistency's
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output, HasSubstr("Previously present enum value \"2\" on enum "
                                         "\"Consistency\" was deleted without reserving the "
                                         "name \"STORED\""));
}

TEST_F(BufTest, ApiChangesAreCheckedAsWellAsEvents) {
  Edit(kAdmin, "rpc RetireHandler(", "rpc DropHandler(");
  const Outcome breaking = Breaking();
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_THAT(breaking.output, HasSubstr("Previously present RPC \"RetireHandler\" on service "
                                         "\"AdminService\" was deleted"));
}

TEST_F(BufTest, NewFieldAndNewMessagePass) {
  Edit(kEvents, "string booking_id = 5;", "string booking_id = 5;\n  string seat = 6;");
  Edit(kEvents, "message TicketBookingCanceled {",
       "message TicketBookingMoved {\n  EventHeader header = 1;\n  string ticket_id = 2;\n}\n\n"
       "message TicketBookingCanceled {");
  const Outcome breaking = Breaking();
  EXPECT_EQ(breaking.exit_code, 0) << breaking.output;
  // The edit reached the compiled copy: a syntax error there is reported, not passed over.
  Edit(kEvents, "string seat = 6;", "string seat = ;");
  const Outcome broken = Breaking();
  EXPECT_NE(broken.exit_code, 0);
  EXPECT_THAT(broken.output, HasSubstr("tickets/v1/events.proto:"));
}

}  // namespace
}  // namespace booking::protos
