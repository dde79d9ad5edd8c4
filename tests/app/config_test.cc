// FromFlags: every bad flag is refused with its name before anything starts; good ones arrive
// in the types the modules take.
#include "app/config.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_DECLARE_FLAG(std::string, database_url);
ABSL_DECLARE_FLAG(std::string, event_log);
ABSL_DECLARE_FLAG(absl::Duration, event_retention);
ABSL_DECLARE_FLAG(absl::Duration, db_statement_timeout);
ABSL_DECLARE_FLAG(absl::Duration, db_transaction_timeout);
ABSL_DECLARE_FLAG(std::string, tls_cert_file);
ABSL_DECLARE_FLAG(std::string, tls_key_file);
ABSL_DECLARE_FLAG(std::string, tls_client_ca_file);
ABSL_DECLARE_FLAG(std::string, auth_tokens_file);
ABSL_DECLARE_FLAG(std::string, instance_id);
ABSL_DECLARE_FLAG(absl::Duration, delivery_lease);
ABSL_DECLARE_FLAG(int, worker_batch_size);
ABSL_DECLARE_FLAG(int, api_concurrency);
ABSL_DECLARE_FLAG(std::string, role);
ABSL_DECLARE_FLAG(std::string, new_handler_start);
ABSL_DECLARE_FLAG(std::string, handler_start);
ABSL_DECLARE_FLAG(absl::Duration, stream_heartbeat);
ABSL_DECLARE_FLAG(absl::Duration, sse_heartbeat);
ABSL_DECLARE_FLAG(absl::Duration, grpc_keepalive_time);
ABSL_DECLARE_FLAG(std::string, jetstream_url);
ABSL_DECLARE_FLAG(int, jetstream_replicas);
ABSL_DECLARE_FLAG(std::string, jetstream_stream);
ABSL_DECLARE_FLAG(std::string, jetstream_credentials);
ABSL_DECLARE_FLAG(std::string, jetstream_tls_cert);
ABSL_DECLARE_FLAG(absl::Duration, jetstream_ack_timeout);
ABSL_DECLARE_FLAG(int, jetstream_max_pending);
ABSL_DECLARE_FLAG(int, db_pool_size);
ABSL_DECLARE_FLAG(absl::Duration, db_connect_timeout);
ABSL_DECLARE_FLAG(absl::Duration, http_connect_timeout);
ABSL_DECLARE_FLAG(absl::Duration, http_timeout);
ABSL_DECLARE_FLAG(int, group_commit_max_events);
ABSL_DECLARE_FLAG(int, group_commits_in_flight);
ABSL_DECLARE_FLAG(int, max_pending_appends);
ABSL_DECLARE_FLAG(int, breaker_failures);
ABSL_DECLARE_FLAG(int, workers);
ABSL_DECLARE_FLAG(int, queue_capacity);
ABSL_DECLARE_FLAG(int, max_message_bytes);
ABSL_DECLARE_FLAG(absl::Duration, grpc_keepalive_timeout);
ABSL_DECLARE_FLAG(absl::Duration, grpc_max_connection_idle);
ABSL_DECLARE_FLAG(absl::Duration, grpc_max_connection_age);
ABSL_DECLARE_FLAG(absl::Duration, grpc_max_connection_age_grace);
ABSL_DECLARE_FLAG(int, grpc_max_concurrent_streams);
ABSL_DECLARE_FLAG(int64_t, grpc_max_memory);
ABSL_DECLARE_FLAG(int, http_threads);
ABSL_DECLARE_FLAG(int, max_http_connections);
ABSL_DECLARE_FLAG(int, max_http_body_bytes);
ABSL_DECLARE_FLAG(int64_t, max_http_body_memory);
ABSL_DECLARE_FLAG(int, max_tickets_per_call);
ABSL_DECLARE_FLAG(int, max_concurrent_calls);
ABSL_DECLARE_FLAG(int, max_waiting_calls);
ABSL_DECLARE_FLAG(int64_t, max_call_bytes);
ABSL_DECLARE_FLAG(int, max_watch_streams_per_client);
ABSL_DECLARE_FLAG(int, max_watch_streams);
ABSL_DECLARE_FLAG(int, watch_buffer);
ABSL_DECLARE_FLAG(int, query_threads);

namespace booking::app {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("DATABASE_URL");
    absl::SetFlag(&FLAGS_database_url, "postgresql://db.example/booking");
  }
  std::string Error() {
    absl::StatusOr<Config> config = FromFlags();
    EXPECT_FALSE(config.ok());
    if (config.ok()) return "";
    EXPECT_TRUE(absl::IsInvalidArgument(config.status())) << config.status();
    return std::string(config.status().message());
  }
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = ::testing::TempDir() + "/config_test_" + name;
    std::ofstream(path) << content;
    return path;
  }

  absl::FlagSaver saver_;  // every test leaves the flags as it found them
};

TEST_F(ConfigTest, DefaultsGiveADurableServiceOnTheGivenDatabase) {
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->event_log, EventLogKind::kPostgres);
  EXPECT_EQ(config->pool.database_url, "postgresql://db.example/booking");
  EXPECT_EQ(config->health_pool.database_url, config->pool.database_url);
  EXPECT_EQ(config->health_pool.size, 1);
  // 0 means the statement timeout plus 5 s.
  EXPECT_EQ(config->pool.transaction_timeout, config->pool.statement_timeout + absl::Seconds(5));
  EXPECT_FALSE(config->pool.prepared_statements.empty());
  EXPECT_FALSE(config->tls.has_value());
  EXPECT_EQ(config->http.address, "127.0.0.1:8080");
  EXPECT_EQ(config->grpc_addr, "127.0.0.1:50051");
  EXPECT_FALSE(config->instance_id.empty());
}

TEST_F(ConfigTest, DatabaseUrlFallsBackToTheEnvironment) {
  absl::SetFlag(&FLAGS_database_url, "");
  EXPECT_THAT(Error(), StartsWith("--database_url:"));
  setenv("DATABASE_URL", "postgresql://env.example/booking", 1);
  absl::StatusOr<Config> config = FromFlags();
  unsetenv("DATABASE_URL");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->pool.database_url, "postgresql://env.example/booking");
}

TEST_F(ConfigTest, UnknownEventLogIsNamed) {
  absl::SetFlag(&FLAGS_event_log, "kafka");
  EXPECT_THAT(Error(), StartsWith("--event_log: must be postgres or memory"));
  absl::SetFlag(&FLAGS_event_log, "memory");
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->event_log, EventLogKind::kMemory);
}

TEST_F(ConfigTest, RolesAreNamedAndNeedTheDurableLog) {
  absl::StatusOr<Config> all = FromFlags();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->role, Role::kAll);
  EXPECT_TRUE(all->accepts_calls() && all->runs_handlers());
  absl::SetFlag(&FLAGS_role, "api");
  absl::StatusOr<Config> api = FromFlags();
  ASSERT_TRUE(api.ok()) << api.status();
  EXPECT_TRUE(api->accepts_calls());
  EXPECT_FALSE(api->runs_handlers());
  absl::SetFlag(&FLAGS_role, "worker");
  absl::StatusOr<Config> worker = FromFlags();
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_FALSE(worker->accepts_calls());
  EXPECT_TRUE(worker->runs_handlers());
  absl::SetFlag(&FLAGS_event_log, "memory");
  EXPECT_EQ(Error(), "--role: worker needs --event_log=postgres");
  absl::SetFlag(&FLAGS_event_log, "postgres");
  absl::SetFlag(&FLAGS_role, "both");
  EXPECT_THAT(Error(), StartsWith("--role: must be all, api or worker, got \"both\""));
}

TEST_F(ConfigTest, HandlerStartsAreParsedPerHandler) {
  absl::StatusOr<Config> defaults = FromFlags();
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->new_handler_start, storage::StartFrom::kEarliest);
  EXPECT_TRUE(defaults->handler_start.empty());
  absl::SetFlag(&FLAGS_new_handler_start, "latest");
  absl::SetFlag(&FLAGS_handler_start, "AppendToAudit=earliest, IssueReceipt=latest");
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->new_handler_start, storage::StartFrom::kLatest);
  ASSERT_EQ(config->handler_start.size(), 2u);
  EXPECT_EQ(config->handler_start.at("AppendToAudit"), storage::StartFrom::kEarliest);
  EXPECT_EQ(config->handler_start.at("IssueReceipt"), storage::StartFrom::kLatest);

  absl::SetFlag(&FLAGS_handler_start, "AppendToAudti=latest");
  EXPECT_THAT(Error(), StartsWith("--handler_start: unknown handler \"AppendToAudti\" (known: "));
  absl::SetFlag(&FLAGS_handler_start, "AppendToAudit=now");
  EXPECT_EQ(Error(), "--handler_start: must be earliest or latest, got \"now\"");
  absl::SetFlag(&FLAGS_handler_start, "");
  absl::SetFlag(&FLAGS_new_handler_start, "oldest");
  EXPECT_EQ(Error(), "--new_handler_start: must be earliest or latest, got \"oldest\"");
}

TEST_F(ConfigTest, RetentionShorterThanTheIdempotencyPromiseIsRefused) {
  absl::SetFlag(&FLAGS_event_retention, absl::Hours(2));
  EXPECT_THAT(Error(), StartsWith("--event_retention: must be at least 24h"));
}

TEST_F(ConfigTest, TransactionTimeoutBelowTheStatementTimeoutIsRefused) {
  absl::SetFlag(&FLAGS_db_statement_timeout, absl::Seconds(5));
  absl::SetFlag(&FLAGS_db_transaction_timeout, absl::Seconds(2));
  EXPECT_THAT(Error(),
              StartsWith("--db_transaction_timeout: must be at least --db_statement_timeout"));
  absl::SetFlag(&FLAGS_db_transaction_timeout, absl::Seconds(7));
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->pool.transaction_timeout, absl::Seconds(7));
}

TEST_F(ConfigTest, TlsFlagsAreCheckedAndTheirFilesRead) {
  absl::SetFlag(&FLAGS_tls_cert_file, WriteFile("cert.pem", "CERT"));
  EXPECT_THAT(Error(), StartsWith("--tls_cert_file, --tls_key_file: set both or neither"));
  absl::SetFlag(&FLAGS_tls_key_file, "/nonexistent/key.pem");
  EXPECT_THAT(Error(), StartsWith("--tls_key_file: cannot read /nonexistent/key.pem"));
  absl::SetFlag(&FLAGS_tls_key_file, WriteFile("key.pem", "KEY"));
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->tls.has_value());
  EXPECT_EQ(config->tls->cert_chain, "CERT");
  EXPECT_EQ(config->tls->private_key, "KEY");
  EXPECT_EQ(config->tls->client_ca, "");
  EXPECT_EQ(config->http.tls_cert_file, absl::GetFlag(FLAGS_tls_cert_file));
}

TEST_F(ConfigTest, ClientCaNeedsAServerCertificate) {
  absl::SetFlag(&FLAGS_tls_client_ca_file, WriteFile("ca.pem", "CA"));
  EXPECT_THAT(Error(), StartsWith("--tls_client_ca_file: needs --tls_cert_file"));
}

TEST_F(ConfigTest, UnreadableTokenFileIsNamed) {
  absl::SetFlag(&FLAGS_auth_tokens_file, "/nonexistent/tokens");
  EXPECT_THAT(Error(), StartsWith("--auth_tokens_file: cannot read"));
}

TEST_F(ConfigTest, DerivedSettingsFollowTheirFlags) {
  absl::SetFlag(&FLAGS_instance_id, "api-1");
  absl::SetFlag(&FLAGS_delivery_lease, absl::Seconds(30));
  absl::SetFlag(&FLAGS_worker_batch_size, 64);
  absl::SetFlag(&FLAGS_api_concurrency, 4);
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->instance_id, "api-1");
  EXPECT_EQ(config->delivery_lease, absl::Seconds(30));
  EXPECT_EQ(config->lanes.redelivery_lease, absl::Seconds(30));
  EXPECT_EQ(config->lanes.batch_per_partition, 64);
  EXPECT_EQ(config->workers.batch_size, 64u);
  EXPECT_EQ(config->api_concurrency, 4);
  EXPECT_EQ(config->lanes.call_chunk, 4);
}

// The floors, each with the flag it bounds: the service once raised a value below one to it
// without a word (--max_message_bytes=300 became 1024); now the value is refused.
template <typename T>
struct Floor {
  absl::Flag<T>* flag;
  const char* name;
  T floor;
};
#define FLOOR(flag, floor) \
  { &FLAGS_##flag, "--" #flag, floor }
const Floor<int> kIntFloors[] = {
    FLOOR(db_pool_size, 1),
    FLOOR(group_commit_max_events, 1),
    FLOOR(group_commits_in_flight, 1),
    FLOOR(max_pending_appends, 1),
    FLOOR(breaker_failures, 1),
    FLOOR(api_concurrency, 1),
    FLOOR(worker_batch_size, 1),
    FLOOR(workers, 1),
    FLOOR(queue_capacity, 1),
    FLOOR(max_message_bytes, 1024),
    FLOOR(grpc_max_concurrent_streams, 1),
    FLOOR(http_threads, 1),
    FLOOR(max_http_connections, 1),
    FLOOR(max_http_body_bytes, 1),
    FLOOR(max_tickets_per_call, 1),
    FLOOR(max_concurrent_calls, 1),
    FLOOR(max_waiting_calls, 1),
    FLOOR(max_watch_streams_per_client, 1),
    FLOOR(max_watch_streams, 1),
    FLOOR(watch_buffer, 1),
    FLOOR(query_threads, 1),
};
const Floor<int64_t> kInt64Floors[] = {
    FLOOR(grpc_max_memory, int64_t{16} << 20),
    FLOOR(max_http_body_memory, 1),
    FLOOR(max_call_bytes, int64_t{1} << 20),
};
#undef FLOOR

TEST_F(ConfigTest, AValueBelowItsFloorIsRefusedNotRaised) {
  absl::SetFlag(&FLAGS_max_message_bytes, 300);
  EXPECT_EQ(Error(), "--max_message_bytes: must be at least 1024, got 300");
  absl::SetFlag(&FLAGS_max_message_bytes, 4 << 20);
  for (const Floor<int>& f : kIntFloors) {
    absl::FlagSaver restore;
    absl::SetFlag(f.flag, f.floor - 1);
    EXPECT_EQ(Error(), absl::StrCat(f.name, ": must be at least ", f.floor, ", got ", f.floor - 1));
    absl::SetFlag(f.flag, -5);
    EXPECT_EQ(Error(), absl::StrCat(f.name, ": must be at least ", f.floor, ", got -5"));
  }
  for (const Floor<int64_t>& f : kInt64Floors) {
    absl::FlagSaver restore;
    absl::SetFlag(f.flag, f.floor - 1);
    EXPECT_EQ(Error(), absl::StrCat(f.name, ": must be at least ", f.floor, ", got ", f.floor - 1));
  }
  absl::SetFlag(&FLAGS_delivery_lease, absl::Milliseconds(999));
  EXPECT_EQ(Error(), "--delivery_lease: must be at least 1s, got 999ms");
}

TEST_F(ConfigTest, EveryExternalCallHasATimeout) {
  // libcurl would read 0 as "wait for ever".
  {
    absl::FlagSaver restore;
    absl::SetFlag(&FLAGS_http_timeout, absl::ZeroDuration());
    EXPECT_EQ(Error(), "--http_timeout: must be at least 1ms, got 0");
  }
  absl::SetFlag(&FLAGS_http_connect_timeout, absl::ZeroDuration());
  EXPECT_EQ(Error(), "--http_connect_timeout: must be at least 1ms, got 0");
}

TEST_F(ConfigTest, EveryFloorIsItselfAValidValue) {
  for (const Floor<int>& f : kIntFloors) absl::SetFlag(f.flag, f.floor);
  for (const Floor<int64_t>& f : kInt64Floors) absl::SetFlag(f.flag, f.floor);
  absl::SetFlag(&FLAGS_delivery_lease, absl::Seconds(1));
  absl::SetFlag(&FLAGS_db_connect_timeout, absl::Seconds(2));
  for (absl::Flag<absl::Duration>* grpc :
       {&FLAGS_grpc_keepalive_time, &FLAGS_grpc_keepalive_timeout, &FLAGS_grpc_max_connection_idle,
        &FLAGS_grpc_max_connection_age, &FLAGS_grpc_max_connection_age_grace}) {
    absl::SetFlag(grpc, absl::Milliseconds(1));
  }
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->max_message_bytes, 1024);
  EXPECT_EQ(config->grpc.memory_bytes, size_t{16} << 20);
  EXPECT_EQ(config->service.max_call_bytes, size_t{1} << 20);
  EXPECT_EQ(config->delivery_lease, absl::Seconds(1));
  EXPECT_EQ(config->grpc.keepalive_time, absl::Milliseconds(1));
}

// libpq takes whole seconds, at least 2 (it reads 1 as 2): anything else would be changed.
TEST_F(ConfigTest, ConnectTimeoutIsWholeSecondsFromTwo) {
  absl::SetFlag(&FLAGS_db_connect_timeout, absl::Seconds(1));
  EXPECT_EQ(Error(), "--db_connect_timeout: must be at least 2s (libpq's shortest), got 1s");
  absl::SetFlag(&FLAGS_db_connect_timeout, absl::Milliseconds(2500));
  EXPECT_EQ(Error(), "--db_connect_timeout: must be whole seconds (libpq's unit), got 2.5s");
}

// gRPC takes int milliseconds: 0 would become 1ms and 1000h about 596h.
TEST_F(ConfigTest, GrpcDurationsAreRefusedOutsideWhatGrpcTakes) {
  absl::SetFlag(&FLAGS_grpc_keepalive_time, absl::ZeroDuration());
  EXPECT_EQ(Error(),
            "--grpc_keepalive_time: must be 1ms to 576h (gRPC counts int milliseconds), "
            "got 0");
  absl::SetFlag(&FLAGS_grpc_keepalive_time, absl::Seconds(30));
  absl::SetFlag(&FLAGS_grpc_max_connection_idle, absl::Hours(1000));
  EXPECT_THAT(Error(), StartsWith("--grpc_max_connection_idle: must be 1ms to 576h"));
  absl::SetFlag(&FLAGS_grpc_max_connection_idle, absl::Minutes(10));
  absl::SetFlag(&FLAGS_grpc_max_connection_age, -absl::Seconds(1));
  EXPECT_THAT(Error(), StartsWith("--grpc_max_connection_age: must be 1ms to 576h"));
  absl::SetFlag(&FLAGS_grpc_max_connection_age, absl::ZeroDuration());  // never: valid
  EXPECT_TRUE(FromFlags().ok());
}

// --sse_heartbeat was the flag's name before NDJSON streams got heartbeats too: still obeyed.
TEST_F(ConfigTest, StreamHeartbeatKeepsItsFormerName) {
  EXPECT_EQ(FromFlags()->stream_heartbeat, absl::Seconds(15));
  absl::SetFlag(&FLAGS_stream_heartbeat, absl::Seconds(5));
  EXPECT_EQ(FromFlags()->stream_heartbeat, absl::Seconds(5));
  absl::SetFlag(&FLAGS_sse_heartbeat, absl::Seconds(2));
  EXPECT_EQ(FromFlags()->stream_heartbeat, absl::Seconds(2));
}

TEST_F(ConfigTest, GrpcConnectionsHaveAKeepalivePolicyByDefault) {
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpc.keepalive_time, absl::Seconds(30));
  EXPECT_EQ(config->grpc.keepalive_timeout, absl::Seconds(10));
  EXPECT_EQ(config->grpc.max_connection_idle, absl::Minutes(10));
  EXPECT_EQ(config->grpc.max_connection_age, absl::ZeroDuration());
  EXPECT_GT(config->grpc.memory_bytes, 0u);
  absl::SetFlag(&FLAGS_grpc_keepalive_time, absl::Seconds(1));
  EXPECT_EQ(FromFlags()->grpc.keepalive_time, absl::Seconds(1));
}

TEST_F(ConfigTest, DefaultInstanceIdsDifferBetweenProcesses) {
  absl::StatusOr<Config> a = FromFlags();
  absl::StatusOr<Config> b = FromFlags();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->instance_id, b->instance_id) << "a random part, so a restart is a new owner";
  EXPECT_THAT(a->instance_id, HasSubstr(std::to_string(getpid())));
}

TEST_F(ConfigTest, NoRelayWithoutAJetStreamUrl) {
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->jetstream.has_value());
}

TEST_F(ConfigTest, JetStreamUrlsAreSplitAndTheDuplicateWindowIsTheRetention) {
  absl::SetFlag(&FLAGS_jetstream_url, "nats://a:4222, tls://user:pw@b:4223,nats://c");
  absl::SetFlag(&FLAGS_event_retention, absl::Hours(48));
  absl::StatusOr<Config> config = FromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->jetstream.has_value());
  EXPECT_THAT(config->jetstream->servers,
              ::testing::ElementsAre("nats://a:4222", "tls://user:pw@b:4223", "nats://c"));
  EXPECT_EQ(config->jetstream->stream, "TICKET_EVENTS");
  EXPECT_EQ(config->jetstream->replicas, 3);
  EXPECT_EQ(config->jetstream->duplicate_window, absl::Hours(48));
}

TEST_F(ConfigTest, BadJetStreamFlagsAreRefusedByName) {
  absl::SetFlag(&FLAGS_jetstream_url, "http://a:4222");
  EXPECT_THAT(Error(), StartsWith("--jetstream_url:"));
  absl::SetFlag(&FLAGS_jetstream_url, "nats://a:port");
  EXPECT_THAT(Error(), StartsWith("--jetstream_url:"));
  absl::SetFlag(&FLAGS_jetstream_url, "nats://user:secret@a:x");
  EXPECT_THAT(Error(), ::testing::Not(HasSubstr("secret"))) << "credentials never echoed";
  absl::SetFlag(&FLAGS_jetstream_url, "nats://a:4222");
  absl::SetFlag(&FLAGS_jetstream_replicas, 7);
  EXPECT_THAT(Error(), StartsWith("--jetstream_replicas:"));
  absl::SetFlag(&FLAGS_jetstream_replicas, 3);
  absl::SetFlag(&FLAGS_jetstream_stream, "tickets.v1");
  EXPECT_THAT(Error(), StartsWith("--jetstream_stream:"));
  absl::SetFlag(&FLAGS_jetstream_stream, "TICKET_EVENTS");
  absl::SetFlag(&FLAGS_jetstream_credentials, "/nonexistent/user.creds");
  EXPECT_THAT(Error(), StartsWith("--jetstream_credentials:"));
  absl::SetFlag(&FLAGS_jetstream_credentials, "");
  absl::SetFlag(&FLAGS_jetstream_tls_cert, WriteFile("client.pem", "x"));
  EXPECT_THAT(Error(), HasSubstr("jetstream_tls_key"));
  absl::SetFlag(&FLAGS_jetstream_tls_cert, "");
  absl::SetFlag(&FLAGS_jetstream_max_pending, 0);
  EXPECT_EQ(Error(), "--jetstream_max_pending: must be at least 1, got 0");
  absl::SetFlag(&FLAGS_jetstream_max_pending, 4096);
  absl::SetFlag(&FLAGS_jetstream_ack_timeout, absl::ZeroDuration());
  EXPECT_EQ(Error(), "--jetstream_ack_timeout: must be at least 1ms, got 0");
}

}  // namespace
}  // namespace booking::app
