// event-fixtures: adds the stored-event fixtures that do not exist yet, as today's code writes
// them. Run it after a reviewed event change (CONTRIBUTING.md); whether the change is compatible
// is buf's to say (tools/buf.sh breaking), not this tool's.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tools/event_fixtures/fixtures.h"

namespace {

namespace fs = std::filesystem;

constexpr char kUsage[] =
    "usage: event-fixtures <repo root>  (adds missing tests/protos/fixtures/*.binpb)";

[[nodiscard]] absl::Status WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

// Fixtures are never rewritten: each records what some release wrote.
[[nodiscard]] absl::Status AddMissingFixtures(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  for (const booking::storage::EventRecord& record : booking::tools::FixtureRecords()) {
    const fs::path path = dir / (record.event_type + ".binpb");
    if (fs::exists(path)) {
      std::cout << "kept " << path.string() << "\n";
      continue;
    }
    if (absl::Status written = WriteFile(path, record.payload); !written.ok()) return written;
    std::cout << "added " << path.string() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || !fs::is_directory(fs::path(argv[1]) / "tests" / "protos")) {
    std::cerr << kUsage << "\n";
    return 2;
  }
  if (absl::Status status = AddMissingFixtures(fs::path(argv[1]) / "tests" / "protos" / "fixtures");
      !status.ok()) {
    std::cerr << "event-fixtures: " << status << "\n";
    return 1;
  }
  return 0;
}
