#include "common/json_log_formatter.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "common/logging.h"
#include "gtest/gtest.h"
#include "spdlog/details/log_msg.h"

namespace booking::common {
namespace {

google::protobuf::Struct Format(std::string_view payload, std::string* line = nullptr) {
  spdlog::details::log_msg msg("booking", spdlog::level::warn,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t out;
  JsonLogFormatter().format(msg, out);
  const std::string text(out.data(), out.size());
  if (line != nullptr) *line = text;
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &parsed).ok()) << text;
  return parsed;
}

std::string Field(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "<absent>" : it->second.string_value();
}

// A value from outside goes through LogValue: whatever it holds, it stays one field and forges
// none.
TEST(JsonLogFormatterTest, LogValueKeepsHostileValuesInOneField) {
  for (const std::string& hostile :
       {std::string("/x status=500"), std::string("a\" status=\"500"), std::string("tab\there"),
        std::string("back\\slash"), std::string("new\nline level=error"),
        std::string("not an escape: \\x41"), std::string("")}) {
    std::string line;
    google::protobuf::Struct s = Format("call path=" + LogValue(hostile) + " status=200", &line);
    EXPECT_EQ(Field(s, "status"), "200") << line;
    EXPECT_EQ(Field(s, "level"), "warning") << line;
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    EXPECT_EQ(Field(s, "path"), hostile) << line;  // control bytes come back as themselves
  }
  EXPECT_EQ(LogValue("/v1/tickets/5a1f3c9e-0b7d"), "/v1/tickets/5a1f3c9e-0b7d") << "plain stays";
}

TEST(JsonLogFormatterTest, SplitsMessageAndKeyValueFieldsIntoOneJsonLine) {
  std::string line;
  google::protobuf::Struct s = Format(
      "delivery failed handler=IssueReceipt event_id=e-1 correlation_id=c-9 "
      "error=\"UNAVAILABLE: receipts API said \\\"busy\\\"\"",
      &line);
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one line";
  EXPECT_EQ(Field(s, "message"), "delivery failed");
  EXPECT_EQ(Field(s, "level"), "warning");
  EXPECT_EQ(Field(s, "handler"), "IssueReceipt");
  EXPECT_EQ(Field(s, "event_id"), "e-1");
  EXPECT_EQ(Field(s, "correlation_id"), "c-9");
  EXPECT_EQ(Field(s, "error"), "UNAVAILABLE: receipts API said \"busy\"");
  EXPECT_EQ(Field(s, "time").back(), 'Z');
  EXPECT_TRUE(s.fields().at("thread").has_number_value());
}

TEST(JsonLogFormatterTest, EscapesControlCharactersAndKeepsPlainMessages) {
  google::protobuf::Struct s = Format("line one\nline \"two\"\t\x01 end");
  EXPECT_EQ(Field(s, "message"), "line one\nline \"two\"\t\x01 end");
}

TEST(JsonLogFormatterTest, WordsThatAreNotPairsStayInTheMessage) {
  google::protobuf::Struct s = Format("stopped count=3 (they will be redone) a=b=c");
  EXPECT_EQ(Field(s, "message"), "stopped (they will be redone)");
  EXPECT_EQ(Field(s, "count"), "3");
  EXPECT_EQ(Field(s, "a"), "b=c");
}

TEST(JsonLogFormatterTest, PairsNamedLikeRecordFieldsDoNotOverwriteThem) {
  google::protobuf::Struct s = Format("stopped thread=worker-1 level=x message=y");
  EXPECT_EQ(Field(s, "message"), "stopped");
  EXPECT_EQ(Field(s, "level"), "warning");
  EXPECT_TRUE(s.fields().at("thread").has_number_value());
  EXPECT_EQ(Field(s, "thread_field"), "worker-1");
  EXPECT_EQ(Field(s, "message_field"), "y");
}

}  // namespace
}  // namespace booking::common
