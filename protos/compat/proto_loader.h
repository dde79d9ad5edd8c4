#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace booking::compat {

// A file's descriptors together with the pool (and parser) they live in.
class LoadedProto {
 public:
  LoadedProto(std::shared_ptr<const void> owner, const google::protobuf::FileDescriptor* file)
      : owner_(std::move(owner)), file_(file) {}
  const google::protobuf::FileDescriptor& file() const { return *file_; }

 private:
  std::shared_ptr<const void> owner_;
  const google::protobuf::FileDescriptor* file_;
};

// Where `LoadProtoFile` looks for imports besides the repository's `protos_dir`: the googleapis
// protos booking.proto imports and protobuf's own (google/protobuf/timestamp.proto), as found
// when the project was configured.
std::vector<std::string> DefaultImportDirs(const std::string& protos_dir);

// Parses `file_name` (a path relative to an import dir, e.g. "tickets/v1/events.proto") and its
// imports from the first of `import_dirs` that has each. Errors name file:line:column.
[[nodiscard]] absl::StatusOr<LoadedProto> LoadProtoFile(const std::vector<std::string>& import_dirs,
                                                        const std::string& file_name);

// Builds `file_name` from a FileDescriptorSet in text format. Imports the set lacks (google/...)
// are parsed from the system's copies (see DefaultImportDirs), so a baseline holds only our files.
[[nodiscard]] absl::StatusOr<LoadedProto> LoadDescriptorSetText(const std::string& text,
                                                                const std::string& file_name);
[[nodiscard]] absl::StatusOr<LoadedProto> LoadDescriptorSetFile(const std::string& path,
                                                                const std::string& file_name);

// `file` and the files it imports from this repository (everything not under google/),
// dependencies first, without source info or services: what a baseline records.
google::protobuf::FileDescriptorSet BaselineSetOf(const google::protobuf::FileDescriptor& file);

}  // namespace booking::compat
