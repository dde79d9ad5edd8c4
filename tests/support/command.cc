#include "tests/support/command.h"

#include <sys/wait.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"

namespace booking::testing {

CommandResult Run(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

absl::StatusOr<std::string> RunCommand(const std::string& command) {
  CommandResult result = Run(command);
  if (result.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("`", command, "` exited with ", result.exit_code, ": ", result.output));
  }
  return std::move(result.output);
}

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

}  // namespace booking::testing
