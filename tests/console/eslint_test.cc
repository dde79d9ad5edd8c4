// eslint (eslint.config.mjs) over the console's script and the browser test's script: clean.
// A copy of the script with a slip in it is refused, so the lint is seen to run.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/command.h"

namespace booking::console {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSource = BOOKING_SOURCE_DIR;

// eslint from the project's node_modules, from the source tree (where its config is).
testing::CommandResult Eslint(const std::string& files) {
  return testing::Run("cd " + testing::ShellQuote(kSource.string()) +
                      " && timeout 120 node_modules/.bin/eslint --max-warnings 0 " + files +
                      " 2>&1");
}

TEST(EslintTest, TheConsoleScriptsAreClean) {
  ASSERT_TRUE(fs::exists(kSource / "node_modules/.bin/eslint"))
      << "eslint is missing: run tools/bootstrap.sh (npm ci)";
  const testing::CommandResult run = Eslint("console tests/e2e/console_browser.mjs");
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

TEST(EslintTest, ASlipInTheScriptIsRefused) {
  ASSERT_TRUE(fs::exists(kSource / "node_modules/.bin/eslint"));
  std::ifstream in(kSource / "console/console.js");
  std::ostringstream script;
  script << in.rdbuf();
  // On stdin, named as a file of the console so that its rules apply; no file is written
  // where the other test lints.
  const fs::path slip = fs::temp_directory_path() / ("eslint-slip-" + std::to_string(getpid()));
  std::ofstream(slip) << script.str()
                      << "\nfunction unused(node, text) { node.innerHTML = text; if (text == 1) "
                         "undefinedName(); }\n";
  const testing::CommandResult run =
      Eslint("--stdin --stdin-filename console/slip.js < " + testing::ShellQuote(slip.string()));
  fs::remove(slip);
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("no-restricted-properties")) << "innerHTML: " << run.output;
  EXPECT_THAT(run.output, HasSubstr("eqeqeq")) << run.output;
  EXPECT_THAT(run.output, HasSubstr("no-undef")) << run.output;
  EXPECT_THAT(run.output, HasSubstr("no-unused-vars")) << run.output;
}

}  // namespace
}  // namespace booking::console
