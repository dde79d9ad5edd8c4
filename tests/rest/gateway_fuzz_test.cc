// A long randomized test of the gateway's parsers (path templates, percent-decoding, query
// strings, JSON bodies into messages): random and mutated inputs must never crash (the ASan build
// runs this too) and must end as a result or INVALID_ARGUMENT. Prints how many inputs it ran.
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <random>

#include "absl/time/clock.h"
#include "echotest/v1/echo.pb.h"
#include "gtest/gtest.h"
#include "rest/json_transcoder.h"
#include "rest/path_template.h"
#include "tickets/v1/booking.pb.h"

namespace booking::rest {
namespace {

constexpr int kIterations = 300000;

std::string RandomString(std::mt19937& random, std::string_view alphabet, size_t max_length) {
  std::string out(std::uniform_int_distribution<size_t>(0, max_length)(random), ' ');
  for (char& c : out) {
    c = alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(random)];
  }
  return out;
}

std::string Mutate(std::mt19937& random, std::string text) {
  const int edits = std::uniform_int_distribution<int>(1, 4)(random);
  for (int e = 0; e < edits; ++e) {
    const size_t at =
        text.empty() ? 0 : std::uniform_int_distribution<size_t>(0, text.size())(random);
    const char byte = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(random));
    switch (std::uniform_int_distribution<int>(0, 2)(random)) {
      case 0:
        text.insert(at, 1, byte);
        break;
      case 1:
        if (at < text.size()) text.erase(at, 1);
        break;
      default:
        if (at < text.size()) text[at] = byte;
    }
  }
  return text;
}

TEST(GatewayFuzzTest, PathTemplatesAndPercentDecoding) {
  std::mt19937 random(20261124);
  const absl::Time start = absl::Now();
  int parsed = 0;
  for (int i = 0; i < kIterations; ++i) {
    const std::string text = "/" + RandomString(random, "abc/{}=*:.%_-1", 24);
    absl::StatusOr<PathTemplate> path = PathTemplate::Parse(text);
    if (!path.ok()) {
      ASSERT_TRUE(absl::IsInvalidArgument(path.status())) << text;
      continue;
    }
    ++parsed;
    for (int m = 0; m < 4; ++m) path->Match("/" + RandomString(random, "abc/:%1f.", 20));
    PercentDecode(RandomString(random, "%0aF+z ", 12), i % 2 == 0);
  }
  std::cout << "[ fuzz ] path templates: " << kIterations << " inputs (" << parsed << " valid) in "
            << absl::FormatDuration(absl::Now() - start) << "\n";
}

TEST(GatewayFuzzTest, RequestsIntoMessages) {
  // Referencing the generated types links their descriptors into the generated pool.
  ASSERT_NE(echotest::v1::EchoRequest::descriptor(), nullptr);
  ASSERT_NE(tickets::v1::UpdateTicketsStatusRequest::descriptor(), nullptr);
  auto transcoder =
      JsonTranscoder::Create(grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
                             {google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                                  "echotest.v1.EchoService"),
                              google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                                  "tickets.v1.BookingService")},
                             absl::Seconds(1));
  ASSERT_TRUE(transcoder.ok());
  const std::vector<std::string> seeds = {
      R"({"tickets":[{"ticket_id":"5a1f3c9e-0b7d-4e2a-9c11-000000000001","status":"confirmed","customer_email":"a@b.c","price":{"amount":"1.00","currency":"EUR"}}]})",
      R"({"name":"n","message":{"text":"t","tags":["x"]},"numbers":[1,2],"color":"COLOR_RED","big":"12","loud":true,"ratio":0.5})",
      R"({"text":"hi","tags":["a","b"]})",
      "[]",
      "{}",
      "null",
      R"("x")"};
  const std::vector<std::pair<std::string, std::string>> targets = {
      {"POST", "/v1/tickets-status"}, {"POST", "/tickets-status"},
      {"GET", "/v1/tickets"},         {"GET", "/v1/tickets/"},
      {"PUT", "/v1/echo-all"},        {"POST", "/v1/echo/rooms/"},
      {"GET", "/v1/files/"},          {"GET", "/v1/echo/rooms/1/messages/"}};
  std::mt19937 random(4242);
  const absl::Time start = absl::Now();
  int routed = 0, accepted = 0;
  for (int i = 0; i < kIterations; ++i) {
    const auto& [method, base] = targets[random() % targets.size()];
    http::Request request;
    request.method = method;
    request.target = base + RandomString(random, "abc19%/:.", 8);
    if (random() % 2 == 0) {
      request.target += "?" + RandomString(random, "abcdefgmnprstuxz_.=&%0+1-", 40);
    }
    request.body = Mutate(random, seeds[random() % seeds.size()]);
    std::vector<std::pair<std::string, std::string>> bindings;
    std::vector<std::string> allowed;
    const std::string path = request.target.substr(0, request.target.find('?'));
    const JsonTranscoder::Route* route =
        (*transcoder)->Find(request.method, path, &bindings, &allowed);
    if (route == nullptr) continue;
    ++routed;
    std::unique_ptr<google::protobuf::Message> input(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(route->binding.method->input_type())
            ->New());
    absl::Status status = (*transcoder)->BuildInput(*route, request, bindings, *input);
    ASSERT_TRUE(status.ok() || absl::IsInvalidArgument(status)) << status;
    accepted += status.ok() ? 1 : 0;
  }
  EXPECT_GT(routed, kIterations / 10);
  EXPECT_GT(accepted, 0);
  std::cout << "[ fuzz ] requests: " << kIterations << " inputs (" << routed << " routed, "
            << accepted << " accepted) in " << absl::FormatDuration(absl::Now() - start) << "\n";
}

}  // namespace
}  // namespace booking::rest
