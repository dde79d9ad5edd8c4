// docs/flags.md against the flags booking-server defines: every flag of the project's own code
// has a row giving its default, and every row names a defined flag. The flags are read from
// absl's registry; the test links every object of app/ (as the binary does), so a flag defined
// anywhere the server's code reaches is registered here too.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

struct Row {
  std::string default_value;  // as the doc gives it, normalised (see DocDefault)
  int line = 0;
};

// A default cell gives the flag's literal default (`empty`: an empty string or list), optionally
// followed by words in parentheses that explain it: "0 (never)", "empty (`$DATABASE_URL`)".
std::string DocDefault(absl::string_view cell) {
  std::string text = absl::StrReplaceAll(absl::StripAsciiWhitespace(cell), {{"`", ""}});
  if (const size_t paren = text.find(" ("); paren != std::string::npos && text.back() == ')') {
    text.resize(paren);
  }
  return text == "empty" ? "" : text;
}

// The table's rows, by flag. A row may document several flags, with a default each or one for
// all: "| `--a` / `--b` | 1 / 2 | ...", "| `--a` / `--b` | empty | ...".
std::map<std::string, Row> ReadTable(const std::string& path, std::vector<std::string>& errors) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::map<std::string, Row> rows;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!absl::StartsWith(line, "| `--")) continue;
    const std::vector<std::string> cells = absl::StrSplit(line, '|');
    // "", flags, default, meaning, "".
    if (cells.size() < 5) {
      errors.push_back(absl::StrCat("line ", number, ": not a row of three cells"));
      continue;
    }
    std::vector<std::string> names;
    for (absl::string_view name : absl::StrSplit(cells[1], '/')) {
      name = absl::StripAsciiWhitespace(name);
      if (!absl::ConsumePrefix(&name, "`--") || !absl::ConsumeSuffix(&name, "`")) {
        errors.push_back(absl::StrCat("line ", number, ": \"", name, "\" is not `--flag`"));
        continue;
      }
      names.emplace_back(name);
    }
    std::vector<std::string> defaults = absl::StrSplit(cells[2], " / ");
    if (defaults.size() == 1) defaults.resize(names.size(), defaults[0]);
    if (defaults.size() != names.size()) {
      errors.push_back(absl::StrCat("line ", number, ": ", names.size(), " flags but ",
                                    defaults.size(), " defaults (one each, or one for all)"));
      continue;
    }
    for (size_t i = 0; i < names.size(); ++i) {
      if (!rows.emplace(names[i], Row{DocDefault(defaults[i]), number}).second) {
        errors.push_back(absl::StrCat("line ", number, ": --", names[i], " has a row already"));
      }
    }
  }
  return rows;
}

// The doc may write a duration its own way: 60s for absl's 1m.
bool SameDefault(const std::string& doc, const std::string& flag) {
  absl::Duration a, b;
  return doc == flag || (absl::ParseDuration(doc, &a) && absl::ParseDuration(flag, &b) && a == b);
}

// Whether a flag's file (absl's Filename(): __FILE__ without leading slashes, relative to the
// compiler's directory when ccache rewrote it) is one of this repository's.
bool InProject(const std::string& file) {
  const std::string root(absl::StripPrefix(BOOKING_SOURCE_DIR, "/"));
  absl::string_view rest = file;
  while (absl::ConsumePrefix(&rest, "../") || absl::ConsumePrefix(&rest, "./")) {
  }
  if (absl::ConsumePrefix(&rest, root)) rest = absl::StripPrefix(rest, "/");
  if (rest.empty()) return false;
  return std::filesystem::is_regular_file(std::filesystem::path(BOOKING_SOURCE_DIR) /
                                          std::string(rest));
}

TEST(FlagsDocTest, EveryFlagHasARowWithItsDefaultAndEveryRowAFlag) {
  std::vector<std::string> errors;
  const std::map<std::string, Row> rows =
      ReadTable(absl::StrCat(BOOKING_SOURCE_DIR, "/docs/flags.md"), errors);

  std::set<std::string> defined;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!InProject(flag->Filename())) continue;  // absl's own (--flagfile, --help...)
    defined.emplace(name);
    const auto row = rows.find(std::string(name));
    if (row == rows.end()) {
      errors.push_back(absl::StrCat("--", name, " (", flag->Filename(), "): no row"));
    } else if (!SameDefault(row->second.default_value, flag->DefaultValue())) {
      errors.push_back(absl::StrCat("line ", row->second.line, ": --", name, " defaults to \"",
                                    flag->DefaultValue(), "\", the doc says \"",
                                    row->second.default_value, "\""));
    }
  }
  // Guards against a filter that lets nothing through (say, absl changing Filename()).
  ASSERT_TRUE(defined.contains("grpc_addr")) << "flags of app/config.cc not found";
  for (const auto& [name, row] : rows) {
    if (!defined.contains(name)) {
      errors.push_back(absl::StrCat("line ", row.line, ": --", name, " is no flag"));
    }
  }
  std::sort(errors.begin(), errors.end());
  EXPECT_THAT(errors, ::testing::IsEmpty()) << "docs/flags.md:\n" << absl::StrJoin(errors, "\n");
}

}  // namespace
}  // namespace booking
