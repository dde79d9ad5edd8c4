// PostgreSQL high availability as a tested promise: a primary with a synchronous standby, the
// server on a multi-host URL (target_session_attrs=read-write), the primary crashed under load
// and the standby promoted. Writes resume on the new primary, and every ticket acknowledged
// before, during or after is there exactly once.
#include <grpcpp/grpcpp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/booking_server.h"
#include "tests/support/eventually.h"
#include "tests/support/load.h"
#include "tests/support/pg_cluster.h"

namespace booking::e2e {
namespace {

using testing::Eventually;
constexpr auto& Count = testing::CountRows;
constexpr auto& Column = testing::ColumnValues;

long long Number(const absl::StatusOr<std::string>& out) {
  long long n = -1;
  if (out.ok()) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*out), &n);
  return n;
}

TEST(FailoverE2eTest, SynchronousStandbyPromotedUnderLoadKeepsEveryAcknowledgedTicket) {
  const std::string pg_sh = absl::StrCat(BOOKING_SOURCE_DIR, "/tools/pg.sh");
  testing::PrivateCluster primary(pg_sh);
  testing::PrivateCluster standby(pg_sh);
  ASSERT_TRUE(primary.Start().ok());
  ASSERT_TRUE(standby.StartStandbyOf(primary).ok());
  // Synchronous: a commit returns once the standby has it, so an acknowledged event survives
  // the primary.
  ASSERT_TRUE(primary.Psql("ALTER SYSTEM SET synchronous_standby_names = '*'").ok());
  ASSERT_TRUE(primary.Psql("SELECT pg_reload_conf()").ok());
  ASSERT_TRUE(Eventually([&] {
    return Number(primary.Psql(
               "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")) == 1;
  }));

  const std::string url =
      absl::StrCat("postgresql://postgres@127.0.0.1:", primary.port(),
                   ",127.0.0.1:", standby.port(), "/booking?target_session_attrs=read-write");
  auto server = testing::BookingServer::Start(url, {"--db_connect_timeout=2s"});
  std::set<std::string> acknowledged;
  absl::Duration resumed_after;
  {
    testing::Load load({server->target()}, 4, "f0000001");
    ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() >= 300; }, absl::Seconds(60)));
    ASSERT_TRUE(primary.Crash().ok());
    absl::SleepFor(absl::Seconds(1));
    ASSERT_TRUE(standby.Promote().ok());
    const absl::Time promoted = absl::Now();
    const size_t at_promotion = load.acknowledged().size();
    ASSERT_TRUE(Eventually([&] { return load.acknowledged().size() > at_promotion + 10; },
                           absl::Seconds(60)))
        << "writes did not resume on the new primary\n"
        << server->log().substr(0, 4000);
    resumed_after = absl::Now() - promoted;
    const size_t resumed = load.acknowledged().size();
    ASSERT_TRUE(
        Eventually([&] { return load.acknowledged().size() >= resumed + 300; }, absl::Seconds(60)));
    load.Stop();
    acknowledged = load.acknowledged();
  }
  std::printf("writes resumed %.1f s after the promotion; %zu tickets acknowledged\n",
              absl::ToDoubleSeconds(resumed_after), acknowledged.size());
  EXPECT_LT(resumed_after, absl::Seconds(30));

  const std::string new_primary = standby.url();
  ASSERT_TRUE(
      Eventually([&] { return Count(new_primary, "pending_deliveries") == 0; }, absl::Seconds(60)));
  const std::set<std::string> stored = Column(new_primary, "SELECT ticket_id::text FROM tickets");
  int lost = 0;
  for (const std::string& id : acknowledged) lost += stored.count(id) ? 0 : 1;
  EXPECT_EQ(lost, 0) << "acknowledged tickets missing on the new primary";
  EXPECT_EQ(
      Count(new_primary, "(SELECT ticket_id FROM events GROUP BY ticket_id HAVING count(*) > 1) d"),
      0)
      << "a ticket's event twice";
  EXPECT_EQ(Count(new_primary,
                  "(SELECT ticket_id FROM receipts GROUP BY ticket_id HAVING count(*) > 1) d"),
            0);
  EXPECT_EQ(Count(new_primary, "dead_letters"), 0);
}

}  // namespace
}  // namespace booking::e2e
