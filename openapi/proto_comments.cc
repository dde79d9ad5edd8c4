#include "openapi/proto_comments.h"

#include <google/protobuf/descriptor.pb.h>

#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "protos/descriptor_set.h"

namespace booking::openapi {
namespace {

using google::protobuf::SourceLocation;

// Comment lines joined by spaces, paragraphs (blank comment lines) by "\n\n".
std::string Tidy(const std::string& comment) {
  std::vector<std::string> paragraphs;
  std::string paragraph;
  for (absl::string_view line : absl::StrSplit(comment, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) {
      if (!paragraph.empty()) paragraphs.push_back(std::move(paragraph));
      paragraph.clear();
      continue;
    }
    if (!paragraph.empty()) paragraph += ' ';
    paragraph.append(line.data(), line.size());
  }
  if (!paragraph.empty()) paragraphs.push_back(std::move(paragraph));
  return absl::StrJoin(paragraphs, "\n\n");
}

template <typename Element>
void Add(const Element& element, std::map<std::string, std::string>& out) {
  SourceLocation location;
  if (!element.GetSourceLocation(&location)) return;
  std::string text = Tidy(location.leading_comments);
  if (text.empty()) text = Tidy(location.trailing_comments);
  if (!text.empty()) out[element.full_name()] = std::move(text);
}

void AddEnum(const google::protobuf::EnumDescriptor& type,
             std::map<std::string, std::string>& out) {
  Add(type, out);
  for (int i = 0; i < type.value_count(); ++i) Add(*type.value(i), out);
}

void AddMessage(const google::protobuf::Descriptor& message,
                std::map<std::string, std::string>& out) {
  Add(message, out);
  for (int i = 0; i < message.field_count(); ++i) Add(*message.field(i), out);
  for (int i = 0; i < message.nested_type_count(); ++i) AddMessage(*message.nested_type(i), out);
  for (int i = 0; i < message.enum_type_count(); ++i) AddEnum(*message.enum_type(i), out);
}

}  // namespace

absl::StatusOr<ProtoComments> ProtoComments::Parse(std::string_view descriptor_set) {
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromArray(descriptor_set.data(), static_cast<int>(descriptor_set.size()))) {
    return absl::InvalidArgumentError("not a FileDescriptorSet");
  }
  google::protobuf::DescriptorPool pool;
  ProtoComments comments;
  for (const google::protobuf::FileDescriptorProto& proto : set.file()) {
    const google::protobuf::FileDescriptor* file = pool.BuildFile(proto);
    if (file == nullptr) {
      return absl::InvalidArgumentError("descriptor set does not build at " + proto.name());
    }
    for (int i = 0; i < file->message_type_count(); ++i) {
      AddMessage(*file->message_type(i), comments.by_name_);
    }
    for (int i = 0; i < file->enum_type_count(); ++i)
      AddEnum(*file->enum_type(i), comments.by_name_);
    for (int i = 0; i < file->service_count(); ++i) {
      const google::protobuf::ServiceDescriptor& service = *file->service(i);
      Add(service, comments.by_name_);
      for (int m = 0; m < service.method_count(); ++m) Add(*service.method(m), comments.by_name_);
    }
  }
  return comments;
}

const ProtoComments& ProtoComments::Api() {
  static const ProtoComments* const api = [] {
    absl::StatusOr<ProtoComments> parsed = Parse(kBookingDescriptorSet);
    // Built from the build's own descriptor set: failing here is a build defect, not input.
    return new ProtoComments(parsed.ok() ? *std::move(parsed) : ProtoComments());
  }();
  return *api;
}

std::string ProtoComments::Of(const std::string& full_name) const {
  auto it = by_name_.find(full_name);
  return it == by_name_.end() ? "" : it->second;
}

std::string ProtoComments::SummaryOf(const std::string& full_name) const {
  std::string text = Of(full_name);
  const size_t paragraph = text.find("\n\n");
  if (paragraph != std::string::npos) text.resize(paragraph);
  const size_t stop = text.find(". ");
  if (stop != std::string::npos) return text.substr(0, stop);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

}  // namespace booking::openapi
