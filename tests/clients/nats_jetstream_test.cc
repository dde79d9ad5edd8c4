// NatsJetStream against a real nats-server (one node, JetStream on): the stream made when
// missing, every publish acknowledged, a re-publish dropped by Nats-Msg-Id, and a broker that
// is away reported as the API failing (so the lane pauses rather than parks).
#include "clients/nats_jetstream.h"

#include <signal.h>

#include "absl/time/clock.h"
#include "domain/handler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/eventually.h"
#include "tests/support/nats_cluster.h"

namespace booking::clients {
namespace {

std::vector<BrokerMessage> Messages(const std::vector<std::string>& ids) {
  static const std::string kData = "payload";
  std::vector<BrokerMessage> messages;
  for (const std::string& id : ids) {
    messages.push_back({.subject = "tickets.v1.TicketBookingConfirmed",
                        .id = id,
                        .data = kData,
                        .headers = {{"Ticket-Id", "t-" + id}}});
  }
  return messages;
}

NatsJetStreamOptions Options(const testing::NatsCluster& nats) {
  NatsJetStreamOptions options;
  options.servers = {nats.url(0)};
  options.replicas = 1;
  options.duplicate_window = absl::Minutes(10);
  options.ack_timeout = absl::Seconds(2);
  return options;
}

TEST(NatsJetStreamTest, PublishesAreAcknowledgedAndARepublishIsStoredOnce) {
  testing::NatsCluster nats(1);
  ASSERT_TRUE(nats.Start().ok()) << nats.ReadLogs();
  absl::StatusOr<std::unique_ptr<NatsJetStream>> js = NatsJetStream::Connect(Options(nats));
  ASSERT_TRUE(js.ok()) << js.status();
  ASSERT_TRUE(testing::Eventually([&] { return (*js)->state().connected; }));

  std::vector<absl::Status> results(3);
  (*js)->PublishEach(Messages({"a", "b", "c"}), absl::MakeSpan(results));
  for (const absl::Status& result : results) EXPECT_TRUE(result.ok()) << result;
  (*js)->PublishEach(Messages({"b", "c", "d"}), absl::MakeSpan(results));
  for (const absl::Status& result : results) EXPECT_TRUE(result.ok()) << result;

  const PublisherState state = (*js)->state();
  EXPECT_EQ(state.acknowledged, 6);
  EXPECT_EQ(state.duplicates, 2);
  EXPECT_EQ(state.pending, 0);
  absl::StatusOr<std::vector<testing::StreamMessage>> stream =
      testing::ReadStream(nats.urls(), "TICKET_EVENTS");
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::vector<std::string> ids;
  for (const auto& message : *stream) ids.push_back(message.msg_id);
  EXPECT_THAT(ids, ::testing::ElementsAre("a", "b", "c", "d"));
  EXPECT_EQ(stream->front().ticket_id, "t-a");
  absl::StatusOr<testing::StreamConfig> config =
      testing::ReadStreamConfig(nats.urls(), "TICKET_EVENTS");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->duplicate_window, absl::Minutes(10));
  EXPECT_THAT(config->subjects, ::testing::ElementsAre("tickets.v1.>"));
}

TEST(NatsJetStreamTest, ABrokerThatIsAwayIsTheApiFailingForEveryEvent) {
  testing::NatsCluster nats(1);
  ASSERT_TRUE(nats.Start().ok()) << nats.ReadLogs();
  absl::StatusOr<std::unique_ptr<NatsJetStream>> js = NatsJetStream::Connect(Options(nats));
  ASSERT_TRUE(js.ok()) << js.status();
  ASSERT_TRUE(testing::Eventually([&] { return (*js)->state().connected; }));
  nats.KillNode(0);
  ASSERT_TRUE(testing::Eventually([&] { return !(*js)->state().connected; }));

  std::vector<absl::Status> results(2);
  const absl::Time start = absl::Now();
  (*js)->PublishEach(Messages({"x", "y"}), absl::MakeSpan(results));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "fails at once, not after a timeout";
  for (const absl::Status& result : results) {
    EXPECT_TRUE(absl::IsUnavailable(result)) << result;
    EXPECT_TRUE(domain::IsApiFailure(result)) << "the lane pauses; nothing is parked";
  }
  EXPECT_FALSE((*js)->state().last_error.empty());

  ASSERT_TRUE(nats.StartNode(0).ok());
  ASSERT_TRUE(nats.WaitUntilReady(absl::Seconds(30)).ok());
  ASSERT_TRUE(testing::Eventually([&] { return (*js)->state().connected; }));
  EXPECT_TRUE(testing::Eventually([&] {
    (*js)->PublishEach(Messages({"x", "y"}), absl::MakeSpan(results));
    return results[0].ok() && results[1].ok();
  })) << results[0];
  EXPECT_GE((*js)->state().reconnects, 1);
}

TEST(NatsJetStreamTest, StartsWhileNoServerAnswersAndConnectsLater) {
  testing::NatsCluster nats(1);
  absl::StatusOr<std::unique_ptr<NatsJetStream>> js = NatsJetStream::Connect(Options(nats));
  ASSERT_TRUE(js.ok()) << js.status();
  EXPECT_FALSE((*js)->state().connected);
  ASSERT_TRUE(nats.Start().ok());
  EXPECT_TRUE(testing::Eventually([&] { return (*js)->state().connected; }));
}

}  // namespace
}  // namespace booking::clients
