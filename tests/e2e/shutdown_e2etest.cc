// SIGTERM while every stage of the stop has something that would hold it: an HTTP client reading
// a large answer slowly, a gRPC connection that never answers the server's GOAWAY, calls being
// made, and handlers in the middle of external calls that take longer than the grace. The whole
// stop must fit in --shutdown_timeout (one budget, not one per stage: systemd's TimeoutStopSec
// is for all of it), and nothing acknowledged may be lost.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/migrations.h"
#include "tests/fakes/fake_external_apis.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/load.h"
#include "tests/support/test_database.h"

namespace booking::e2e {
namespace {

using testing::Eventually;
using ::testing::HasSubstr;

constexpr absl::Duration kGrace = absl::Seconds(3);
// Past the deadline: the aborted calls end, each handler records its round, the partitions are
// given back and the process exits (measured: 0.5 s; more under a sanitizer's exit checks).
// Sharing nothing, the three stages took 3 × kGrace.
constexpr absl::Duration kMargin = absl::Seconds(2);

// A TCP connection to 127.0.0.1:`port` that has sent `bytes` and then reads nothing; a small
// receive buffer, so that a large answer stalls soon.
class StalledClient {
 public:
  StalledClient(int port, const std::string& bytes) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int small = 4096;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  ~StalledClient() { close(fd_); }
  bool connected() const { return connected_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// The HTTP/2 client preface and an empty SETTINGS frame: a gRPC connection as a client opens
// it, which then never reads again (a frozen client, or one behind a dead network), so it never
// acknowledges the GOAWAY a stopping server waits for.
const std::string kHttp2Preface = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                                  std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);

class ShutdownE2eTest : public ::testing::Test {
 protected:
  void Start() {
    server_ = testing::BookingServer::Start(
        db_.url(),
        {absl::StrCat("--shutdown_timeout=", absl::FormatDuration(kGrace)),
         "--http_timeout=60s",  // the external calls outlive the grace
         // Credentials in the URL, as some APIs want: never in a log line, whatever the path.
         "--receipts_url=" +
             absl::StrReplaceAll(receipts_.url(), {{"://", "://booking:s3cret-pw@"}}),
         "--spreadsheets_url=" + sheets_.url()});
    ASSERT_TRUE(server_->ready());
  }
  std::string target() const { return server_->target(); }

  testing::TestDatabase db_;
  testing::FakeExternalApis receipts_, sheets_;
  std::unique_ptr<testing::BookingServer> server_;
};

TEST_F(ShutdownE2eTest, EveryStageBusyTheWholeStopFitsInTheGraceAndNothingAcknowledgedIsLost) {
  // Enough tickets that GET /tickets answers far more than the socket buffers hold.
  ASSERT_TRUE(storage::Migrate(*db_.MakePool(1)).ok());
  db_.Exec(
      "INSERT INTO tickets (ticket_id, price_amount, price_currency, customer_email, status,"
      " last_event_sequence) SELECT gen_random_uuid(), 10, 'EUR',"
      " 'someone-with-a-long-address-' || i || '@example.com', 'confirmed', 0"
      " FROM generate_series(1, 200000) i");
  receipts_.set_answer_delay(absl::Seconds(30));
  sheets_.set_answer_delay(absl::Seconds(30));
  Start();

  testing::Load load({target()}, 4, "5d0e0000");
  ASSERT_TRUE(Eventually(
      [&] {
        return load.acknowledged().size() >= 20 && receipts_.max_in_flight() >= 1 &&
               sheets_.max_in_flight() >= 1;
      },
      absl::Seconds(30)))
      << "handlers are in the middle of their calls";
  StalledClient http(server_->http_port(), "GET /tickets HTTP/1.1\r\nHost: booking\r\n\r\n");
  StalledClient grpc(server_->grpc_port(), kHttp2Preface);
  ASSERT_TRUE(http.connected() && grpc.connected());
  absl::SleepFor(absl::Milliseconds(500));  // the answer has filled the buffers by now

  const absl::Time stop = absl::Now();
  const absl::Status stopped = server_->Stop(absl::Seconds(30));
  const absl::Duration took = absl::Now() - stop;
  load.Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
  const std::string log = server_->log();
  std::printf(
      "[ figures  ] SIGTERM with HTTP, gRPC and handlers all busy: exit after %.2f s "
      "(--shutdown_timeout=%s)\n",
      absl::ToDoubleSeconds(took), absl::FormatDuration(kGrace).c_str());
  EXPECT_LT(took, kGrace + kMargin) << log;
  EXPECT_GE(took, kGrace - absl::Milliseconds(500)) << "every stage had something to wait for";
  EXPECT_THAT(log, HasSubstr("aborting external calls")) << "the lanes' abort hook still fires";
  EXPECT_THAT(log, HasSubstr("stop finished"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("s3cret-pw"))) << "calls refused or cut at the stop";

  // Every acknowledged ticket is in the log, and a new start finishes what the stop cut short.
  const std::set<std::string> acknowledged = load.acknowledged();
  ASSERT_GE(acknowledged.size(), 20u);
  const std::set<std::string> logged =
      testing::ColumnValues(db_.url(), "SELECT ticket_id::text FROM events");
  for (const std::string& id : acknowledged) EXPECT_TRUE(logged.count(id)) << id;
  receipts_.set_answer_delay(absl::ZeroDuration());
  sheets_.set_answer_delay(absl::ZeroDuration());
  Start();
  EXPECT_TRUE(Eventually([&] { return testing::CountRows(db_.url(), "pending_deliveries") == 0; },
                         absl::Seconds(60)));
  std::set<std::string> receipted;
  for (const auto& [key, number] : receipts_.receipts_by_key()) {
    receipted.insert(key.substr(key.rfind('/') + 1));
  }
  std::set<std::string> printed;
  for (const auto& row : sheets_.rows("tickets-to-print")) printed.insert(row.at(0));
  for (const std::string& id : acknowledged) {
    EXPECT_TRUE(receipted.count(id)) << id;
    EXPECT_TRUE(printed.count(id)) << id;
  }
  EXPECT_EQ(testing::CountRows(db_.url(), "dead_letters"), 0);
}

}  // namespace
}  // namespace booking::e2e
