#include "openapi/openapi.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "gtest/gtest.h"
#include "tickets/v1/admin.grpc.pb.h"
#include "tickets/v1/booking.grpc.pb.h"

namespace booking::openapi {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kRef[] = "#/components/schemas/";

// gRPC's generated service classes have no descriptor(); take the service from the file of one
// of its messages (which also makes the linker keep that file's generated code).
template <typename Message>
const google::protobuf::ServiceDescriptor* ServiceOf(const char* full_name) {
  const google::protobuf::ServiceDescriptor* service =
      Message::descriptor()->file()->pool()->FindServiceByName(full_name);
  EXPECT_NE(service, nullptr) << full_name;
  return service;
}

std::string BuildForTickets() {
  return BuildOpenApiJson(
      {ServiceOf<tickets::v1::Ticket>(tickets::v1::BookingService::service_full_name()),
       ServiceOf<tickets::v1::DeadLetter>(tickets::v1::AdminService::service_full_name())},
      "Booking API", "1.2.3");
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    json_ = BuildForTickets();
    const auto status = google::protobuf::util::JsonStringToMessage(json_, &doc_);
    ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << json_;
  }

  // The value at `keys` (object keys from the document root); fails the test when missing.
  static const Value& At(const Struct& root, const std::vector<std::string>& keys) {
    static const Value kMissing;
    const Struct* current = &root;
    const Value* value = nullptr;
    std::string walked;
    for (const std::string& key : keys) {
      walked += "/" + key;
      if (current == nullptr || current->fields().count(key) == 0) {
        ADD_FAILURE() << "missing " << walked;
        return kMissing;
      }
      value = &current->fields().at(key);
      current = value->has_struct_value() ? &value->struct_value() : nullptr;
    }
    return *value;
  }
  const Value& At(const std::vector<std::string>& keys) const { return At(doc_, keys); }

  // The parameter of `operation` called `name`, or an empty struct (with a failure).
  static Struct Parameter(const Value& operation, const std::string& name) {
    for (const Value& parameter :
         At(operation.struct_value(), {"parameters"}).list_value().values()) {
      if (At(parameter.struct_value(), {"name"}).string_value() == name) {
        return parameter.struct_value();
      }
    }
    ADD_FAILURE() << "no parameter " << name;
    return Struct();
  }

  std::string json_;
  Struct doc_;
};

// What tools need beyond the routes: a summary per operation, the error answers with the
// Status schema (and when to retry), servers, and the bearer scheme.
TEST_F(OpenApiTest, ErrorsSecurityServersAndSummaries) {
  EXPECT_EQ(At({"servers"}).list_value().values(0).struct_value().fields().at("url").string_value(),
            "/");
  EXPECT_EQ(At({"components", "securitySchemes", "bearer", "scheme"}).string_value(), "bearer");
  const Value& post = At({"paths", "/v1/tickets-status", "post"});
  EXPECT_EQ(At(post.struct_value(), {"summary"}).string_value(), "Update tickets status");
  for (const std::string code : {"400", "422", "429", "503", "default"}) {
    EXPECT_EQ(At(post.struct_value(),
                 {"responses", code, "content", "application/json", "schema", "$ref"})
                  .string_value(),
              std::string(kRef) + "Status")
        << code;
  }
  EXPECT_EQ(
      At(post.struct_value(), {"responses", "429", "headers", "Retry-After", "schema", "type"})
          .string_value(),
      "integer");
  EXPECT_EQ(At({"paths", "/v1/tickets/{ticket_id}", "get", "responses", "404", "description"})
                .string_value()
                .substr(0, 9),
            "NOT_FOUND");
  // Without a scope function, no operation asks for a token: each says so (security: []).
  EXPECT_EQ(At(post.struct_value(), {"security"}).list_value().values_size(), 0);
}

TEST(OpenApiOptionsTest, ScopesAndTheGatewaysOwnPaths) {
  OpenApiOptions options;
  options.scope_of = [](const google::protobuf::MethodDescriptor& method) {
    return method.name() == "UpdateTicketsStatus" ? std::string("write") : std::string();
  };
  options.server_paths = true;
  Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  BuildOpenApiJson({ServiceOf<tickets::v1::Ticket>(
                                       tickets::v1::BookingService::service_full_name())},
                                   "Booking API", "1", options),
                  &doc)
                  .ok());
  const Struct& paths = doc.fields().at("paths").struct_value();
  const Struct& post =
      paths.fields().at("/v1/tickets-status").struct_value().fields().at("post").struct_value();
  EXPECT_EQ(post.fields().at("x-booking-scope").string_value(), "write");
  const auto& security = post.fields().at("security").list_value();
  ASSERT_EQ(security.values_size(), 2) << "the bearer token, or none (tokens off)";
  EXPECT_TRUE(security.values(0).struct_value().fields().contains("bearer"));
  EXPECT_TRUE(post.fields().at("responses").struct_value().fields().contains("401"));
  const Struct& get =
      paths.fields().at("/v1/tickets").struct_value().fields().at("get").struct_value();
  EXPECT_EQ(get.fields().at("security").list_value().values_size(), 0)
      << "reads are open unless --auth_reads";
  EXPECT_TRUE(paths.fields().contains("/health"));
  EXPECT_TRUE(paths.fields()
                  .at("/metrics")
                  .struct_value()
                  .fields()
                  .at("get")
                  .struct_value()
                  .fields()
                  .at("responses")
                  .struct_value()
                  .fields()
                  .at("200")
                  .struct_value()
                  .fields()
                  .at("content")
                  .struct_value()
                  .fields()
                  .contains("text/plain"));
}

TEST_F(OpenApiTest, DescribesTheDocument) {
  EXPECT_EQ(At({"openapi"}).string_value(), "3.0.3");
  EXPECT_EQ(At({"info", "title"}).string_value(), "Booking API");
  EXPECT_EQ(At({"info", "version"}).string_value(), "1.2.3");
}

TEST_F(OpenApiTest, IsTheSameOnEveryCall) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(BuildForTickets(), json_);
  }
}

TEST_F(OpenApiTest, UpdateTicketsStatusTakesTheWholeRequestAsBody) {
  for (const std::string path : {"/v1/tickets-status", "/tickets-status"}) {
    SCOPED_TRACE(path);
    const Value& post = At({"paths", path, "post"});
    EXPECT_EQ(
        At(post.struct_value(), {"requestBody", "content", "application/json", "schema", "$ref"})
            .string_value(),
        std::string(kRef) + "tickets.v1.UpdateTicketsStatusRequest");
    EXPECT_TRUE(At(post.struct_value(), {"requestBody", "required"}).bool_value());
    // Body "*": no query parameters; the headers a generated client must send are listed.
    const Struct key = Parameter(post, "Idempotency-Key");
    EXPECT_EQ(At(key, {"in"}).string_value(), "header");
    EXPECT_TRUE(At(key, {"required"}).bool_value());
    EXPECT_EQ(At(Parameter(post, "Prefer"), {"in"}).string_value(), "header");
    EXPECT_EQ(At(Parameter(post, "Correlation-ID"), {"in"}).string_value(), "header");
    EXPECT_EQ(At(post.struct_value(), {"parameters"}).list_value().values_size(), 3);
    EXPECT_EQ(At(post.struct_value(),
                 {"responses", "200", "content", "application/json", "schema", "$ref"})
                  .string_value(),
              std::string(kRef) + "tickets.v1.UpdateTicketsStatusResponse");
    EXPECT_EQ(At(post.struct_value(),
                 {"responses", "default", "content", "application/json", "schema", "$ref"})
                  .string_value(),
              std::string(kRef) + "Status");
    EXPECT_EQ(At(post.struct_value(), {"tags"}).list_value().values(0).string_value(),
              "BookingService");
  }
  EXPECT_EQ(At({"paths", "/v1/tickets-status", "post", "operationId"}).string_value(),
            "BookingService_UpdateTicketsStatus");
  EXPECT_EQ(At({"paths", "/tickets-status", "post", "operationId"}).string_value(),
            "BookingService_UpdateTicketsStatus_1");
}

TEST_F(OpenApiTest, ListTicketsTakesQueryParameters) {
  const Value& get = At({"paths", "/v1/tickets", "get"});
  EXPECT_EQ(get.struct_value().fields().count("requestBody"), 0u);
  const Struct page_size = Parameter(get, "page_size");
  EXPECT_EQ(At(page_size, {"in"}).string_value(), "query");
  EXPECT_EQ(At(page_size, {"schema", "type"}).string_value(), "integer");
  EXPECT_EQ(At(page_size, {"schema", "format"}).string_value(), "int32");
  const Struct page_token = Parameter(get, "page_token");
  EXPECT_EQ(At(page_token, {"in"}).string_value(), "query");
  EXPECT_EQ(At(page_token, {"schema", "type"}).string_value(), "string");
  EXPECT_EQ(At(get.struct_value(), {"parameters"}).list_value().values_size(), 3)
      << "page_size, page_token and the Correlation-ID header";
  EXPECT_EQ(
      At(get.struct_value(), {"responses", "200", "content", "application/json", "schema", "$ref"})
          .string_value(),
      std::string(kRef) + "tickets.v1.ListTicketsResponse");
}

TEST_F(OpenApiTest, ResponseBodyNarrowsTheResponse) {
  const Value& schema =
      At({"paths", "/tickets", "get", "responses", "200", "content", "application/json", "schema"});
  EXPECT_EQ(At(schema.struct_value(), {"type"}).string_value(), "array");
  EXPECT_EQ(At(schema.struct_value(), {"items", "$ref"}).string_value(),
            std::string(kRef) + "tickets.v1.Ticket");
  EXPECT_EQ(At({"paths", "/tickets", "get", "operationId"}).string_value(),
            "BookingService_ListTickets_1");
}

TEST_F(OpenApiTest, GetTicketBindsThePath) {
  const Value& get = At({"paths", "/v1/tickets/{ticket_id}", "get"});
  const Struct ticket_id = Parameter(get, "ticket_id");
  EXPECT_EQ(At(ticket_id, {"in"}).string_value(), "path");
  EXPECT_TRUE(At(ticket_id, {"required"}).bool_value());
  EXPECT_EQ(At(ticket_id, {"schema", "type"}).string_value(), "string");
  EXPECT_EQ(At(get.struct_value(), {"parameters"}).list_value().values_size(), 2)
      << "ticket_id is bound by the path, not repeated as a query parameter (plus the "
         "Correlation-ID header)";
  EXPECT_EQ(
      At(get.struct_value(), {"responses", "200", "content", "application/json", "schema", "$ref"})
          .string_value(),
      std::string(kRef) + "tickets.v1.Ticket");
}

TEST_F(OpenApiTest, DescribesTheAdminService) {
  const Value& list = At({"paths", "/v1/admin/dead-letters", "get"});
  EXPECT_EQ(At(list.struct_value(), {"operationId"}).string_value(),
            "AdminService_ListDeadLetters");
  EXPECT_EQ(At(Parameter(list, "page_size"), {"in"}).string_value(), "query");
  // The filter's fields by dotted path, its times as date-time text, as the gateway reads them.
  EXPECT_EQ(At(Parameter(list, "filter.handler"), {"schema", "type"}).string_value(), "string");
  EXPECT_EQ(At(Parameter(list, "filter.reason_contains"), {"in"}).string_value(), "query");
  const Struct after = Parameter(list, "filter.failed_after");
  EXPECT_EQ(At(after, {"schema", "type"}).string_value(), "string");
  EXPECT_EQ(At(after, {"schema", "format"}).string_value(), "date-time");
  EXPECT_EQ(At(Parameter(list, "filter.failed_before"), {"in"}).string_value(), "query");
  EXPECT_EQ(At(list.struct_value(), {"tags"}).list_value().values(0).string_value(),
            "AdminService");

  const Value& retry = At({"paths", "/v1/admin/dead-letters:retry", "post"});
  EXPECT_EQ(At(retry.struct_value(), {"operationId"}).string_value(),
            "AdminService_RetryDeadLetters");
  EXPECT_EQ(
      At(retry.struct_value(), {"requestBody", "content", "application/json", "schema", "$ref"})
          .string_value(),
      std::string(kRef) + "tickets.v1.RetryDeadLettersRequest");

  const Value& retire = At({"paths", "/v1/admin/handlers/{handler}:retire", "post"});
  EXPECT_EQ(At(retire.struct_value(), {"operationId"}).string_value(),
            "AdminService_RetireHandler");
  EXPECT_EQ(At(Parameter(retire, "handler"), {"in"}).string_value(), "path");
  EXPECT_EQ(At(retire.struct_value(),
               {"responses", "200", "content", "application/json", "schema", "$ref"})
                .string_value(),
            std::string(kRef) + "tickets.v1.RetireHandlerResponse");

  const Value& dead_letter = At({"components", "schemas", "tickets.v1.DeadLetter", "properties"});
  EXPECT_EQ(At(dead_letter.struct_value(), {"id", "$ref"}).string_value(),
            std::string(kRef) + "tickets.v1.DeadLetterId");
  EXPECT_EQ(At(dead_letter.struct_value(), {"failed_at", "format"}).string_value(), "date-time");
  const Value& sequence =
      At({"components", "schemas", "tickets.v1.DeadLetterId", "properties", "sequence"});
  EXPECT_EQ(At(sequence.struct_value(), {"type"}).string_value(), "string") << "int64 as text";
  EXPECT_EQ(At(sequence.struct_value(), {"format"}).string_value(), "int64");
  EXPECT_EQ(At({"components", "schemas", "tickets.v1.RetryDeadLettersRequest", "properties", "all",
                "type"})
                .string_value(),
            "boolean");
}

TEST_F(OpenApiTest, DescribesTicketWithProtoFieldNames) {
  const Value& ticket = At({"components", "schemas", "tickets.v1.Ticket"});
  EXPECT_EQ(At(ticket.struct_value(), {"type"}).string_value(), "object");
  const Struct& properties = At(ticket.struct_value(), {"properties"}).struct_value();
  EXPECT_EQ(At(properties, {"ticket_id", "type"}).string_value(), "string");
  EXPECT_EQ(At(properties, {"customer_email", "type"}).string_value(), "string");
  EXPECT_EQ(At(properties, {"price", "$ref"}).string_value(),
            std::string(kRef) + "tickets.v1.Money");
  EXPECT_EQ(At(properties, {"updated_at", "type"}).string_value(), "string");
  EXPECT_EQ(At(properties, {"updated_at", "format"}).string_value(), "date-time");
  EXPECT_EQ(properties.fields().count("updatedAt"), 0u);

  EXPECT_EQ(At({"components", "schemas", "tickets.v1.Money", "properties", "amount", "type"})
                .string_value(),
            "string");
  const Value& tickets = At(
      {"components", "schemas", "tickets.v1.UpdateTicketsStatusRequest", "properties", "tickets"});
  EXPECT_EQ(At(tickets.struct_value(), {"type"}).string_value(), "array");
  EXPECT_EQ(At(tickets.struct_value(), {"items", "$ref"}).string_value(),
            std::string(kRef) + "tickets.v1.TicketStatusChange");
  EXPECT_EQ(
      At({"components", "schemas"}).struct_value().fields().count("google.protobuf.Timestamp"), 0u)
      << "Timestamp is inlined as a date-time string";
}

TEST_F(OpenApiTest, DescribesStatus) {
  const Struct& properties = At({"components", "schemas", "Status", "properties"}).struct_value();
  EXPECT_EQ(At(properties, {"code", "type"}).string_value(), "integer");
  EXPECT_EQ(At(properties, {"message", "type"}).string_value(), "string");
  EXPECT_EQ(At(properties, {"details", "type"}).string_value(), "array");
  EXPECT_EQ(At(properties, {"details", "items", "type"}).string_value(), "object");
}

// Features the tickets API does not use, on a service built at run time.
constexpr char kLibraryProto[] = R"pb(
  name: "test/v1/library.proto"
  package: "test.v1"
  syntax: "proto3"
  dependency: "google/protobuf/timestamp.proto"
  enum_type {
    name: "Genre"
    value { name: "GENRE_UNSPECIFIED" number: 0 }
    value { name: "FICTION" number: 1 }
  }
  message_type {
    name: "Book"
    field { name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field {
      name: "shelf"
      number: 2
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".test.v1.Shelf"
    }
    field {
      name: "related"
      number: 3
      label: LABEL_REPEATED
      type: TYPE_MESSAGE
      type_name: ".test.v1.Book"
    }
    field {
      name: "labels"
      number: 4
      label: LABEL_REPEATED
      type: TYPE_MESSAGE
      type_name: ".test.v1.Book.LabelsEntry"
    }
    field { name: "pages" number: 5 label: LABEL_OPTIONAL type: TYPE_INT64 }
    field { name: "cover" number: 6 label: LABEL_OPTIONAL type: TYPE_BYTES }
    field {
      name: "published_at"
      number: 7
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Timestamp"
    }
    field { name: "rating" number: 8 label: LABEL_OPTIONAL type: TYPE_DOUBLE }
    nested_type {
      name: "LabelsEntry"
      options { map_entry: true }
      field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
      field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_UINT64 }
    }
  }
  message_type {
    name: "Shelf"
    field { name: "id" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
  }
  message_type {
    name: "UpdateBookRequest"
    field {
      name: "book"
      number: 1
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".test.v1.Book"
    }
    field {
      name: "genres"
      number: 2
      label: LABEL_REPEATED
      type: TYPE_ENUM
      type_name: ".test.v1.Genre"
    }
    field { name: "tags" number: 3 label: LABEL_REPEATED type: TYPE_STRING }
    field { name: "validate_only" number: 4 label: LABEL_OPTIONAL type: TYPE_BOOL }
  }
  message_type {
    name: "GetBookRequest"
    field { name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field {
      name: "genre"
      number: 2
      label: LABEL_OPTIONAL
      type: TYPE_ENUM
      type_name: ".test.v1.Genre"
    }
  }
  service {
    name: "Library"
    method {
      name: "UpdateBook"
      input_type: ".test.v1.UpdateBookRequest"
      output_type: ".test.v1.Book"
      options {
        [google.api.http] { patch: "/v1/{book.name=shelves/*/books/*}" body: "book" }
      }
    }
    method {
      name: "GetBook"
      input_type: ".test.v1.GetBookRequest"
      output_type: ".test.v1.Book"
      options {
        [google.api.http] {
          get: "/v1/{name=shelves/*/books/*}:peek"
          additional_bindings { custom { kind: "HEAD" path: "/v1/{name=shelves/*/books/*}" } }
          additional_bindings { custom { kind: "LIST" path: "/v1/books" } }
        }
      }
    }
  }
)pb";

TEST_F(OpenApiTest, MapsPathTemplatesBodyFieldsAndTypes) {
  ASSERT_NE(google::api::http.number(), 0);  // links the extension TextFormat looks up
  google::protobuf::FileDescriptorProto file_proto;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kLibraryProto, &file_proto));
  google::protobuf::DescriptorPool pool(google::protobuf::DescriptorPool::generated_pool());
  const google::protobuf::FileDescriptor* file = pool.BuildFile(file_proto);
  ASSERT_NE(file, nullptr);
  Struct doc;
  const std::string json = BuildOpenApiJson({file->service(0)}, "Library", "0");
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &doc).ok()) << json;

  // A nested variable with a segment pattern becomes "{book.name}"; body "book" is that field.
  const Value& patch = At(doc, {"paths", "/v1/{book.name}", "patch"});
  const Struct book_name = Parameter(patch, "book.name");
  EXPECT_EQ(At(book_name, {"in"}).string_value(), "path");
  EXPECT_TRUE(At(book_name, {"required"}).bool_value());
  EXPECT_EQ(At(book_name, {"schema", "type"}).string_value(), "string");
  EXPECT_EQ(
      At(patch.struct_value(), {"requestBody", "content", "application/json", "schema", "$ref"})
          .string_value(),
      std::string(kRef) + "test.v1.Book");
  // The rest of the request, except the body field, goes in the query.
  std::set<std::string> names;
  for (const Value& parameter : At(patch.struct_value(), {"parameters"}).list_value().values()) {
    names.insert(At(parameter.struct_value(), {"name"}).string_value());
  }
  EXPECT_THAT(names, ::testing::ElementsAre("Correlation-ID", "book.name", "genres", "tags",
                                            "validate_only"));
  const Struct genres = Parameter(patch, "genres");
  EXPECT_EQ(At(genres, {"in"}).string_value(), "query");
  EXPECT_EQ(At(genres, {"schema", "type"}).string_value(), "array");
  const Value& genre_names = At(genres, {"schema", "items", "enum"});
  ASSERT_EQ(genre_names.list_value().values_size(), 2);
  EXPECT_EQ(genre_names.list_value().values(1).string_value(), "FICTION");
  EXPECT_EQ(At(Parameter(patch, "tags"), {"schema", "items", "type"}).string_value(), "string");
  EXPECT_EQ(At(Parameter(patch, "validate_only"), {"schema", "type"}).string_value(), "boolean");

  // A trailing verb stays; a custom kind that OpenAPI knows is kept, others are left out.
  const Value& get = At(doc, {"paths", "/v1/{name}:peek", "get"});
  EXPECT_EQ(At(Parameter(get, "name"), {"in"}).string_value(), "path");
  EXPECT_EQ(At(Parameter(get, "genre"), {"in"}).string_value(), "query");
  EXPECT_EQ(At(doc, {"paths", "/v1/{name}", "head", "operationId"}).string_value(),
            "Library_GetBook_1");
  EXPECT_EQ(At(doc, {"paths"}).struct_value().fields().count("/v1/books"), 0u);

  // Types, maps, well-known types and a recursive message.
  const Struct& book =
      At(doc, {"components", "schemas", "test.v1.Book", "properties"}).struct_value();
  EXPECT_EQ(At(book, {"related", "items", "$ref"}).string_value(),
            std::string(kRef) + "test.v1.Book");
  EXPECT_EQ(At(book, {"shelf", "$ref"}).string_value(), std::string(kRef) + "test.v1.Shelf");
  EXPECT_EQ(At(book, {"labels", "type"}).string_value(), "object");
  EXPECT_EQ(At(book, {"labels", "additionalProperties", "type"}).string_value(), "string");
  EXPECT_EQ(At(book, {"labels", "additionalProperties", "format"}).string_value(), "uint64");
  EXPECT_EQ(At(book, {"pages", "type"}).string_value(), "string");
  EXPECT_EQ(At(book, {"pages", "format"}).string_value(), "int64");
  EXPECT_EQ(At(book, {"cover", "format"}).string_value(), "byte");
  EXPECT_EQ(At(book, {"published_at", "format"}).string_value(), "date-time");
  EXPECT_EQ(At(book, {"rating", "type"}).string_value(), "number");
  const Struct& schemas = At(doc, {"components", "schemas"}).struct_value();
  EXPECT_EQ(schemas.fields().count("test.v1.Book.LabelsEntry"), 0u);
  EXPECT_EQ(schemas.fields().count("test.v1.Shelf"), 1u);
}

TEST_F(OpenApiTest, EveryRefResolvesAndOperationIdsAreUnique) {
  std::set<std::string> ids;
  int operations = 0;
  for (const auto& [path, item] : At({"paths"}).struct_value().fields()) {
    for (const auto& [method, operation] : item.struct_value().fields()) {
      ++operations;
      const std::string id = At(operation.struct_value(), {"operationId"}).string_value();
      EXPECT_TRUE(ids.insert(id).second) << "duplicate operationId " << id;
    }
  }
  EXPECT_EQ(operations, 11);  // one per HTTP binding; RetireHandler is the 11th

  // Every "$ref" anywhere names a component that exists.
  const Struct& schemas = At({"components", "schemas"}).struct_value();
  std::vector<const Value*> stack = {&At({"paths"}), &At({"components"})};
  int refs = 0;
  while (!stack.empty()) {
    const Value* value = stack.back();
    stack.pop_back();
    if (value->has_list_value()) {
      for (const Value& element : value->list_value().values()) stack.push_back(&element);
    } else if (value->has_struct_value()) {
      for (const auto& [key, child] : value->struct_value().fields()) {
        if (key == "$ref") {
          ++refs;
          const std::string& ref = child.string_value();
          ASSERT_EQ(ref.rfind(kRef, 0), 0u) << ref;
          EXPECT_EQ(schemas.fields().count(ref.substr(std::string(kRef).size())), 1u) << ref;
        } else {
          stack.push_back(&child);
        }
      }
    }
  }
  EXPECT_GT(refs, 10);
}

}  // namespace
}  // namespace booking::openapi

namespace booking::openapi {
namespace {

// With the protos' comments and the options' examples: what generated clients and contract
// tools read.
class DocumentedOpenApiTest : public OpenApiTest {
 protected:
  void SetUp() override {
    OpenApiOptions options;
    options.comments = &ProtoComments::Api();
    options.field_examples = {{"tickets.v1.GetTicketRequest.ticket_id", "\"t-1\""},
                              {"tickets.v1.WatchTicketsRequest.ticket_ids", "[\"t-1\",\"t-2\"]"},
                              {"tickets.v1.Money.currency", "\"EUR\""}};
    options.body_examples = {{"tickets.v1.AdminService.RetryDeadLetters", R"({"all":true})"}};
    options.extra_answers = {
        {"tickets.v1.AdminService.RetryDeadLetters", {{404, "NOT_FOUND: not there."}}}};
    json_ = BuildOpenApiJson(
        {ServiceOf<tickets::v1::Ticket>(tickets::v1::BookingService::service_full_name()),
         ServiceOf<tickets::v1::DeadLetter>(tickets::v1::AdminService::service_full_name())},
        "Booking API", "1", options);
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json_, &doc_).ok()) << json_;
  }
};

TEST_F(DocumentedOpenApiTest, SummariesAndDescriptionsComeFromTheProtosComments) {
  const Value& get = At({"paths", "/v1/tickets/{ticket_id}", "get"});
  EXPECT_EQ(At(get.struct_value(), {"summary"}).string_value(),
            "Returns one stored ticket, canceled or not; NOT_FOUND if it was never stored");
  EXPECT_THAT(At(get.struct_value(), {"description"}).string_value(),
              ::testing::StartsWith("Returns one stored ticket"));
  EXPECT_THAT(At(get.struct_value(), {"description"}).string_value(),
              ::testing::HasSubstr("gRPC method tickets.v1.BookingService.GetTicket."));
  // A message's comment, a field's trailing comment, and an enum's values.
  EXPECT_THAT(At({"components", "schemas", "tickets.v1.Money", "description"}).string_value(),
              ::testing::StartsWith("A decimal amount as text"));
  EXPECT_EQ(At({"components", "schemas", "tickets.v1.TicketStatusChange", "properties", "status",
                "description"})
                .string_value(),
            "\"confirmed\" | \"canceled\"");
  const std::string consistency =
      At({"components", "schemas", "tickets.v1.UpdateTicketsStatusRequest", "properties",
          "consistency", "description"})
          .string_value();
  EXPECT_THAT(consistency, ::testing::StartsWith("How long the call waits before it answers."));
  EXPECT_THAT(consistency, ::testing::HasSubstr("\n- STORED: and every ticket of the call is in "
                                                "the tickets table"));
  // A comment spread over lines becomes one paragraph.
  EXPECT_THAT(At({"paths", "/v1/tickets:watch", "get", "description"}).string_value(),
              ::testing::HasSubstr("(or, with a resume_token, every step after it), then"));
}

TEST_F(DocumentedOpenApiTest, ExamplesOnParametersPropertiesAndBodies) {
  const Value& get = At({"paths", "/v1/tickets/{ticket_id}", "get"});
  const Struct ticket_id = Parameter(get, "ticket_id");
  EXPECT_EQ(ticket_id.fields().at("example").string_value(), "t-1");
  EXPECT_FALSE(ticket_id.fields().at("schema").struct_value().fields().contains("example"))
      << "on the parameter, not twice";
  const Struct ids = Parameter(At({"paths", "/v1/tickets:watch", "get"}), "ticket_ids");
  EXPECT_EQ(ids.fields().at("example").list_value().values(1).string_value(), "t-2");
  EXPECT_EQ(At({"components", "schemas", "tickets.v1.Money", "properties", "currency", "example"})
                .string_value(),
            "EUR");
  EXPECT_TRUE(At({"paths", "/v1/admin/dead-letters:retry", "post", "requestBody", "content",
                  "application/json", "example", "all"})
                  .bool_value());
  EXPECT_THAT(
      At({"paths", "/v1/admin/dead-letters:retry", "post", "responses", "404", "description"})
          .string_value(),
      ::testing::StartsWith("NOT_FOUND"));
}

TEST_F(DocumentedOpenApiTest, StreamsSayWhatTheGatewaySends) {
  const Value& ok = At({"paths", "/v1/tickets:watch", "get", "responses", "200", "content"});
  EXPECT_FALSE(ok.struct_value().fields().contains("application/json"));
  EXPECT_EQ(
      At(ok.struct_value(), {"application/x-ndjson", "schema", "properties", "result", "$ref"})
          .string_value(),
      std::string(kRef) + "tickets.v1.TicketStep");
  EXPECT_EQ(At(ok.struct_value(), {"application/x-ndjson", "schema", "properties", "error", "$ref"})
                .string_value(),
            std::string(kRef) + "Status");
  EXPECT_EQ(At(ok.struct_value(), {"text/event-stream", "schema", "type"}).string_value(),
            "string");
}

TEST(ProtoCommentsTest, ReadsLeadingAndTrailingCommentsAndRefusesWhatIsNotADescriptorSet) {
  const ProtoComments& api = ProtoComments::Api();
  EXPECT_THAT(api.Of("tickets.v1.AdminService.RetireHandler"),
              ::testing::StartsWith("Retires a handler that no instance runs any more"));
  EXPECT_EQ(api.Of("tickets.v1.TicketStatusChange.ticket_id"), "UUID");
  EXPECT_EQ(api.SummaryOf("tickets.v1.AdminService.GetHandlerStatus"),
            "What each handler is doing: lag, work in hand, retries, breaker, redeliveries");
  EXPECT_EQ(api.Of("tickets.v1.GetTicketRequest.ticket_id"), "");
  EXPECT_EQ(api.Of("no.such.Thing"), "");
  EXPECT_FALSE(ProtoComments::Parse("not a descriptor set").ok());
}

}  // namespace
}  // namespace booking::openapi
