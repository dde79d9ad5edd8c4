// The JetStream relay against a real 3-node nats-server cluster on loopback: every event of the
// log in the stream once (by Nats-Msg-Id), each ticket's events in log order, through a node
// SIGKILLed under load, the whole cluster down for 30 s, and booking-server killed mid-publish.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/command.h"
#include "tests/support/eventually.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/test_certificates.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"
#include "tickets/v1/booking.grpc.pb.h"
#include "tickets/v1/events.pb.h"

namespace booking::e2e {
namespace {

using testing::Eventually;
constexpr auto& Count = testing::CountRows;
constexpr char kRelay[] = "PublishToJetStream";

// Callers that confirm a ticket, then cancel it in a second call: two events per ticket, of
// both types, so per-ticket order in the stream means something.
class TicketLoad {
 public:
  TicketLoad(std::string target, int threads, std::string prefix)
      : target_(std::move(target)), prefix_(std::move(prefix)) {
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this, t] { Run(t); });
  }
  ~TicketLoad() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }
  int acknowledged() const { return acknowledged_.load(); }
  int failed() const { return failed_.load(); }

 private:
  void Run(int thread) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    auto stub = tickets::v1::BookingService::NewStub(
        grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args));
    const absl::Time deadline = absl::Now() + absl::Minutes(4);
    for (int i = 0; !stop_ && absl::Now() < deadline; ++i) {
      tickets::v1::UpdateTicketsStatusRequest request =
          testing::ValidRequest(1, prefix_, thread * 1000000 + i);
      for (const char* status : {"confirmed", "canceled"}) {
        request.mutable_tickets(0)->set_status(status);
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
        context.AddMetadata("idempotency-key",
                            absl::StrCat(prefix_, "-", thread, "-", i, "-", status));
        tickets::v1::UpdateTicketsStatusResponse response;
        if (stub->UpdateTicketsStatus(&context, request, &response).ok()) {
          ++acknowledged_;
        } else {
          ++failed_;
          break;  // no cancellation of a ticket whose confirmation may not be there
        }
      }
    }
  }

  const std::string target_, prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<int> acknowledged_{0}, failed_{0};
  std::vector<std::thread> threads_;
};

struct LoggedEvent {
  std::string ticket_id, type;
  int64_t sequence = 0;
};

// The log, by event id.
std::map<std::string, LoggedEvent> ReadLog(const std::string& url) {
  pqxx::connection connection(url);
  pqxx::work txn(connection);
  std::map<std::string, LoggedEvent> events;
  for (const auto& row :
       txn.exec("SELECT event_id::text, ticket_id::text, event_type, sequence FROM events")) {
    events[row[0].as<std::string>()] = {row[1].as<std::string>(), row[2].as<std::string>(),
                                        row[3].as<int64_t>()};
  }
  return events;
}

tickets::v1::HandlerStatus RelayStatus(const std::string& target) {
  auto admin = tickets::v1::AdminService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  tickets::v1::GetHandlerStatusResponse response;
  EXPECT_TRUE(admin->GetHandlerStatus(&context, {}, &response).ok());
  for (const auto& handler : response.handlers()) {
    if (handler.handler() == kRelay) return handler;
  }
  ADD_FAILURE() << "no " << kRelay << " in GetHandlerStatus";
  return {};
}

// The gRPC health status of `service` (UNKNOWN when the health service does not answer).
grpc::health::v1::HealthCheckResponse::ServingStatus Health(const std::string& target,
                                                            const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  if (!stub->Check(&context, request, &response).ok()) {
    return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  }
  return response.status();
}
constexpr auto kServing = grpc::health::v1::HealthCheckResponse::SERVING;
constexpr auto kNotServing = grpc::health::v1::HealthCheckResponse::NOT_SERVING;

// Every event of the log is in the stream exactly once (by Nats-Msg-Id), with the contract's
// subject and headers, and each ticket's events are in log order.
void ExpectStreamIsTheLog(const std::string& database_url, const testing::NatsCluster& nats,
                          const std::string& target = "") {
  ASSERT_TRUE(Eventually(
      [&] {
        return Count(database_url,
                     absl::StrCat("pending_deliveries WHERE handler = '", kRelay, "'")) == 0;
      },
      absl::Seconds(90)))
      << Count(database_url, "pending_deliveries") << " not relayed; relay's last error: "
      << (target.empty() ? "?" : RelayStatus(target).last_error()) << "\n"
      << nats.ReadLogs();
  const std::map<std::string, LoggedEvent> log = ReadLog(database_url);
  absl::StatusOr<std::vector<testing::StreamMessage>> stream =
      testing::ReadStream(nats.urls(), "TICKET_EVENTS");
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::map<std::string, int> copies;
  std::map<std::string, int64_t> last_of_ticket;
  int out_of_order = 0, wrong = 0;
  for (const testing::StreamMessage& message : *stream) {
    ++copies[message.msg_id];
    auto it = log.find(message.msg_id);
    if (it == log.end()) {
      ++wrong;
      continue;
    }
    const LoggedEvent& event = it->second;
    if (message.subject != event.type || message.event_type != event.type ||
        message.ticket_id != event.ticket_id || message.event_sequence != event.sequence ||
        message.content_type != "application/protobuf") {
      ++wrong;
    }
    int64_t& last = last_of_ticket[event.ticket_id];
    if (event.sequence <= last) ++out_of_order;
    last = event.sequence;
  }
  int missing = 0, twice = 0;
  for (const auto& [id, event] : log) {
    const int n = copies.count(id) ? copies[id] : 0;
    missing += n == 0 ? 1 : 0;
    twice += n > 1 ? 1 : 0;
  }
  EXPECT_GT(log.size(), 0u);
  EXPECT_EQ(stream->size(), log.size());
  EXPECT_EQ(missing, 0) << "events of the log not in the stream";
  EXPECT_EQ(twice, 0) << "events in the stream more than once";
  EXPECT_EQ(wrong, 0) << "messages whose subject or headers do not match their event";
  EXPECT_EQ(out_of_order, 0) << "a ticket's events out of log order";
  EXPECT_EQ(Count(database_url, absl::StrCat("dead_letters WHERE handler = '", kRelay, "'")), 0);
  EXPECT_EQ(Count(database_url, absl::StrCat("deliveries WHERE handler = '", kRelay, "'")), 0);
}

class JetStreamE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(nats_.Start().ok()) << nats_.ReadLogs(); }

  // The server with the relay on; target() is then its address.
  std::unique_ptr<testing::BookingServer> Start() {
    return Use(testing::BookingServer::Start(
        db_.url(),
        {"--jetstream_url=" + nats_.urls(), "--delivery_lease=2s", "--retry_first_delay=50ms",
         "--retry_max_delay=1s", "--jetstream_ack_timeout=2s"}));
  }
  std::unique_ptr<testing::BookingServer> StartWithoutRelay() {
    return Use(testing::BookingServer::Start(db_.url()));
  }
  std::unique_ptr<testing::BookingServer> Use(std::unique_ptr<testing::BookingServer> server) {
    target_ = server->target();
    return server;
  }
  const std::string& target() const { return target_; }

  testing::NatsCluster nats_{3};
  testing::TestDatabase db_;
  std::string target_;
};

TEST_F(JetStreamE2eTest, EveryEventOnceInLogOrderThroughANodeKilledUnderLoad) {
  auto server = Start();
  {
    TicketLoad load(target(), 4, "a0000001");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 400; }, absl::Seconds(60)));
    nats_.KillNode(0);
    const int at_kill = load.acknowledged();
    ASSERT_TRUE(
        Eventually([&] { return load.acknowledged() >= at_kill + 600; }, absl::Seconds(60)));
    load.Stop();
    EXPECT_EQ(load.failed(), 0) << "ingest does not depend on NATS";
  }
  ExpectStreamIsTheLog(db_.url(), nats_, target());
  absl::StatusOr<testing::StreamConfig> config =
      testing::ReadStreamConfig(nats_.urls(), "TICKET_EVENTS");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->replicas, 3);
  EXPECT_EQ(config->duplicate_window, absl::Hours(24 * 7)) << "from --event_retention";
  EXPECT_THAT(config->subjects, ::testing::ElementsAre("tickets.v1.>"));
  const tickets::v1::HandlerStatus relay = RelayStatus(target());
  EXPECT_TRUE(relay.broker().connected());
  EXPECT_GT(relay.broker().acknowledged(), 0);
  EXPECT_EQ(relay.dead_lettered(), 0);
  EXPECT_EQ(relay.parked(), 0);

  // A message decodes with the published proto and carries the call's correlation id.
  absl::StatusOr<std::vector<testing::StreamMessage>> stream =
      testing::ReadStream(nats_.urls(), "TICKET_EVENTS");
  ASSERT_TRUE(stream.ok() && !stream->empty());
  tickets::v1::TicketBookingConfirmed confirmed;
  ASSERT_EQ(stream->front().subject, "tickets.v1.TicketBookingConfirmed");
  ASSERT_TRUE(confirmed.ParseFromString(stream->front().data));
  EXPECT_EQ(confirmed.header().id(), stream->front().msg_id);
  EXPECT_EQ(confirmed.ticket_id(), stream->front().ticket_id);
  EXPECT_EQ(confirmed.header().correlation_id(), stream->front().correlation_id);
}

// The whole cluster SIGKILLed for 30 s under load: calls go on being answered as fast, the other
// handlers keep up, the relay waits (breaker, no dead letters, nothing parked), and once the
// cluster is back it catches up with nothing lost and nothing twice.
TEST_F(JetStreamE2eTest, ClusterDownForThirtySecondsThenTheRelayCatchesUp) {
  auto server = Start();
  TicketLoad load(target(), 4, "a0000002");
  ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 300; }, absl::Seconds(60)));
  // Calls answered in 8 s with the cluster up, then in 8 s with it down, from 2 s after the kill
  // (once the relay's breaker is open, as it stays for the rest of the outage): one window each
  // way, long enough that a neighbour's burst of CPU on a shared machine is not the verdict.
  const int before_start = load.acknowledged();
  absl::SleepFor(absl::Seconds(8));
  const int before = load.acknowledged() - before_start;
  for (int i = 0; i < nats_.size(); ++i) nats_.KillNode(i);
  const absl::Time down_at = absl::Now();
  absl::SleepFor(absl::Seconds(2));
  const int during_start = load.acknowledged();
  absl::SleepFor(absl::Seconds(8));
  const int during = load.acknowledged() - during_start;
  // Until the 30 s are up: the local handlers finish what was accepted, the relay does not.
  EXPECT_TRUE(Eventually(
      [&] {
        return Count(db_.url(), "pending_deliveries WHERE handler = 'StoreTickets'") < 200 &&
               Count(db_.url(), absl::StrCat("pending_deliveries WHERE handler = '", kRelay, "'")) >
                   500;
      },
      absl::Seconds(20)))
      << "StoreTickets keeps up while the relay waits";
  EXPECT_FALSE(RelayStatus(target()).broker().connected());
  EXPECT_TRUE(Eventually([&] { return Health(target(), "jetstream") == kNotServing; }))
      << "the relay's own health service follows its connection";
  EXPECT_EQ(Health(target(), "tickets.v1.BookingService"), kServing) << "the service's does not";
  absl::SleepFor(down_at + absl::Seconds(30) - absl::Now());
  for (int i = 0; i < nats_.size(); ++i) ASSERT_TRUE(nats_.StartNode(i).ok());
  ASSERT_TRUE(nats_.WaitUntilReady(absl::Seconds(60)).ok());
  absl::SleepFor(absl::Seconds(2));
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << "ingest never depended on NATS";
  EXPECT_GE(during, before / 2) << "calls answered in 8 s: " << before << " with the cluster up, "
                                << during << " with it down";
  ExpectStreamIsTheLog(db_.url(), nats_, target());
  const tickets::v1::HandlerStatus relay = RelayStatus(target());
  EXPECT_EQ(relay.dead_lettered(), 0);
  EXPECT_EQ(relay.parked_here(), 0) << "a broker outage parks nothing";
  EXPECT_GT(relay.broker().reconnects(), 0);
  EXPECT_EQ(Health(target(), "jetstream"), kServing);
}

// kill -9 of booking-server while it publishes: the next start publishes from the checkpoint
// again, and the stream drops what it already has (Nats-Msg-Id), so nothing is in it twice.
TEST_F(JetStreamE2eTest, KilledMidPublishLeavesNoDuplicateInTheStream) {
  auto server = Start();
  {
    TicketLoad load(target(), 4, "a0000003");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 600; }, absl::Seconds(60)));
    ASSERT_TRUE(server->Kill().ok());
    load.Stop();
  }
  server = Start();
  {
    TicketLoad load(target(), 2, "a0000004");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 200; }, absl::Seconds(60)));
    load.Stop();
  }
  ExpectStreamIsTheLog(db_.url(), nats_, target());
}

// Added to a service that already has events, the relay starts at the earliest (the default
// for a new handler) and publishes the whole log; a replay of all of it publishes every event
// again, and the stream drops every copy (Nats-Msg-Id within the duplicate window).
TEST_F(JetStreamE2eTest, AddedLaterItBackfillsTheLogAndAReplayAddsNothing) {
  {
    auto plain = StartWithoutRelay();
    TicketLoad load(target(), 2, "a0000006");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 100; }, absl::Seconds(60)));
    load.Stop();
    ASSERT_TRUE(plain->Stop().ok());
  }
  EXPECT_FALSE(testing::ReadStream(nats_.urls(), "TICKET_EVENTS").ok()) << "no stream yet";
  auto server = Start();
  ExpectStreamIsTheLog(db_.url(), nats_, target());
  const size_t events = ReadLog(db_.url()).size();

  auto admin = tickets::v1::AdminService::NewStub(server->channel());
  tickets::v1::ReplayHandlerRequest request;
  request.set_handler(kRelay);
  request.set_from_sequence(1);
  tickets::v1::ReplayHandlerResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(admin->ReplayHandler(&context, request, &response).ok());
  EXPECT_EQ(response.replayed(), static_cast<int64_t>(events));
  EXPECT_TRUE(Eventually([&] {
    return RelayStatus(target()).broker().duplicates() >= static_cast<int64_t>(events);
  })) << RelayStatus(target()).broker().duplicates();
  ExpectStreamIsTheLog(db_.url(), nats_, target());
}

// TLS with certificates from files: the relay publishes to a node that requires a client
// certificate; without --jetstream_tls_cert it is refused, and the service answers anyway.
TEST(JetStreamTlsE2eTest, TheRelayConnectsOverMutualTlsFromFlagFiles) {
  char dir[] = "/tmp/booking-nats-tls-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  absl::StatusOr<testing::TestCertificates> certs = testing::TestCertificates::Make(dir);
  ASSERT_TRUE(certs.ok()) << certs.status();
  testing::NatsCluster nats(1, {"--tls", "--tlscert", certs->server_cert, "--tlskey",
                                certs->server_key, "--tlsverify", "--tlscacert", certs->ca});
  ASSERT_TRUE(nats.StartNode(0).ok());
  const std::string url = "tls://" + nats.url(0).substr(7);
  testing::TestDatabase db;
  testing::ServerFlags flags = {"--jetstream_url=" + url, "--jetstream_replicas=1",
                                "--jetstream_tls_ca=" + certs->ca, "--retry_max_delay=1s"};
  {
    auto refused = testing::BookingServer::Start(db.url(), flags);  // no client certificate
    const std::string target = refused->target();
    TicketLoad load(target, 1, "a0000007");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 10; }, absl::Seconds(30)));
    load.Stop();
    absl::SleepFor(absl::Seconds(2));
    const tickets::v1::HandlerStatus relay = RelayStatus(target);
    EXPECT_FALSE(relay.broker().connected());
    EXPECT_GE(relay.lag(), 10);
    const absl::Status stopped = refused->Stop();
    ASSERT_TRUE(stopped.ok()) << stopped << refused->log().substr(refused->log().size() > 3000 ? refused->log().size() - 3000 : 0);
  }
  flags.Set("jetstream_tls_cert", certs->client_cert).Set("jetstream_tls_key", certs->client_key);
  auto server = testing::BookingServer::Start(db.url(), flags);
  const std::string target = server->target();
  const size_t events = ReadLog(db.url()).size();
  EXPECT_TRUE(Eventually(
      [&] {
        const tickets::v1::HandlerStatus relay = RelayStatus(target);
        return relay.broker().connected() && relay.lag() == 0 &&
               relay.broker().acknowledged() >= static_cast<int64_t>(events);
      },
      absl::Seconds(60)))
      << server->log().substr(0, 3000);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

// Another team's service, in another language: examples/subscriber/subscribe.mjs (Node's nats
// client and protobufjs) reads the stream with a durable consumer and decodes each event with
// the published protos. Run again, the consumer has nothing left: it goes on where it was.
TEST_F(JetStreamE2eTest, ANodeSubscriberReadsAndDecodesEveryEvent) {
  auto server = Start();
  {
    TicketLoad load(target(), 2, "a0000005");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged() >= 100; }, absl::Seconds(60)));
    load.Stop();
  }
  ExpectStreamIsTheLog(db_.url(), nats_, target());
  const std::map<std::string, LoggedEvent> log = ReadLog(db_.url());
  const std::string subscribe =
      absl::StrCat("cd ", testing::ShellQuote(BOOKING_SOURCE_DIR),
                   " && timeout 120 node examples/subscriber/subscribe.mjs --servers ",
                   testing::ShellQuote(nats_.urls()), " --durable e2e --until-idle 3000");
  absl::StatusOr<std::string> output = testing::RunCommand(subscribe);
  ASSERT_TRUE(output.ok()) << output.status();
  std::map<std::string, int> seen;
  int decoded = 0, lines = 0;
  for (absl::string_view line : absl::StrSplit(*output, '\n', absl::SkipEmpty())) {
    ++lines;
    // {"stream_sequence":..,"msg_id":"<id>",..,"event":{"header":{"id":"<id>",..
    const size_t at = line.find("\"msg_id\":\"");
    if (at == absl::string_view::npos) continue;
    const std::string id(line.substr(at + 10, 36));
    ++seen[id];
    auto it = log.find(id);
    if (it != log.end() &&
        absl::StrContains(line, absl::StrCat("\"header\":{\"id\":\"", id, "\"")) &&
        absl::StrContains(line, absl::StrCat("\"ticket_id\":\"", it->second.ticket_id, "\""))) {
      ++decoded;
    }
  }
  EXPECT_EQ(lines, static_cast<int>(log.size())) << output->substr(0, 2000);
  EXPECT_EQ(seen.size(), log.size());
  EXPECT_EQ(decoded, static_cast<int>(log.size())) << "events decoded with the published proto";
  absl::StatusOr<std::string> again = testing::RunCommand(subscribe);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, "") << "the durable consumer goes on where it was";
}

}  // namespace
}  // namespace booking::e2e
