// Every shell example of README.md and docs/*.md, run against the real binary and checked
// against the output it shows (tests/docs/run_examples.mjs): one test per file, each with a
// fresh database and server, so a file's examples may build on one another but not on another
// file's.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/booking_server.h"
#include "tests/support/command.h"
#include "tests/support/test_database.h"

namespace booking::docs {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = BOOKING_SOURCE_DIR;

// README.md and docs/*.md, relative to the repository.
std::vector<std::string> MarkdownFiles() {
  std::vector<std::string> files = {"README.md"};
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(kSource / "docs", error)) {
    if (entry.path().extension() == ".md")
      files.push_back("docs/" + entry.path().filename().string());
  }
  std::sort(files.begin() + 1, files.end());
  return files;
}

class DocsExamplesE2eTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DocsExamplesE2eTest, EveryExampleShowsWhatItPrints) {
  testing::TestDatabase db;
  auto server = testing::BookingServer::Start(db.url());
  ASSERT_TRUE(server->ready());

  const testing::CommandResult run = testing::Run(absl::StrCat(
      "cd ", testing::ShellQuote(kSource.string()),
      " && timeout 600 node tests/docs/run_examples.mjs", " --grpc ", server->target(),
      " --http 127.0.0.1:", server->http_port(), " ", testing::ShellQuote(GetParam())));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::smatch summary;
  ASSERT_TRUE(std::regex_search(run.output, summary,
                                std::regex(R"(examples: (\d+) commands in (\d+) blocks)")))
      << run.output;
  std::cout << GetParam() << ": " << summary[0] << "\n";
  if (GetParam() == "README.md") {
    EXPECT_GE(std::stoi(summary[1]), 5) << "the front page shows how to call it";
  }
}

INSTANTIATE_TEST_SUITE_P(Docs, DocsExamplesE2eTest, ::testing::ValuesIn(MarkdownFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// The runner itself: what it accepts and what it refuses.
TEST(RunExamplesTest, ChecksOutputsAndRefusesShellBlocksThatAreNotRun) {
  const fs::path dir = fs::path(::testing::TempDir()) / absl::StrCat("examples_", getpid());
  fs::create_directories(dir);
  const fs::path good = dir / "good.md";
  std::ofstream(good) << "```console\n$ printf 'id=%s\\nat=now\\n' 42\nid=...\n...\n$ true\n```\n"
                         "```sh norun\nexit 1\n```\n";
  const fs::path bad = dir / "bad.md";
  std::ofstream(bad) << "```console\n$ echo hi\nbye\n```\n```sh\necho unchecked\n```\n";
  auto runner = [&](const fs::path& file) {
    return testing::Run(absl::StrCat("cd ", testing::ShellQuote(kSource.string()),
                                     " && timeout 60 node tests/docs/run_examples.mjs --grpc x:1"
                                     " --http x:2 ",
                                     testing::ShellQuote(file.string())));
  };
  const testing::CommandResult passed = runner(good);
  EXPECT_EQ(passed.exit_code, 0) << passed.output;
  EXPECT_THAT(passed.output, ::testing::HasSubstr("examples: 2 commands in 1 blocks of 1 files, "
                                                  "0 failures"));
  const testing::CommandResult failed = runner(bad);
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_THAT(failed.output, ::testing::HasSubstr("bad.md:2: $ echo hi"));
  EXPECT_THAT(failed.output, ::testing::HasSubstr("bad.md:5: a sh block that is not run"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace booking::docs
