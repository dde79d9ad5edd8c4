// TLS on both ports of the real binary, with certificates the test makes: server-only TLS, then
// mutual TLS; the right CA works, a wrong CA, plaintext and a missing client certificate fail.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/bad_requests.h"
#include "tests/support/booking_server.h"
#include "tests/support/http_call.h"
#include "tests/support/server_process.h"
#include "tests/support/test_certificates.h"
#include "tests/support/test_database.h"
#include "tickets/v1/admin.grpc.pb.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::e2e {
namespace {

using ::testing::HasSubstr;
using testing::TestCertificates;

constexpr char kJson[] = "Content-Type: application/json";

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "booking-tls-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    absl::StatusOr<TestCertificates> certs = TestCertificates::Make(dir_);
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }
  void TearDown() override {
    server_.reset();  // checks the graceful stop, before its certificates go
    std::filesystem::remove_all(dir_);
  }

  void StartServer(bool mutual) {
    testing::ServerFlags flags = {"--tls_cert_file=" + certs_.server_cert,
                                  "--tls_key_file=" + certs_.server_key};
    if (mutual) flags.Set("tls_client_ca_file", certs_.ca);
    server_ = testing::BookingServer::Start(db_.url(), flags);
    ASSERT_TRUE(server_->ready());
  }
  std::string Target() const { return server_->target(); }
  std::shared_ptr<grpc::ChannelCredentials> Credentials(const std::string& ca,
                                                        bool client_cert) const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = TestCertificates::Read(ca);
    if (client_cert) {
      options.pem_cert_chain = TestCertificates::Read(certs_.client_cert);
      options.pem_private_key = TestCertificates::Read(certs_.client_key);
    }
    return grpc::SslCredentials(options);
  }
  grpc::Status Update(std::shared_ptr<grpc::ChannelCredentials> credentials, const std::string& key,
                      const std::string& token = "") {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = tickets::v1::BookingService::NewStub(
        grpc::CreateCustomChannel(Target(), credentials, args));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    context.AddMetadata("idempotency-key", key);
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    tickets::v1::UpdateTicketsStatusResponse response;
    return stub->UpdateTicketsStatus(&context, testing::ValidRequest(1, "7f100000", next_++),
                                     &response);
  }
  testing::HttpResult Post(testing::HttpCaller& http, const std::string& scheme,
                           const std::string& key) {
    const std::string body =
        absl::StrCat(R"({"tickets":[{"ticket_id":"7f200000-0000-4000-8000-00000000000)", next_++,
                     R"(","status":"confirmed","customer_email":"ann@example.com",)",
                     R"("price":{"amount":"10.00","currency":"EUR"}}]})");
    return http.Call("POST",
                     absl::StrCat(scheme, "://127.0.0.1:", server_->http_port(), "/tickets-status"),
                     body, {kJson, "Idempotency-Key: " + key});
  }

  testing::TestDatabase db_;
  std::string dir_;
  TestCertificates certs_;
  std::unique_ptr<testing::BookingServer> server_;
  int next_ = 0;
};

TEST_F(TlsE2eTest, BothPortsServeTlsAndRefuseAWrongCaAndPlaintext) {
  StartServer(/*mutual=*/false);
  EXPECT_TRUE(Update(Credentials(certs_.ca, false), "g-1").ok());
  EXPECT_EQ(Update(Credentials(certs_.other_ca, false), "g-2").error_code(), grpc::UNAVAILABLE);
  EXPECT_EQ(Update(grpc::InsecureChannelCredentials(), "g-3").error_code(), grpc::UNAVAILABLE);

  testing::HttpCaller trusting;
  trusting.set_tls(certs_.ca);
  testing::HttpResult ok = Post(trusting, "https", "h-1");
  EXPECT_EQ(ok.status, 200) << ok.error << ok.body;
  testing::HttpCaller wrong_ca;
  wrong_ca.set_tls(certs_.other_ca);
  testing::HttpResult refused = Post(wrong_ca, "https", "h-2");
  EXPECT_EQ(refused.status, 0);
  EXPECT_THAT(refused.error, HasSubstr("SSL")) << refused.error;
  testing::HttpCaller plain;
  EXPECT_NE(Post(plain, "http", "h-3").status, 200);

  // Exactly the two calls made over trusted TLS were published.
  EXPECT_EQ(db_.Count("events"), 2);
}

TEST_F(TlsE2eTest, MutualTlsNeedsAClientCertificateSignedByTheClientCa) {
  StartServer(/*mutual=*/true);
  EXPECT_TRUE(Update(Credentials(certs_.ca, /*client_cert=*/true), "m-1").ok());
  EXPECT_EQ(Update(Credentials(certs_.ca, /*client_cert=*/false), "m-2").error_code(),
            grpc::UNAVAILABLE);

  testing::HttpCaller with_cert;
  with_cert.set_tls(certs_.ca, certs_.client_cert, certs_.client_key);
  testing::HttpResult ok = Post(with_cert, "https", "mh-1");
  EXPECT_EQ(ok.status, 200) << ok.error << ok.body;
  testing::HttpCaller without_cert;
  without_cert.set_tls(certs_.ca);
  EXPECT_NE(Post(without_cert, "https", "mh-2").status, 200);

  EXPECT_EQ(db_.Count("events"), 2);
}

TEST_F(TlsE2eTest, UnreadableKeyStopsStartUpNamingTheFlag) {
  testing::ServerProcess server(
      BOOKING_SERVER_PATH,
      {"--grpc_addr=127.0.0.1:0", absl::StrCat("--database_url=", db_.url()),
       "--tls_cert_file=" + certs_.server_cert, "--tls_key_file=" + dir_ + "/missing.key"});
  ASSERT_TRUE(server.Start().ok());
  absl::StatusOr<int> code = server.Stop(0, absl::Seconds(30));  // signal 0: just wait
  ASSERT_TRUE(code.ok()) << server.ReadLog();
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(server.ReadLog(), HasSubstr("tls_key_file"));
}

// The example configuration shipped for operators is a working --flagfile, and a safe one: TLS
// only, every RPC and /metrics behind a token, and a box office's token cannot do an operator's
// work. (Addresses, certificates and the token file are the test's: later flags win.)
TEST_F(TlsE2eTest, ExampleFlagFileIsSafe) {
  const std::string tokens = dir_ + "/tokens";
  std::ofstream(tokens) << "# the example's format\nbox-office-1 write,read\nops-1 admin,metrics\n";
  server_ = testing::BookingServer::Start(
      db_.url(),
      {absl::StrCat("--flagfile=", BOOKING_SOURCE_DIR, "/tools/deploy/booking-server.flags"),
       "--tls_cert_file=" + certs_.server_cert, "--tls_key_file=" + certs_.server_key,
       "--auth_tokens_file=" + tokens});
  ASSERT_TRUE(server_->ready());
  const auto tls = Credentials(certs_.ca, false);

  EXPECT_EQ(Update(grpc::InsecureChannelCredentials(), "e-1", "box-office-1").error_code(),
            grpc::UNAVAILABLE)
      << "plaintext is refused";
  EXPECT_EQ(Update(tls, "e-2").error_code(), grpc::UNAUTHENTICATED);
  EXPECT_TRUE(Update(tls, "e-3", "box-office-1").ok());
  EXPECT_EQ(Update(tls, "e-4", "ops-1").error_code(), grpc::PERMISSION_DENIED);

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(Target(), tls, args);
  auto list = [&](const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    tickets::v1::ListTicketsResponse response;
    return tickets::v1::BookingService::NewStub(channel)
        ->ListTickets(&context, {}, &response)
        .error_code();
  };
  EXPECT_EQ(list(""), grpc::UNAUTHENTICATED) << "reads need a token";
  EXPECT_EQ(list("box-office-1"), grpc::OK);
  auto dead_letters = [&](const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    context.AddMetadata("authorization", "Bearer " + token);
    tickets::v1::ListDeadLettersResponse response;
    return tickets::v1::AdminService::NewStub(channel)
        ->ListDeadLetters(&context, {}, &response)
        .error_code();
  };
  EXPECT_EQ(dead_letters("box-office-1"), grpc::PERMISSION_DENIED);
  EXPECT_EQ(dead_letters("ops-1"), grpc::OK);
  auto retire = [&](const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    context.AddMetadata("authorization", "Bearer " + token);
    tickets::v1::RetireHandlerRequest request;
    request.set_handler("Nobody");
    tickets::v1::RetireHandlerResponse response;
    return tickets::v1::AdminService::NewStub(channel)
        ->RetireHandler(&context, request, &response)
        .error_code();
  };
  EXPECT_EQ(retire("box-office-1"), grpc::PERMISSION_DENIED) << "retiring is an admin's act";
  EXPECT_EQ(retire("ops-1"), grpc::NOT_FOUND) << "past the token check: no such handler";

  testing::HttpCaller https;
  https.set_tls(certs_.ca);
  const std::string metrics = absl::StrCat("https://127.0.0.1:", server_->http_port(), "/metrics");
  EXPECT_EQ(https.Call("GET", metrics).status, 401);
  testing::HttpResult denied =
      https.Call("GET", metrics, "", {"Authorization: Bearer box-office-1"});
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_THAT(denied.body, HasSubstr("lacks the \\\"metrics\\\" scope"));
  EXPECT_EQ(https.Call("GET", metrics, "", {"Authorization: Bearer ops-1"}).status, 200);
  EXPECT_EQ(
      https.Call("GET", absl::StrCat("https://127.0.0.1:", server_->http_port(), "/health")).status,
      200)
      << "health stays open";
}

}  // namespace
}  // namespace booking::e2e
