// Checks the descriptor set built for Envoy's gRPC-JSON transcoder (build/bin/booking.pb): that it
// is self-contained, carries source info and the google.api.http bindings of the REST contract,
// and that tools/envoy/envoy.yaml names services it contains.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "google/api/annotations.pb.h"
#include "google/api/http.pb.h"
#include "gtest/gtest.h"

namespace booking::protos {
namespace {

namespace fs = std::filesystem;
using google::api::HttpRule;
using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptorSet;

// The descriptor set is built next to booking-server (protos/CMakeLists.txt).
fs::path DescriptorSetPath() { return fs::path(BOOKING_SERVER_PATH).parent_path() / "booking.pb"; }

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

FileDescriptorSet LoadSet() {
  const fs::path path = DescriptorSetPath();
  const std::string bytes = ReadFile(path);
  EXPECT_FALSE(bytes.empty()) << "cannot read " << path << " (build target booking_descriptor_set)";
  FileDescriptorSet set;
  EXPECT_TRUE(set.ParseFromString(bytes)) << path << " is not a FileDescriptorSet";
  return set;
}

const google::protobuf::FileDescriptorProto* FindFile(const FileDescriptorSet& set,
                                                      const std::string& name) {
  for (const auto& file : set.file()) {
    if (file.name() == name) return &file;
  }
  return nullptr;
}

// A pool built from a FileDescriptorSet only guarantees the options' bytes: whether google.api.http
// is a resolved extension or an unknown field depends on how the set was parsed. Round-trip them
// through the generated MethodOptions, where the extension is registered, so it always resolves.
bool HttpRuleOf(const google::protobuf::MethodDescriptor* method, HttpRule* rule) {
  google::protobuf::MethodOptions options;
  if (!options.ParseFromString(method->options().SerializeAsString())) return false;
  if (!options.HasExtension(google::api::http)) return false;
  *rule = options.GetExtension(google::api::http);
  return true;
}

// tools/envoy/envoy.yaml in the source tree: the first of the test binary's directory and its
// ancestors (at most 6 levels up) that contains it.
fs::path FindEnvoyYaml() {
  std::error_code error;
  fs::path dir = fs::read_symlink("/proc/self/exe", error).parent_path();
  for (int level = 0; level <= 6 && !dir.empty(); ++level) {
    const fs::path candidate = dir / "tools" / "envoy" / "envoy.yaml";
    if (fs::is_regular_file(candidate, error)) return candidate;
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  return {};
}

std::string Trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\"'");
  if (begin == std::string::npos) return {};
  const auto end = text.find_last_not_of(" \t\"'");
  return text.substr(begin, end - begin + 1);
}

// The value of the first `key: [a, b]` flow list in `yaml` (enough for envoy.yaml's `services`).
std::vector<std::string> FlowList(const std::string& yaml, const std::string& key) {
  std::istringstream lines(yaml);
  std::string line;
  while (std::getline(lines, line)) {
    const std::string trimmed = Trim(line);
    if (trimmed.rfind(key + ":", 0) != 0) continue;
    const auto open = trimmed.find('[');
    const auto close = trimmed.find(']');
    if (open == std::string::npos || close == std::string::npos || close < open) return {};
    std::vector<std::string> items;
    std::istringstream list(trimmed.substr(open + 1, close - open - 1));
    std::string item;
    while (std::getline(list, item, ',')) {
      if (!Trim(item).empty()) items.push_back(Trim(item));
    }
    return items;
  }
  return {};
}

TEST(DescriptorSetTest, ContainsTheApiAndItsImports) {
  const FileDescriptorSet set = LoadSet();
  std::set<std::string> names;
  for (const auto& file : set.file()) names.insert(file.name());
  for (const char* expected :
       {"tickets/v1/booking.proto", "tickets/v1/admin.proto", "google/api/annotations.proto",
        "google/api/http.proto", "google/protobuf/timestamp.proto"}) {
    EXPECT_TRUE(names.count(expected)) << expected << " missing from " << DescriptorSetPath();
  }
}

TEST(DescriptorSetTest, CarriesSourceInfo) {
  const FileDescriptorSet set = LoadSet();
  const auto* booking = FindFile(set, "tickets/v1/booking.proto");
  ASSERT_NE(booking, nullptr);
  ASSERT_TRUE(booking->has_source_code_info()) << "built without --include_source_info";
  int commented = 0;
  for (const auto& location : booking->source_code_info().location()) {
    if (!location.leading_comments().empty()) ++commented;
  }
  EXPECT_GT(commented, 0) << "no leading comments in booking.proto's source info";
}

TEST(DescriptorSetTest, BuildsAPoolWithTheHttpBindings) {
  const FileDescriptorSet set = LoadSet();
  DescriptorPool pool;
  // Files come dependencies first (--include_imports), so each builds on the ones before it.
  for (const auto& file : set.file()) {
    ASSERT_NE(pool.BuildFile(file), nullptr) << "cannot build " << file.name();
  }
  const auto* service = pool.FindServiceByName("tickets.v1.BookingService");
  ASSERT_NE(service, nullptr);

  std::map<std::string, HttpRule> rules;
  for (int i = 0; i < service->method_count(); ++i) {
    const auto* method = service->method(i);
    HttpRule rule;
    EXPECT_TRUE(HttpRuleOf(method, &rule)) << method->full_name() << " has no google.api.http";
    rules[method->name()] = rule;
  }

  ASSERT_TRUE(rules.count("UpdateTicketsStatus"));
  const HttpRule& update = rules["UpdateTicketsStatus"];
  EXPECT_EQ(update.pattern_case(), HttpRule::kPost);
  EXPECT_EQ(update.post(), "/v1/tickets-status");
  EXPECT_EQ(update.body(), "*");
  ASSERT_EQ(update.additional_bindings_size(), 1);
  EXPECT_EQ(update.additional_bindings(0).pattern_case(), HttpRule::kPost);
  EXPECT_EQ(update.additional_bindings(0).post(), "/tickets-status");
  EXPECT_EQ(update.additional_bindings(0).body(), "*");

  ASSERT_TRUE(rules.count("ListTickets"));
  const HttpRule& list = rules["ListTickets"];
  EXPECT_EQ(list.pattern_case(), HttpRule::kGet);
  EXPECT_EQ(list.get(), "/v1/tickets");
  ASSERT_EQ(list.additional_bindings_size(), 1);
  EXPECT_EQ(list.additional_bindings(0).pattern_case(), HttpRule::kGet);
  EXPECT_EQ(list.additional_bindings(0).get(), "/tickets");
  EXPECT_EQ(list.additional_bindings(0).response_body(), "tickets");

  ASSERT_TRUE(rules.count("GetTicket"));
  const HttpRule& get = rules["GetTicket"];
  EXPECT_EQ(get.pattern_case(), HttpRule::kGet);
  EXPECT_EQ(get.get(), "/v1/tickets/{ticket_id}");
}

TEST(DescriptorSetTest, EnvoyConfigNamesServicesOfTheSet) {
  const fs::path yaml_path = FindEnvoyYaml();
  ASSERT_FALSE(yaml_path.empty())
      << "tools/envoy/envoy.yaml not found in the test binary's directory or up to 6 levels above";
  const std::string yaml = ReadFile(yaml_path);
  ASSERT_FALSE(yaml.empty()) << "cannot read " << yaml_path;

  const FileDescriptorSet set = LoadSet();
  DescriptorPool pool;
  for (const auto& file : set.file()) {
    ASSERT_NE(pool.BuildFile(file), nullptr) << "cannot build " << file.name();
  }

  const std::vector<std::string> services = FlowList(yaml, "services");
  ASSERT_FALSE(services.empty()) << "no `services: [...]` list in " << yaml_path;
  for (const std::string& name : services) {
    EXPECT_NE(pool.FindServiceByName(name), nullptr)
        << yaml_path << " names " << name << ", which the descriptor set does not define";
  }
  for (const char* expected : {"tickets.v1.BookingService", "tickets.v1.AdminService"}) {
    EXPECT_NE(std::find(services.begin(), services.end(), expected), services.end())
        << yaml_path << " does not transcode " << expected;
  }
  EXPECT_NE(yaml.find("proto_descriptor: build/bin/booking.pb"), std::string::npos)
      << yaml_path << " does not point at the descriptor set";
}

}  // namespace
}  // namespace booking::protos
