// Checks events.proto against the committed baseline (protos/compat/events_baseline.txtpb), and
// that the checker catches each kind of break in an edited copy of the real file.
#include "protos/compat/event_compatibility.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "protos/compat/proto_loader.h"
#include "tickets/v1/events.pb.h"

namespace booking::compat {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const std::string kProtosDir = std::string(BOOKING_SOURCE_DIR) + "/protos";
const std::string kBaselinePath = kProtosDir + "/compat/events_baseline.txtpb";
constexpr char kEvents[] = "tickets/v1/events.proto";
constexpr char kBooking[] = "tickets/v1/booking.proto";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// `text` with the first `from` inside `message <message> { ... }` replaced by `to`, so the
// edits follow the real file as it grows.
std::string Edit(const std::string& text, const std::string& message, const std::string& from,
                 const std::string& to) {
  const size_t start = text.find("message " + message + " {");
  const size_t end = text.find("\n}", start);
  const size_t at = text.find(from, start);
  if (start == std::string::npos || at == std::string::npos || at > end) {
    ADD_FAILURE() << "no \"" << from << "\" in message " << message;
    return text;
  }
  std::string out = text;
  out.replace(at, from.size(), to);
  return out;
}

class EventCompatibilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("event_compat_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    absl::StatusOr<LoadedProto> baseline = LoadDescriptorSetFile(kBaselinePath, kEvents);
    ASSERT_TRUE(baseline.ok()) << baseline.status();
    baseline_.emplace(*std::move(baseline));
    events_ = ReadFile(fs::path(kProtosDir) / kEvents);
    booking_ = ReadFile(fs::path(kProtosDir) / kBooking);
    ASSERT_THAT(events_, HasSubstr("message TicketBookingConfirmed {"));
    ASSERT_THAT(booking_, HasSubstr("message Money {"));
  }

  void TearDown() override {
    std::error_code error;
    fs::remove_all(dir_, error);
  }

  // Loads `events` (and `booking` if given) from the test's folder, which shadows the real
  // protos/.
  absl::StatusOr<LoadedProto> Load(const std::string& events, const std::string& booking = "") {
    WriteFile(dir_ / kEvents, events);
    if (!booking.empty()) WriteFile(dir_ / kBooking, booking);
    std::vector<std::string> dirs = DefaultImportDirs(kProtosDir);
    dirs.insert(dirs.begin(), dir_.string());
    return LoadProtoFile(dirs, kEvents);
  }

  // What the checker says about that copy against the committed baseline.
  absl::StatusOr<std::vector<std::string>> Check(const std::string& events,
                                                 const std::string& booking = "") {
    absl::StatusOr<LoadedProto> current = Load(events, booking);
    if (!current.ok()) return current.status();
    return CheckEventCompatibility(baseline_->file(), current->file());
  }

  fs::path dir_;
  std::optional<LoadedProto> baseline_;
  std::string events_;
  std::string booking_;
};

TEST_F(EventCompatibilityTest, CompiledInEventsAreCompatibleWithTheBaseline) {
  const auto& compiled = *tickets::v1::TicketBookingConfirmed::descriptor()->file();
  EXPECT_THAT(CheckEventCompatibility(baseline_->file(), compiled), IsEmpty());
}

TEST_F(EventCompatibilityTest, EventsProtoInTheRepositoryIsCompatibleWithTheBaseline) {
  absl::StatusOr<LoadedProto> current = LoadProtoFile(DefaultImportDirs(kProtosDir), kEvents);
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_THAT(CheckEventCompatibility(baseline_->file(), current->file()), IsEmpty());
}

TEST_F(EventCompatibilityTest, BaselineHoldsEventsAndTheRepositoryFilesTheyImport) {
  google::protobuf::FileDescriptorSet set;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(ReadFile(kBaselinePath), &set));
  ASSERT_EQ(set.file_size(), 2);
  EXPECT_EQ(set.file(0).name(), kBooking);  // dependencies first
  EXPECT_EQ(set.file(1).name(), kEvents);
  for (const auto& file : set.file()) EXPECT_FALSE(file.has_source_code_info()) << file.name();
  const auto* money = baseline_->file().pool()->FindMessageTypeByName("tickets.v1.Money");
  ASSERT_NE(money, nullptr);
  EXPECT_EQ(money->file()->name(), kBooking);
}

TEST_F(EventCompatibilityTest, UnchangedCopyPasses) {
  absl::StatusOr<std::vector<std::string>> problems = Check(events_, booking_);
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, IsEmpty());
}

TEST_F(EventCompatibilityTest, FieldRemovedWithoutReservingFails) {
  auto problems =
      Check(Edit(events_, "TicketBookingConfirmed", "  string customer_email = 3;\n", ""));
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems,
              ElementsAre("tickets.v1.TicketBookingConfirmed: field 3 \"customer_email\" was "
                          "removed without reserving it; add 'reserved 3; reserved "
                          "\"customer_email\";' so the number is never reused (old stored events "
                          "still carry it)"));
}

TEST_F(EventCompatibilityTest, FieldRemovedWithNumberAndNameReservedPasses) {
  auto problems = Check(Edit(events_, "TicketBookingConfirmed", "string customer_email = 3;",
                             "reserved 3;\n  reserved \"customer_email\";"));
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, IsEmpty());
}

TEST_F(EventCompatibilityTest, FieldRemovedWithOnlyItsNumberReservedFails) {
  auto problems =
      Check(Edit(events_, "TicketBookingCanceled", "string customer_email = 3;", "reserved 3;"));
  ASSERT_TRUE(problems.ok()) << problems.status();
  ASSERT_THAT(*problems, SizeIs(1));
  EXPECT_THAT(problems->front(),
              HasSubstr("tickets.v1.TicketBookingCanceled: field 3 \"customer_email\" was removed "
                        "with its number reserved but not its name; add 'reserved "
                        "\"customer_email\";'"));
}

TEST_F(EventCompatibilityTest, FieldNumberChangedFails) {
  auto problems =
      Check(Edit(events_, "TicketBookingConfirmed", "customer_email = 3;", "customer_email = 6;"));
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, Contains(HasSubstr("tickets.v1.TicketBookingConfirmed: field "
                                            "\"customer_email\" moved from number 3 to 6")));
  EXPECT_THAT(*problems, Contains(HasSubstr("field 3 \"customer_email\" was removed without "
                                            "reserving it")));
}

TEST_F(EventCompatibilityTest, FieldTypeChangedFails) {
  auto problems =
      Check(Edit(events_, "TicketBookingConfirmed", "Money price = 4;", "string price = 4;"));
  ASSERT_TRUE(problems.ok()) << problems.status();
  ASSERT_THAT(*problems, SizeIs(1));
  EXPECT_THAT(problems->front(), HasSubstr("tickets.v1.TicketBookingConfirmed: field 4 \"price\" "
                                           "changed type from tickets.v1.Money to string"));
}

TEST_F(EventCompatibilityTest, SingularFieldMadeRepeatedFails) {
  auto problems = Check(Edit(events_, "TicketBookingCanceled", "string ticket_id = 2;",
                             "repeated string ticket_id = 2;"));
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, ElementsAre(HasSubstr("tickets.v1.TicketBookingCanceled: field 2 "
                                               "\"ticket_id\" changed type from string to "
                                               "repeated string")));
}

TEST_F(EventCompatibilityTest, FieldNumberReusedByAnotherFieldFails) {
  auto problems = Check(
      Edit(events_, "TicketBookingConfirmed", "string customer_email = 3;", "string phone = 3;"));
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, ElementsAre(HasSubstr("tickets.v1.TicketBookingConfirmed: field 3 "
                                               "\"customer_email\" is now named \"phone\"")));
}

TEST_F(EventCompatibilityTest, MessageRenamedFails) {
  auto problems = Check(Edit(events_, "TicketBookingCanceled", "TicketBookingCanceled {",
                             "TicketBookingCancelled {"));
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, ElementsAre(HasSubstr("tickets.v1.TicketBookingCanceled: message is gone "
                                               "(removed or renamed)")));
}

TEST_F(EventCompatibilityTest, PackageChangedFails) {
  std::string events = events_;
  for (size_t at; (at = events.find("  Money price")) != std::string::npos;) {
    events.replace(at, 13, "  tickets.v1.Money price");
  }
  const size_t package = events.find("package tickets.v1;");
  ASSERT_NE(package, std::string::npos);
  events.replace(package, 19, "package tickets.v2;");
  auto problems = Check(events);
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, Contains(HasSubstr("tickets/v1/events.proto: package changed from "
                                            "\"tickets.v1\" to \"tickets.v2\"")));
  EXPECT_THAT(*problems, Contains(HasSubstr("tickets.v1.TicketBookingConfirmed: message is gone")));
}

TEST_F(EventCompatibilityTest, FieldOfAReferencedMessageInAnotherFileIsChecked) {
  auto problems =
      Check(events_, Edit(booking_, "Money", "  string currency = 2;\n", "  int32 cents = 3;\n"));
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, ElementsAre(HasSubstr("tickets.v1.Money: field 2 \"currency\" was removed "
                                               "without reserving it")));
}

TEST_F(EventCompatibilityTest, NewFieldAndNewMessagePass) {
  std::string events = Edit(events_, "TicketBookingConfirmed", "string booking_id = 5;",
                            "string booking_id = 5;\n  string seat = 6;");
  events +=
      "\nmessage TicketBookingMoved {\n  EventHeader header = 1;\n  string ticket_id = 2;\n}\n";
  auto problems = Check(events);
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_THAT(*problems, IsEmpty());
  // The edit really reached the parsed file.
  absl::StatusOr<LoadedProto> edited = Load(events);
  ASSERT_TRUE(edited.ok()) << edited.status();
  EXPECT_NE(edited->file().FindMessageTypeByName("TicketBookingMoved"), nullptr);
}

TEST_F(EventCompatibilityTest, EnumValueRemovedWithoutReservingFails) {
  const std::string baseline_file =
      "syntax = \"proto3\";\npackage compat_test.v1;\n"
      "enum Kind {\n  KIND_UNSPECIFIED = 0;\n  KIND_A = 1;\n  KIND_B = 2;\n}\n"
      "message Happened {\n  Kind kind = 1;\n}\n";
  WriteFile(dir_ / "old" / "compat_test.proto", baseline_file);
  std::string removed_file = baseline_file;
  removed_file.replace(removed_file.find("  KIND_B = 2;\n"), 14, "");
  WriteFile(dir_ / "removed" / "compat_test.proto", removed_file);
  std::string reserved = baseline_file;
  reserved.replace(reserved.find("KIND_B = 2;"), 11, "reserved 2;\n  reserved \"KIND_B\";");
  WriteFile(dir_ / "reserved" / "compat_test.proto", reserved);

  auto old = LoadProtoFile({(dir_ / "old").string()}, "compat_test.proto");
  auto removed = LoadProtoFile({(dir_ / "removed").string()}, "compat_test.proto");
  auto kept = LoadProtoFile({(dir_ / "reserved").string()}, "compat_test.proto");
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_THAT(CheckEventCompatibility(old->file(), removed->file()),
              ElementsAre(HasSubstr("compat_test.v1.Kind: value 2 \"KIND_B\" was removed without "
                                    "reserving it; add 'reserved 2; reserved \"KIND_B\";'")));
  EXPECT_THAT(CheckEventCompatibility(old->file(), kept->file()), IsEmpty());
}

TEST_F(EventCompatibilityTest, SyntaxErrorNamesFileAndLine) {
  const int line = static_cast<int>(std::count(events_.begin(), events_.end(), '\n')) + 1;
  auto problems = Check(events_ + "message Broken { string x = ; }\n");
  ASSERT_FALSE(problems.ok());
  EXPECT_THAT(std::string(problems.status().message()),
              HasSubstr("tickets/v1/events.proto:" + std::to_string(line) + ":"));
}

TEST_F(EventCompatibilityTest, MissingBaselineIsAnError) {
  auto loaded = LoadDescriptorSetFile((dir_ / "none.txtpb").string(), kEvents);
  EXPECT_FALSE(loaded.ok());
  auto without_events = LoadDescriptorSetText("file { name: \"x.proto\" }", kEvents);
  ASSERT_FALSE(without_events.ok());
  EXPECT_THAT(std::string(without_events.status().message()),
              HasSubstr("has no " + std::string(kEvents)));
}

}  // namespace
}  // namespace booking::compat
