#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/support/command.h"

namespace booking::testing {

// The folder of the newest installed PostgreSQL's programs (pg_dump, pg_restore, psql), as
// tools/pg.sh picks it.
std::string PostgresBinDir();

// A PostgreSQL cluster of its own, made by tools/pg.sh in a folder and on a port of its own: for
// tests that need a second server, such as a restore into another cluster. Stopped and its
// folder removed on destruction.
class PrivateCluster {
 public:
  // `pg_sh`: the path of tools/pg.sh.
  explicit PrivateCluster(std::string pg_sh);
  ~PrivateCluster();
  PrivateCluster(const PrivateCluster&) = delete;
  PrivateCluster& operator=(const PrivateCluster&) = delete;

  // initdb on the first start; the cluster has a database "booking".
  absl::Status Start();
  // Instead of Start: a streaming standby of `primary` (pg_basebackup, then started).
  absl::Status StartStandbyOf(const PrivateCluster& primary);
  absl::Status Promote();  // the standby becomes a primary
  absl::Status Crash();    // stops at once (immediate mode), as a crash would
  // Runs `sql` with psql on the database "booking"; its output (unaligned, tuples only).
  absl::StatusOr<std::string> Psql(const std::string& sql) const;
  const std::string& url() const { return url_; }  // of the database "booking"
  int port() const { return port_; }

 private:
  std::string Env() const;

  const std::string pg_sh_;
  const int port_;
  const std::string dir_;
  const std::string url_;
  bool started_ = false;
};

}  // namespace booking::testing
