#include "http/browser_guard.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::http {
namespace {

using ::testing::HasSubstr;

Request MakeRequest(std::string method, std::vector<std::pair<std::string, std::string>> headers) {
  Request request;
  request.method = std::move(method);
  request.target = "/v1/tickets:updateStatus";
  request.headers = std::move(headers);
  return request;
}

TEST(BrowserGuardTest, HostsAreIpLiteralsLocalhostNamesOrListed) {
  const BrowserGuard guard({.allowed_hosts = {"booking.example.com"}});
  for (const char* host :
       {"127.0.0.1:8080", "10.1.2.3", "[::1]:8080", "::1", "localhost:8080", "LOCALHOST",
        "console.localhost:8080", "booking.example.com:443", "Booking.Example.com."}) {
    EXPECT_TRUE(guard.Check(MakeRequest("GET", {{"host", host}})).ok()) << host;
  }
  for (const char* host : {"evil.example:8080", "booking.example.com.evil.example",
                           "localhost.evil", "127.0.0.1.nip.io:8080"}) {
    const absl::Status status = guard.Check(MakeRequest("GET", {{"host", host}}));
    EXPECT_TRUE(absl::IsPermissionDenied(status)) << host;
    EXPECT_THAT(status.message(), HasSubstr("--http_allowed_hosts")) << host;
  }
  EXPECT_TRUE(guard.Check(MakeRequest("GET", {})).ok()) << "HTTP/1.0 without Host: not a browser";
  EXPECT_TRUE(BrowserGuard({.allowed_hosts = {"*"}})
                  .Check(MakeRequest("GET", {{"host", "evil.example"}}))
                  .ok());
}

TEST(BrowserGuardTest, StateChangesFromAnotherOriginAreRefused) {
  const BrowserGuard guard({.allowed_origins = {"https://console.example.com"}});
  const std::pair<std::string, std::string> host = {"host", "127.0.0.1:8080"};
  // Same origin (the console), an allowed one, and clients that are not browsers.
  EXPECT_TRUE(guard.Check(MakeRequest("POST", {host, {"origin", "http://127.0.0.1:8080"}})).ok());
  EXPECT_TRUE(
      guard.Check(MakeRequest("POST", {host, {"origin", "https://console.example.com"}})).ok());
  EXPECT_TRUE(
      guard.Check(MakeRequest("POST", {host, {"origin", "https://console.example.com:443"}})).ok());
  EXPECT_TRUE(guard.Check(MakeRequest("POST", {host})).ok()) << "curl sends no Origin";
  // Reads are left to CORS (no CORS headers are ever sent: a page elsewhere cannot read them).
  EXPECT_TRUE(guard.Check(MakeRequest("GET", {host, {"origin", "https://evil.example"}})).ok());
  // (The scheme is not compared: one port serves either TLS or plain HTTP.)
  for (const char* origin :
       {"https://evil.example", "http://127.0.0.1:9999", "null", "http://127.0.0.1", "garbage"}) {
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
      const absl::Status status = guard.Check(MakeRequest(method, {host, {"origin", origin}}));
      EXPECT_TRUE(absl::IsPermissionDenied(status)) << method << " " << origin;
      EXPECT_THAT(status.message(), HasSubstr("--http_allowed_origins"));
    }
  }
  EXPECT_TRUE(BrowserGuard({.allowed_origins = {"*"}})
                  .Check(MakeRequest("POST", {host, {"origin", "https://evil.example"}}))
                  .ok());
}

TEST(BrowserGuardTest, RefusedHeadersAreQuotedSafelyAndBounded) {
  const BrowserGuard guard({});
  const std::string hostile = "evil.example\n\x1b[31m" + std::string(5000, 'x');
  const absl::Status status = guard.Check(MakeRequest("GET", {{"host", hostile}}));
  ASSERT_TRUE(absl::IsPermissionDenied(status));
  EXPECT_LT(status.message().size(), 400u);
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("\n")));
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("\x1b")));
}

}  // namespace
}  // namespace booking::http
