#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace booking::testing {

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally (or could not start)
  std::string output;  // stdout and stderr, interleaved
};

// Runs `command` with /bin/sh and waits for it, keeping what it printed. Tools the tests drive
// (buf, redocly, node) run this way; the command carries its own bound (`timeout N ...`).
CommandResult Run(const std::string& command);

// Run(command)'s output when it exits 0, else an error that holds the exit code and output.
absl::StatusOr<std::string> RunCommand(const std::string& command);

// `text` quoted for the shell: '...' with any ' inside escaped.
std::string ShellQuote(const std::string& text);

}  // namespace booking::testing
