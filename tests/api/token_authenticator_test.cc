#include "api/token_authenticator.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::api {
namespace {

std::string TokenFile(const std::string& name, const std::string& content) {
  const std::string path = absl::StrCat(::testing::TempDir(), name, "-", getpid());
  std::ofstream(path) << content;
  return path;
}

TEST(ConstantTimeEqualsTest, EqualOnlyForTheSameBytes) {
  EXPECT_TRUE(ConstantTimeEquals("tok-alpha", "tok-alpha"));
  EXPECT_FALSE(ConstantTimeEquals("tok-alpha", "tok-alphb"));
  EXPECT_FALSE(ConstantTimeEquals("tok-alpha", "tok-alpha2"));
  EXPECT_FALSE(ConstantTimeEquals("tok-alpha", "tok"));
  EXPECT_FALSE(ConstantTimeEquals("tok", ""));
  EXPECT_FALSE(ConstantTimeEquals("", "tok"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  // A prefix repeated to the other's length must not compare equal.
  EXPECT_FALSE(ConstantTimeEquals("abab", "ab"));
}

TEST(TokenAuthenticatorTest, ReadsTokensSkippingCommentsBlankLinesAndSpaces) {
  auto auth = TokenAuthenticator::FromFile(TokenFile("t1", "# team\n\n  tok-a  \ntok-b\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->Accepts("tok-a"));
  EXPECT_TRUE((*auth)->Accepts("tok-b"));
  EXPECT_FALSE((*auth)->Accepts("# team"));
  EXPECT_FALSE((*auth)->Accepts(""));
}

TEST(TokenAuthenticatorTest, ScopesSeparateBoxOfficesFromOperators) {
  auto auth = TokenAuthenticator::FromFile(TokenFile(
      "scopes", "box-office  write, read\nops\tadmin,metrics\nscraper metrics\nlegacy\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  const auto check = [&](const std::string& token, Scope scope) {
    return (*auth)->CheckHeader("Bearer " + token, scope).code();
  };
  EXPECT_EQ(check("box-office", Scope::kWrite), absl::StatusCode::kOk);
  EXPECT_EQ(check("box-office", Scope::kRead), absl::StatusCode::kOk);
  EXPECT_EQ(check("box-office", Scope::kAdmin), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(check("box-office", Scope::kMetrics), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(check("ops", Scope::kAdmin), absl::StatusCode::kOk);
  EXPECT_EQ(check("ops", Scope::kWrite), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(check("scraper", Scope::kMetrics), absl::StatusCode::kOk);
  EXPECT_EQ(check("scraper", Scope::kRead), absl::StatusCode::kPermissionDenied);
  // A bare token is the format before scopes: it may do everything (with a warning at load).
  for (Scope scope : {Scope::kWrite, Scope::kRead, Scope::kAdmin, Scope::kMetrics}) {
    EXPECT_EQ(check("legacy", scope), absl::StatusCode::kOk) << ScopeName(scope);
  }
  EXPECT_EQ(check("unknown", Scope::kRead), absl::StatusCode::kUnauthenticated);
  absl::Status denied = (*auth)->CheckHeader("Bearer ops", Scope::kWrite);
  EXPECT_EQ(denied.message(), "authorization: the token lacks the \"write\" scope");
  EXPECT_EQ((*auth)->ScopesOf("box-office"),
            static_cast<unsigned>(Scope::kWrite) | static_cast<unsigned>(Scope::kRead));
}

TEST(TokenAuthenticatorTest, UnknownScopeIsRefusedNamingTheLine) {
  auto auth = TokenAuthenticator::FromFile(TokenFile("badscope", "# ok\ntok-a write\ntok-b rwx\n"));
  ASSERT_FALSE(auth.ok());
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(auth.status().message()),
              ::testing::HasSubstr("line 3: unknown scope \"rwx\""));
}

TEST(TokenAuthenticatorTest, TokensSpeakForTheirCaller) {
  auto auth = TokenAuthenticator::FromFile(
      TokenFile("callers",
                "paris-old write caller=paris\nparis-new write,read caller=paris\nlyon-1 write\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  // Two tokens of one caller (a rotation) are one caller; the scopes stay per token.
  EXPECT_EQ((*auth)->CallerOfHeader("Bearer paris-old"), "paris");
  EXPECT_EQ((*auth)->CallerOfHeader("bearer paris-new"), "paris");
  EXPECT_EQ((*auth)->CheckHeader("Bearer paris-old", Scope::kRead).code(),
            absl::StatusCode::kPermissionDenied);
  // Without caller=, a caller of its own, named by the token's SHA-256 (never the token), the
  // same on every load.
  const std::string lyon = (*auth)->CallerOfHeader("Bearer lyon-1");
  EXPECT_THAT(lyon, ::testing::MatchesRegex("token-[0-9a-f]{16}"));
  EXPECT_THAT(lyon, ::testing::Not(::testing::HasSubstr("lyon")));
  ASSERT_TRUE((*auth)->Reload().ok());
  EXPECT_EQ((*auth)->CallerOfHeader("Bearer lyon-1"), lyon);
  // No accepted token: no caller.
  EXPECT_EQ((*auth)->CallerOfHeader("Bearer nobody"), "");
  EXPECT_EQ((*auth)->CallerOfHeader("Basic paris-old"), "");
  EXPECT_EQ((*auth)->CallerOfHeader(std::nullopt), "");
}

TEST(TokenAuthenticatorTest, CallerNamesAreShortAndPlain) {
  const std::vector<std::string> bad_fields = {"caller=", "caller=a:b", "caller=a/b",
                                               "caller=" + std::string(65, 'x')};
  for (const std::string& bad : bad_fields) {
    auto auth = TokenAuthenticator::FromFile(TokenFile("badcaller", "tok-a write " + bad + "\n"));
    ASSERT_FALSE(auth.ok()) << bad;
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(auth.status().message()), ::testing::HasSubstr("line 1: caller="))
        << bad;
  }
  EXPECT_TRUE(
      TokenAuthenticator::FromFile(TokenFile("goodcaller", "tok-a write caller=Paris_2.north-3\n"))
          .ok());
}

TEST(TokenAuthenticatorTest, ReloadRevokesAndAKeptFileSurvivesABadReload) {
  const std::string path = TokenFile("t2", "tok-a\ntok-b\n");
  auto auth = TokenAuthenticator::FromFile(path);
  ASSERT_TRUE(auth.ok());
  std::ofstream(path) << "tok-b\n";
  ASSERT_EQ(*(*auth)->Reload(), 1u);
  EXPECT_FALSE((*auth)->Accepts("tok-a"));
  EXPECT_TRUE((*auth)->Accepts("tok-b"));
  std::ofstream(path) << "# nothing\n";
  EXPECT_EQ((*auth)->Reload().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*auth)->Accepts("tok-b")) << "a bad file keeps the old tokens";
}

// Calls check tokens on gRPC threads while SIGHUP reloads on the main thread.
TEST(TokenAuthenticatorTest, ChecksDuringReloadsSeeTheOldOrTheNewTokensNeverNeither) {
  const std::string path = TokenFile("t3", "tok-kept\ntok-a\n");
  auto auth = TokenAuthenticator::FromFile(path);
  ASSERT_TRUE(auth.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> checkers;
  for (int i = 0; i < 3; ++i) {
    checkers.emplace_back([&] {
      while (!stop.load()) refused += (*auth)->Accepts("tok-kept") ? 0 : 1;
    });
  }
  for (int i = 0; i < 200; ++i) {
    // Rewritten elsewhere and renamed into place, as an operator's tooling would.
    const std::string next = absl::StrCat(path, ".next");
    std::ofstream(next) << "tok-kept\n" << (i % 2 == 0 ? "tok-b\n" : "tok-a\n");
    std::rename(next.c_str(), path.c_str());
    ASSERT_TRUE((*auth)->Reload().ok());
  }
  stop = true;
  for (std::thread& checker : checkers) checker.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_TRUE((*auth)->Accepts("tok-a"));
  EXPECT_FALSE((*auth)->Accepts("tok-b"));
}

TEST(TokenAuthenticatorTest, MissingFileNamesTheFlag) {
  auto auth = TokenAuthenticator::FromFile("/nonexistent/tokens");
  ASSERT_FALSE(auth.ok());
  EXPECT_NE(auth.status().message().find("auth_tokens_file"), std::string::npos);
}

}  // namespace
}  // namespace booking::api
