// The served document's examples, checked against the protos: each names a real field or
// method and parses as it, so an example cannot rot when the API changes.
#include "app/openapi_options.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tickets/v1/admin.pb.h"
#include "tickets/v1/booking.pb.h"

namespace booking::app {
namespace {

const google::protobuf::DescriptorPool& Pool() {
  // Linking both files' generated code puts them in the generated pool.
  tickets::v1::Ticket::descriptor();
  tickets::v1::DeadLetter::descriptor();
  return *google::protobuf::DescriptorPool::generated_pool();
}

// `json` parsed as a `message`, unknown fields refused.
absl::Status ParsesAs(const google::protobuf::Descriptor& message, const std::string& json) {
  std::unique_ptr<google::protobuf::Message> parsed(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(&message)->New());
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(json, parsed.get(), options);
  return status.ok() ? absl::OkStatus() : absl::InvalidArgumentError(status.ToString());
}

TEST(OpenApiOptionsTest, EveryFieldExampleIsAValueOfItsField) {
  const openapi::OpenApiOptions options = OpenApiOptionsFor(Config());
  ASSERT_GE(options.field_examples.size(), 10u);
  for (const auto& [name, example] : options.field_examples) {
    const google::protobuf::FieldDescriptor* field = Pool().FindFieldByName(name);
    ASSERT_NE(field, nullptr) << name;
    EXPECT_TRUE(
        ParsesAs(*field->containing_type(), "{\"" + field->name() + "\":" + example + "}").ok())
        << name << " = " << example;
  }
}

TEST(OpenApiOptionsTest, EveryBodyExampleIsARequestOfItsMethod) {
  const openapi::OpenApiOptions options = OpenApiOptionsFor(Config());
  ASSERT_EQ(options.body_examples.size(), 4u);
  for (const auto& [name, example] : options.body_examples) {
    const google::protobuf::MethodDescriptor* method = Pool().FindMethodByName(name);
    ASSERT_NE(method, nullptr) << name;
    EXPECT_TRUE(ParsesAs(*method->input_type(), example).ok()) << name << ": " << example;
  }
  // The write confirms the ticket that the reads' examples name.
  EXPECT_THAT(options.body_examples.at("tickets.v1.BookingService.UpdateTicketsStatus"),
              ::testing::HasSubstr(kExampleTicketId));
  EXPECT_THAT(options.field_examples.at("tickets.v1.GetTicketRequest.ticket_id"),
              ::testing::HasSubstr(kExampleTicketId));
}

TEST(OpenApiOptionsTest, ExtraAnswersNameRealMethodsAndErrorStatuses) {
  const openapi::OpenApiOptions options = OpenApiOptionsFor(Config());
  for (const auto& [name, answers] : options.extra_answers) {
    EXPECT_NE(Pool().FindMethodByName(name), nullptr) << name;
    for (const auto& [status, description] : answers) {
      EXPECT_GE(status, 400) << name;
      EXPECT_FALSE(description.empty()) << name;
    }
  }
  EXPECT_NE(options.comments, nullptr);
}

TEST(OpenApiOptionsTest, ScopesFollowTheFlags) {
  Config config;
  const auto* get_ticket = Pool().FindMethodByName("tickets.v1.BookingService.GetTicket");
  const auto* update = Pool().FindMethodByName("tickets.v1.BookingService.UpdateTicketsStatus");
  const auto* retry = Pool().FindMethodByName("tickets.v1.AdminService.RetryDeadLetters");
  ASSERT_TRUE(get_ticket && update && retry);
  EXPECT_EQ(OpenApiOptionsFor(config).scope_of(*get_ticket), "");
  EXPECT_EQ(OpenApiOptionsFor(config).scope_of(*update), "write");
  EXPECT_EQ(OpenApiOptionsFor(config).scope_of(*retry), "admin");
  config.service.auth_reads = true;
  EXPECT_EQ(OpenApiOptionsFor(config).scope_of(*get_ticket), "read");
}

}  // namespace
}  // namespace booking::app
