#include "protos/compat/proto_loader.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/compiler/importer.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/text_format.h"

namespace booking::compat {
namespace {

namespace pb = google::protobuf;

class ParseErrors : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& filename, int line, int column,
                const std::string& message) override {
    // Lines and columns come zero-based, -1 for the whole file (e.g. not found).
    if (line < 0) {
      errors.push_back(absl::StrCat(filename, ": ", message));
    } else {
      errors.push_back(absl::StrCat(filename, ":", line + 1, ":", column + 1, ": ", message));
    }
  }
  std::vector<std::string> errors;
};

class TextErrors : public pb::io::ErrorCollector {
 public:
  explicit TextErrors(const std::string& source) : source_(source) {}
  void AddError(int line, int column, const std::string& message) override {
    errors.push_back(absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message));
  }
  std::vector<std::string> errors;

 private:
  std::string source_;
};

class BuildErrors : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const pb::Message* descriptor, ErrorLocation location,
                const std::string& message) override {
    errors.push_back(absl::StrCat(filename, ": ", element_name, ": ", message));
  }
  std::vector<std::string> errors;
};

// Members in the order they must be built; destroyed in reverse, the importer first.
struct DiskOwner {
  pb::compiler::DiskSourceTree tree;
  ParseErrors errors;
  pb::compiler::Importer importer{&tree, &errors};
};

// Files the set lacks (google/...) are parsed from the system's copies, not taken from the
// descriptors linked into the binary: what is linked varies, and the baseline should not lean
// on today's generated code. Our own files must all be in the set.
struct SetOwner {
  SetOwner() {
    for (const char* dir : {BOOKING_GOOGLEAPIS_PROTO_DIR, BOOKING_PROTOBUF_INCLUDE_DIR}) {
      tree.MapPath("", dir);
    }
    imports.RecordErrorsTo(&parse_errors);
  }
  pb::SimpleDescriptorDatabase set;
  pb::compiler::DiskSourceTree tree;
  ParseErrors parse_errors;
  pb::compiler::SourceTreeDescriptorDatabase imports{&tree};
  pb::MergedDescriptorDatabase merged{&set, &imports};  // the set wins
  BuildErrors errors;
  pb::DescriptorPool pool{&merged, &errors};
};

void AddWithImports(const pb::FileDescriptor& file, std::set<std::string>& added,
                    pb::FileDescriptorSet& out) {
  if (absl::StartsWith(file.name(), "google/") || !added.insert(file.name()).second) return;
  for (int i = 0; i < file.dependency_count(); ++i) {
    AddWithImports(*file.dependency(i), added, out);
  }
  pb::FileDescriptorProto* proto = out.add_file();
  file.CopyTo(proto);
  // Events carry messages only; services would bring API annotations the reader must know.
  proto->clear_service();
}

absl::StatusOr<LoadedProto> LoadSet(const std::string& text, const std::string& file_name,
                                    const std::string& source) {
  pb::FileDescriptorSet set;
  TextErrors text_errors(source);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&text_errors);
  if (!parser.ParseFromString(text, &set)) {
    return absl::InvalidArgumentError(absl::StrCat("not a FileDescriptorSet in text format: ",
                                                   absl::StrJoin(text_errors.errors, "; ")));
  }
  auto owner = std::make_shared<SetOwner>();
  for (const pb::FileDescriptorProto& file : set.file()) {
    if (!owner->set.Add(file)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": cannot add ", file.name(), " (twice?)"));
    }
  }
  // Else the pool would quietly fall back to the compiled-in file of that name.
  pb::FileDescriptorProto in_set;
  if (!owner->set.FindFileByName(file_name, &in_set)) {
    return absl::NotFoundError(absl::StrCat(source, ": has no ", file_name));
  }
  const pb::FileDescriptor* file = owner->pool.FindFileByName(file_name);
  if (file == nullptr) {
    std::vector<std::string> errors = owner->parse_errors.errors;
    errors.insert(errors.end(), owner->errors.errors.begin(), owner->errors.errors.end());
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": cannot build ", file_name, ": ", absl::StrJoin(errors, "; ")));
  }
  return LoadedProto(owner, file);
}

}  // namespace

std::vector<std::string> DefaultImportDirs(const std::string& protos_dir) {
  return {protos_dir, BOOKING_GOOGLEAPIS_PROTO_DIR, BOOKING_PROTOBUF_INCLUDE_DIR};
}

absl::StatusOr<LoadedProto> LoadProtoFile(const std::vector<std::string>& import_dirs,
                                          const std::string& file_name) {
  auto owner = std::make_shared<DiskOwner>();
  for (const std::string& dir : import_dirs) owner->tree.MapPath("", dir);
  const pb::FileDescriptor* file = owner->importer.Import(file_name);
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load ", file_name, " from [", absl::StrJoin(import_dirs, ", "),
                     "]: ", absl::StrJoin(owner->errors.errors, "; ")));
  }
  return LoadedProto(owner, file);
}

absl::StatusOr<LoadedProto> LoadDescriptorSetText(const std::string& text,
                                                  const std::string& file_name) {
  return LoadSet(text, file_name, "<text>");
}

absl::StatusOr<LoadedProto> LoadDescriptorSetFile(const std::string& path,
                                                  const std::string& file_name) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return LoadSet(text.str(), file_name, path);
}

pb::FileDescriptorSet BaselineSetOf(const pb::FileDescriptor& file) {
  pb::FileDescriptorSet set;
  std::set<std::string> added;
  AddWithImports(file, added, set);
  return set;
}

}  // namespace booking::compat
