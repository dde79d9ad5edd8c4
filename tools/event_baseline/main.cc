// event-baseline: records today's events.proto as the compatibility baseline and adds the stored
// event fixtures that do not exist yet. Run it only after a reviewed, compatible change to an
// event (CONTRIBUTING.md): the baseline is what every later change is checked against.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "protos/compat/event_compatibility.h"
#include "protos/compat/proto_loader.h"
#include "tickets/v1/events.pb.h"
#include "tools/event_baseline/fixtures.h"

namespace {

namespace fs = std::filesystem;
namespace compat = booking::compat;

constexpr char kUsage[] =
    "usage: event-baseline [--force] <repo root>  (rewrites protos/compat/events_baseline.txtpb "
    "from the compiled-in events.proto, adds missing tests/protos/fixtures/*.binpb)";
constexpr char kEventsProto[] = "tickets/v1/events.proto";

// A binary built from older sources would record an old baseline: refuse unless the
// compiled-in events.proto is the one on disk.
[[nodiscard]] absl::Status CheckBuildIsCurrent(const fs::path& root,
                                               const google::protobuf::FileDescriptor& compiled) {
  absl::StatusOr<compat::LoadedProto> on_disk =
      compat::LoadProtoFile(compat::DefaultImportDirs((root / "protos").string()), kEventsProto);
  if (!on_disk.ok()) return on_disk.status();
  if (!google::protobuf::util::MessageDifferencer::Equals(compat::BaselineSetOf(on_disk->file()),
                                                          compat::BaselineSetOf(compiled))) {
    return absl::FailedPreconditionError(absl::StrCat(
        kEventsProto, " on disk differs from the one built in: rebuild event-baseline"));
  }
  return absl::OkStatus();
}

// Refuses to move the baseline past a breaking change unless forced.
[[nodiscard]] absl::Status CheckAgainstOldBaseline(
    const fs::path& path, const google::protobuf::FileDescriptor& current) {
  if (!fs::exists(path)) return absl::OkStatus();
  absl::StatusOr<compat::LoadedProto> old = compat::LoadDescriptorSetFile(path, kEventsProto);
  if (!old.ok()) return old.status();
  const std::vector<std::string> problems = compat::CheckEventCompatibility(old->file(), current);
  for (const std::string& problem : problems) std::cerr << problem << "\n";
  if (!problems.empty()) {
    return absl::FailedPreconditionError(
        "incompatible with the committed baseline (above); --force records it anyway");
  }
  return absl::OkStatus();
}

[[nodiscard]] absl::Status WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

[[nodiscard]] absl::Status WriteBaseline(const fs::path& path,
                                         const google::protobuf::FileDescriptor& current) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(compat::BaselineSetOf(current), &text)) {
    return absl::InternalError("cannot print the baseline");
  }
  return WriteFile(path, absl::StrCat("# ", kEventsProto,
                                      " and its imports from this repository, as written by\n"
                                      "# event-baseline. Do not edit; regenerate only after a "
                                      "reviewed, compatible change.\n",
                                      text));
}

// Fixtures are never rewritten: each records what some release wrote.
[[nodiscard]] absl::Status AddMissingFixtures(const fs::path& dir) {
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

absl::Status Run(const fs::path& root, bool force) {
  const google::protobuf::FileDescriptor& current =
      *tickets::v1::TicketBookingConfirmed::descriptor()->file();
  if (absl::Status fresh = CheckBuildIsCurrent(root, current); !fresh.ok()) return fresh;
  const fs::path baseline = root / "protos" / "compat" / "events_baseline.txtpb";
  if (!force) {
    if (absl::Status compatible = CheckAgainstOldBaseline(baseline, current); !compatible.ok()) {
      return compatible;
    }
  }
  if (absl::Status written = WriteBaseline(baseline, current); !written.ok()) return written;
  std::cout << "wrote " << baseline.string() << "\n";
  const fs::path fixtures = root / "tests" / "protos" / "fixtures";
  std::error_code error;
  fs::create_directories(fixtures, error);
  return AddMissingFixtures(fixtures);
}

}  // namespace

int main(int argc, char** argv) {
  bool force = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--force") {
      force = true;
    } else if (arg.rfind("-", 0) == 0) {
      std::cerr << kUsage << "\n";
      return 2;
    } else {
      args.push_back(arg);
    }
  }
  if (args.size() != 1 || !fs::is_directory(fs::path(args[0]) / "protos")) {
    std::cerr << kUsage << "\n";
    return 2;
  }
  if (absl::Status status = Run(args[0], force); !status.ok()) {
    std::cerr << "event-baseline: " << status << "\n";
    return 1;
  }
  return 0;
}
