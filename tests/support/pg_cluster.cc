#include "tests/support/pg_cluster.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/command.h"
#include "tests/support/server_process.h"

namespace booking::testing {

std::string PostgresBinDir() {
  // Highest major version wins, as in tools/pg.sh (Debian installs them side by side).
  std::vector<std::filesystem::path> found;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ignored)) {
    if (std::filesystem::exists(entry.path() / "bin" / "pg_ctl")) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::stoi(a.filename().string()) < std::stoi(b.filename().string());
  });
  return found.empty() ? "/usr/bin" : (found.back() / "bin").string();
}

PrivateCluster::PrivateCluster(std::string pg_sh)
    : pg_sh_(std::move(pg_sh)),
      port_(PickFreePort()),
      dir_(absl::StrCat("/tmp/booking-pg-private-", port_)),
      url_(absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/booking")) {}

std::string PrivateCluster::Env() const {
  return absl::StrCat("BOOKING_PG_PORT=", port_, " BOOKING_PG_DIR=", dir_);
}

absl::Status PrivateCluster::Start() {
  started_ = true;  // from here on there may be a folder to remove
  absl::StatusOr<std::string> out = RunCommand(absl::StrCat(Env(), " bash ", pg_sh_, " start"));
  return out.ok() ? absl::OkStatus() : out.status();
}

absl::Status PrivateCluster::StartStandbyOf(const PrivateCluster& primary) {
  started_ = true;
  absl::StatusOr<std::string> out = RunCommand(
      absl::StrCat(Env(), " timeout 120 bash ", pg_sh_, " standby ", primary.port(), " 2>&1"));
  return out.ok() ? absl::OkStatus() : out.status();
}

absl::Status PrivateCluster::Promote() {
  absl::StatusOr<std::string> out =
      RunCommand(absl::StrCat(Env(), " timeout 60 bash ", pg_sh_, " promote 2>&1"));
  return out.ok() ? absl::OkStatus() : out.status();
}

absl::Status PrivateCluster::Crash() {
  absl::StatusOr<std::string> out =
      RunCommand(absl::StrCat(Env(), " timeout 60 bash ", pg_sh_, " crash 2>&1"));
  return out.ok() ? absl::OkStatus() : out.status();
}

absl::StatusOr<std::string> PrivateCluster::Psql(const std::string& sql) const {
  return RunCommand(absl::StrCat("timeout 30 ", PostgresBinDir(), "/psql -X -qAt ",
                                 ShellQuote(url_), " -c ", ShellQuote(sql), " 2>&1"));
}

PrivateCluster::~PrivateCluster() {
  if (!started_) return;
  absl::StatusOr<std::string> stopped = RunCommand(absl::StrCat(Env(), " bash ", pg_sh_, " stop"));
  EXPECT_TRUE(stopped.ok()) << stopped.status();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
  std::filesystem::remove(dir_ + ".lock", ignored);
}

}  // namespace booking::testing
