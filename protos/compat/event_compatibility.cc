#include "protos/compat/event_compatibility.h"

#include <deque>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace booking::compat {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;

// What the baseline's event messages carry: every message and enum their bytes can contain.
struct Reachable {
  std::vector<const Descriptor*> messages;
  std::vector<const EnumDescriptor*> enums;
};

Reachable ReachableFrom(const FileDescriptor& file) {
  Reachable out;
  std::set<std::string_view> seen;
  std::deque<const Descriptor*> queue;
  auto add_message = [&](const Descriptor* message) {
    if (seen.insert(message->full_name()).second) queue.push_back(message);
  };
  auto add_enum = [&](const EnumDescriptor* e) {
    if (seen.insert(e->full_name()).second) out.enums.push_back(e);
  };
  for (int i = 0; i < file.message_type_count(); ++i) add_message(file.message_type(i));
  for (int i = 0; i < file.enum_type_count(); ++i) add_enum(file.enum_type(i));
  while (!queue.empty()) {
    const Descriptor* message = queue.front();
    queue.pop_front();
    out.messages.push_back(message);
    for (int i = 0; i < message->nested_type_count(); ++i) add_message(message->nested_type(i));
    for (int i = 0; i < message->enum_type_count(); ++i) add_enum(message->enum_type(i));
    for (int i = 0; i < message->field_count(); ++i) {
      const FieldDescriptor* field = message->field(i);
      if (field->message_type() != nullptr) add_message(field->message_type());
      if (field->enum_type() != nullptr) add_enum(field->enum_type());
    }
  }
  return out;
}

// "string", "repeated tickets.v1.Money": what decides how a field's bytes are read.
std::string TypeOf(const FieldDescriptor& field) {
  std::string type;
  if (field.message_type() != nullptr) {
    type = field.message_type()->full_name();
  } else if (field.enum_type() != nullptr) {
    type = field.enum_type()->full_name();
  } else {
    type = FieldDescriptor::TypeName(field.type());
  }
  return field.is_repeated() ? absl::StrCat("repeated ", type) : type;
}

std::string Reservation(int number, const std::string& name, bool number_reserved,
                        bool name_reserved) {
  std::string out;
  if (!number_reserved) absl::StrAppend(&out, "reserved ", number, ";");
  if (!number_reserved && !name_reserved) out += " ";
  if (!name_reserved) absl::StrAppend(&out, "reserved \"", name, "\";");
  return out;
}

void CheckRemovedField(const FieldDescriptor& old_field, const Descriptor& now,
                       std::vector<std::string>& problems) {
  const bool number_reserved = now.IsReservedNumber(old_field.number());
  const bool name_reserved = now.IsReservedName(old_field.name());
  if (number_reserved && name_reserved) return;
  const std::string prefix = absl::StrCat(now.full_name(), ": field ", old_field.number(), " \"",
                                          old_field.name(), "\" was removed ");
  const std::string add =
      Reservation(old_field.number(), old_field.name(), number_reserved, name_reserved);
  if (!number_reserved && !name_reserved) {
    problems.push_back(absl::StrCat(prefix, "without reserving it; add '", add,
                                    "' so the number is never reused (old stored events still "
                                    "carry it)"));
  } else if (!number_reserved) {
    problems.push_back(absl::StrCat(prefix, "with its name reserved but not its number; add '", add,
                                    "' so the number is never reused (old stored events still "
                                    "carry it)"));
  } else {
    problems.push_back(absl::StrCat(prefix, "with its number reserved but not its name; add '", add,
                                    "' so the name never comes back on another number (JSON and "
                                    "text formats read fields by name)"));
  }
}

void CheckMessage(const Descriptor& old_message, const Descriptor& now,
                  std::vector<std::string>& problems) {
  for (int i = 0; i < old_message.field_count(); ++i) {
    const FieldDescriptor& old_field = *old_message.field(i);
    const FieldDescriptor* same_name = now.FindFieldByName(old_field.name());
    if (same_name != nullptr && same_name->number() != old_field.number()) {
      problems.push_back(absl::StrCat(
          now.full_name(), ": field \"", old_field.name(), "\" moved from number ",
          old_field.number(), " to ", same_name->number(),
          "; readers find fields by number, so stored events' values would be lost and old "
          "workers could not read new events: keep the number"));
    }
    const FieldDescriptor* same_number = now.FindFieldByNumber(old_field.number());
    if (same_number == nullptr) {
      CheckRemovedField(old_field, now, problems);
      continue;
    }
    if (same_number->name() != old_field.name()) {
      // A reused number is read as the new field from every stored event; a plain rename is
      // binary-safe but breaks JSON readers, and the two cannot be told apart here.
      problems.push_back(absl::StrCat(
          now.full_name(), ": field ", old_field.number(), " \"", old_field.name(),
          "\" is now named \"", same_number->name(),
          "\"; stored events' values would be read as the new field: keep the name, or reserve "
          "the old number and name and give the new field a new number"));
    }
    if (TypeOf(*same_number) != TypeOf(old_field)) {
      problems.push_back(absl::StrCat(
          now.full_name(), ": field ", old_field.number(), " \"", old_field.name(),
          "\" changed type from ", TypeOf(old_field), " to ", TypeOf(*same_number),
          "; stored events hold the old type's bytes under this number: keep the type and add a "
          "new field with a new number instead"));
    }
  }
}

void CheckEnum(const EnumDescriptor& old_enum, const EnumDescriptor& now,
               std::vector<std::string>& problems) {
  for (int i = 0; i < old_enum.value_count(); ++i) {
    const auto& old_value = *old_enum.value(i);
    if (now.FindValueByNumber(old_value.number()) != nullptr) continue;
    const bool number_reserved = now.IsReservedNumber(old_value.number());
    const bool name_reserved = now.IsReservedName(old_value.name());
    if (number_reserved && name_reserved) continue;
    problems.push_back(absl::StrCat(
        now.full_name(), ": value ", old_value.number(), " \"", old_value.name(),
        "\" was removed without reserving it; add '",
        Reservation(old_value.number(), old_value.name(), number_reserved, name_reserved),
        "' so it is never reused with another meaning (old stored events still carry it)"));
  }
}

}  // namespace

std::vector<std::string> CheckEventCompatibility(const FileDescriptor& baseline,
                                                 const FileDescriptor& current) {
  std::vector<std::string> problems;
  if (baseline.package() != current.package()) {
    problems.push_back(absl::StrCat(
        current.name(), ": package changed from \"", baseline.package(), "\" to \"",
        current.package(),
        "\"; stored events name their type with the package, so they could no longer be decoded"));
  }
  const Reachable reachable = ReachableFrom(baseline);
  const google::protobuf::DescriptorPool& pool = *current.pool();
  for (const Descriptor* old_message : reachable.messages) {
    const Descriptor* now = pool.FindMessageTypeByName(old_message->full_name());
    if (now == nullptr) {
      problems.push_back(absl::StrCat(
          old_message->full_name(),
          ": message is gone (removed or renamed); stored events name their type, so they could "
          "no longer be decoded: keep the message under its name"));
      continue;
    }
    CheckMessage(*old_message, *now, problems);
  }
  for (const EnumDescriptor* old_enum : reachable.enums) {
    const EnumDescriptor* now = pool.FindEnumTypeByName(old_enum->full_name());
    if (now == nullptr) {
      problems.push_back(absl::StrCat(old_enum->full_name(),
                                      ": enum is gone (removed or renamed); fields of this type "
                                      "in stored events could no longer be decoded: keep it"));
      continue;
    }
    CheckEnum(*old_enum, *now, problems);
  }
  return problems;
}

}  // namespace booking::compat
