#include "openapi/openapi.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <deque>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "rest/http_rules.h"
#include "rest/path_template.h"
#include "rest/proto_json.h"

namespace booking::openapi {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::ListValue;
using google::protobuf::ServiceDescriptor;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kSchemaPrefix[] = "#/components/schemas/";
constexpr char kStatusSchema[] = "Status";
constexpr char kJson[] = "application/json";

// --- Small builders for the google.protobuf.Value tree.

Value& At(Struct& object, const std::string& key) { return (*object.mutable_fields())[key]; }

Struct& ObjectAt(Struct& object, const std::string& key) {
  return *At(object, key).mutable_struct_value();
}

ListValue& ListAt(Struct& object, const std::string& key) {
  return *At(object, key).mutable_list_value();
}

void Set(Struct& object, const std::string& key, const std::string& text) {
  At(object, key).set_string_value(text);
}

void SetFlag(Struct& object, const std::string& key, bool flag) {
  At(object, key).set_bool_value(flag);
}

void Set(Struct& object, const std::string& key, Value value) {
  At(object, key) = std::move(value);
}

Value Object(Struct object) {
  Value value;
  *value.mutable_struct_value() = std::move(object);
  return value;
}

Value TypeSchema(const std::string& type, const std::string& format = "") {
  Struct schema;
  Set(schema, "type", type);
  if (!format.empty()) Set(schema, "format", format);
  return Object(std::move(schema));
}

Value RefSchema(const std::string& component) {
  Struct schema;
  Set(schema, "$ref", kSchemaPrefix + component);
  return Object(std::move(schema));
}

Value ArraySchema(Value items) {
  Struct schema;
  Set(schema, "type", std::string("array"));
  Set(schema, "items", std::move(items));
  return Object(std::move(schema));
}

// `json` (an example from the options) as a Value; null if it does not parse, which the
// examples' own test rules out.
Value ParseJson(const std::string& json) {
  Value value;
  if (!google::protobuf::util::JsonStringToMessage(json, &value).ok()) value.set_null_value({});
  return value;
}

Value JsonContent(Value schema) {
  Struct media;
  Set(media, "schema", std::move(schema));
  Struct content;
  Set(content, kJson, Object(std::move(media)));
  return Object(std::move(content));
}

// --- Schemas, per the proto3 JSON mapping with proto field names.

// Hands out schemas for fields and messages; every message referenced by $ref is queued and
// written to components.schemas by WriteComponents, so recursive messages terminate.
class SchemaBuilder {
 public:
  explicit SchemaBuilder(const OpenApiOptions& options) : options_(options) {}

  // The field's schema with what the options know of it: its comment, and for a value that
  // is not a $ref (whose siblings OpenAPI 3.0 ignores) an example.
  Value ForDocumentedField(const FieldDescriptor& field) {
    Value schema = ForField(field);
    Struct& object = *schema.mutable_struct_value();
    if (object.fields().count("$ref") > 0) return schema;
    std::string description = CommentOf(field.full_name());
    if (field.type() == FieldDescriptor::TYPE_ENUM) {
      // The enum's comment when the field has none, and a list of what each value means.
      const google::protobuf::EnumDescriptor& type = *field.enum_type();
      if (description.empty()) description = CommentOf(type.full_name());
      std::string values;
      for (int i = 0; i < type.value_count(); ++i) {
        const std::string meaning = CommentOf(type.value(i)->full_name());
        if (!meaning.empty()) values += "\n- " + type.value(i)->name() + ": " + meaning;
      }
      if (!values.empty()) description += (description.empty() ? "" : "\n") + values;
    }
    if (!description.empty()) Set(object, "description", description);
    auto example = options_.field_examples.find(field.full_name());
    if (example != options_.field_examples.end()) {
      Set(object, "example", ParseJson(example->second));
    }
    return schema;
  }

  std::string CommentOf(const std::string& full_name) const {
    return options_.comments != nullptr ? options_.comments->Of(full_name) : "";
  }

  Value ForField(const FieldDescriptor& field) {
    if (field.is_map()) {
      Struct schema;
      Set(schema, "type", std::string("object"));
      Set(schema, "additionalProperties", ForSingleValue(*field.message_type()->map_value()));
      return Object(std::move(schema));
    }
    if (field.is_repeated()) return ArraySchema(ForSingleValue(field));
    return ForSingleValue(field);
  }

  // A $ref to the message's component, or an inline schema for well-known types whose JSON form
  // is not an object of their fields.
  Value ForMessage(const Descriptor& message) {
    const std::string& name = message.full_name();
    if (name == "google.protobuf.Timestamp") return TypeSchema("string", "date-time");
    if (name == "google.protobuf.Duration" || name == "google.protobuf.FieldMask") {
      return TypeSchema("string");
    }
    if (name == "google.protobuf.Struct") {
      Struct schema;
      Set(schema, "type", std::string("object"));
      SetFlag(schema, "additionalProperties", true);
      return Object(std::move(schema));
    }
    if (name == "google.protobuf.Value") return Object(Struct());  // any JSON value
    if (name == "google.protobuf.ListValue") return ArraySchema(Object(Struct()));
    if (name == "google.protobuf.Any") return AnySchema();
    if (message.file()->name() == "google/protobuf/wrappers.proto" && message.field_count() == 1) {
      Value schema = ForSingleValue(*message.field(0));
      SetFlag(*schema.mutable_struct_value(), "nullable", true);
      return schema;
    }
    if (seen_.insert(name).second) pending_.push_back(&message);
    return RefSchema(name);
  }

  // Writes the schema of every message handed out so far (and of those they reach).
  void WriteComponents(Struct& schemas) {
    while (!pending_.empty()) {
      const Descriptor* message = pending_.front();
      pending_.pop_front();
      Struct schema;
      Set(schema, "type", std::string("object"));
      if (std::string comment = CommentOf(message->full_name()); !comment.empty()) {
        Set(schema, "description", comment);
      }
      if (message->field_count() > 0) {
        Struct& properties = ObjectAt(schema, "properties");
        for (int i = 0; i < message->field_count(); ++i) {
          const FieldDescriptor& field = *message->field(i);
          Set(properties, field.name(), ForDocumentedField(field));
        }
      }
      Set(schemas, message->full_name(), Object(std::move(schema)));
    }
  }

  static Value AnySchema() {
    Struct schema;
    Set(schema, "type", std::string("object"));
    Set(ObjectAt(schema, "properties"), "@type", TypeSchema("string"));
    SetFlag(schema, "additionalProperties", true);
    return Object(std::move(schema));
  }

 private:
  // The schema of one value of `field`, ignoring whether it is repeated.
  Value ForSingleValue(const FieldDescriptor& field) {
    switch (field.type()) {
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32:
        return TypeSchema("integer", "int32");
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32: {
        // Up to 2^32-1: does not fit the int32 format.
        Value schema = TypeSchema("integer", "int64");
        At(*schema.mutable_struct_value(), "minimum").set_number_value(0);
        return schema;
      }
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64:
        return TypeSchema("string", "int64");
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        return TypeSchema("string", "uint64");
      case FieldDescriptor::TYPE_FLOAT:
        return TypeSchema("number", "float");
      case FieldDescriptor::TYPE_DOUBLE:
        return TypeSchema("number", "double");
      case FieldDescriptor::TYPE_BOOL:
        return TypeSchema("boolean");
      case FieldDescriptor::TYPE_STRING:
        return TypeSchema("string");
      case FieldDescriptor::TYPE_BYTES:
        return TypeSchema("string", "byte");
      case FieldDescriptor::TYPE_ENUM: {
        Value schema = TypeSchema("string");
        ListValue& names = ListAt(*schema.mutable_struct_value(), "enum");
        const google::protobuf::EnumDescriptor& type = *field.enum_type();
        for (int i = 0; i < type.value_count(); ++i) {
          names.add_values()->set_string_value(type.value(i)->name());
        }
        return schema;
      }
      case FieldDescriptor::TYPE_MESSAGE:
      case FieldDescriptor::TYPE_GROUP:
        return ForMessage(*field.message_type());
    }
    return Object(Struct());
  }

  const OpenApiOptions& options_;
  std::set<std::string> seen_;
  std::deque<const Descriptor*> pending_;
};

Value StatusSchema() {
  Struct schema;
  Set(schema, "type", std::string("object"));
  Struct& properties = ObjectAt(schema, "properties");
  Set(properties, "code", TypeSchema("integer", "int32"));
  Set(properties, "message", TypeSchema("string"));
  Set(properties, "details", ArraySchema(SchemaBuilder::AnySchema()));
  return Object(std::move(schema));
}

// --- Paths.

// The field a path variable ("a.b") names in `message`, or nullptr.
const FieldDescriptor* FindFieldPath(const Descriptor& message, const std::string& path) {
  const Descriptor* current = &message;
  const FieldDescriptor* field = nullptr;
  size_t start = 0;
  while (true) {
    if (current == nullptr) return nullptr;
    const size_t dot = path.find('.', start);
    field = current->FindFieldByName(path.substr(start, dot - start));
    if (field == nullptr || dot == std::string::npos) return field;
    current = field->message_type();
    start = dot + 1;
  }
}

bool IsOpenApiMethod(const std::string& method) {
  static const std::set<std::string> kMethods = {"get",     "put",  "post",  "delete",
                                                 "options", "head", "patch", "trace"};
  return kMethods.count(method) > 0;
}

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

Value Parameter(const std::string& name, const std::string& in, bool required, Value schema) {
  Struct parameter;
  Set(parameter, "name", name);
  Set(parameter, "in", in);
  if (required) SetFlag(parameter, "required", true);
  Set(parameter, "schema", std::move(schema));
  return Object(std::move(parameter));
}

// "UpdateTicketsStatus" -> "Update tickets status".
std::string Summary(const std::string& method_name) {
  std::string summary;
  for (size_t i = 0; i < method_name.size(); ++i) {
    const char c = method_name[i];
    if (i > 0 && c >= 'A' && c <= 'Z') {
      summary += ' ';
      summary += static_cast<char>(c - 'A' + 'a');
    } else {
      summary += c;
    }
  }
  return summary;
}

// An error answer: the Status schema, and when to retry for the codes that say so.
Value ErrorResponse(const std::string& description, bool retry_after) {
  Struct response;
  Set(response, "description", description);
  Set(response, "content", JsonContent(RefSchema(kStatusSchema)));
  if (retry_after) {
    Struct header;
    Set(header, "description",
        std::string("Seconds to wait before retrying (also google.rpc.RetryInfo in details)."));
    Set(header, "schema", TypeSchema("integer"));
    Set(ObjectAt(response, "headers"), "Retry-After", Object(std::move(header)));
  }
  return Object(std::move(response));
}

// A parameter for `field`: its comment and example on the parameter, where tools look for them.
Value FieldParameter(const std::string& name, const std::string& in, bool required,
                     const FieldDescriptor& field, SchemaBuilder& schemas) {
  Value schema = schemas.ForDocumentedField(field);
  Struct& fields = *schema.mutable_struct_value();
  Value description =
      fields.fields().count("description") > 0 ? fields.fields().at("description") : Value();
  Value example = fields.fields().count("example") > 0 ? fields.fields().at("example") : Value();
  fields.mutable_fields()->erase("description");
  fields.mutable_fields()->erase("example");
  Value parameter = Parameter(name, in, required, std::move(schema));
  Struct& out = *parameter.mutable_struct_value();
  if (description.has_string_value()) Set(out, "description", description);
  if (example.kind_case() != Value::KIND_NOT_SET) Set(out, "example", example);
  return parameter;
}

// Query parameters for the fields of `message` not bound elsewhere, as the gateway reads them:
// scalars by name, a message's fields by dotted path ("filter.handler"), and timestamps and
// durations as their JSON text. Maps and repeated messages travel only in a body.
void AddQueryParameters(const Descriptor& message, const std::string& prefix,
                        const std::set<std::string>& bound, const std::string& body,
                        SchemaBuilder& schemas, ListValue& parameters, int depth = 0) {
  for (int i = 0; i < message.field_count(); ++i) {
    const FieldDescriptor& field = *message.field(i);
    const std::string name = prefix + field.name();
    if (bound.count(name) > 0 || (prefix.empty() && field.name() == body)) continue;
    if (field.is_map() || field.type() == FieldDescriptor::TYPE_GROUP) continue;
    if (field.type() != FieldDescriptor::TYPE_MESSAGE) {
      *parameters.add_values() = FieldParameter(name, "query", false, field, schemas);
      continue;
    }
    if (field.is_repeated()) continue;
    const std::string& type = field.message_type()->full_name();
    if (type == "google.protobuf.Timestamp" || type == "google.protobuf.Duration") {
      *parameters.add_values() = FieldParameter(name, "query", false, field, schemas);
    } else if (depth < 3) {  // a recursive message would never end
      AddQueryParameters(*field.message_type(), name + ".", bound, body, schemas, parameters,
                         depth + 1);
    }
  }
}

// The bearer token, or none: tokens are off by default.
void RequireOptionalBearer(Struct& operation) {
  ListValue& security = ListAt(operation, "security");
  Struct bearer;
  *At(bearer, "bearer").mutable_list_value() = ListValue();
  *security.add_values() = Object(std::move(bearer));
  *security.add_values() = Object(Struct());
}

Value Operation(const rest::HttpBinding& binding, const rest::PathTemplate& path,
                const std::string& operation_id, SchemaBuilder& schemas,
                const OpenApiOptions& options) {
  const google::protobuf::MethodDescriptor& method = *binding.method;
  const Descriptor& input = *method.input_type();
  const Descriptor& output = *method.output_type();
  const std::string scope = options.scope_of ? options.scope_of(method) : "";

  Struct operation;
  Set(operation, "operationId", operation_id);
  const std::string comment = schemas.CommentOf(method.full_name());
  const std::string summary =
      options.comments != nullptr ? options.comments->SummaryOf(method.full_name()) : "";
  Set(operation, "summary", summary.empty() ? Summary(method.name()) : summary);
  Set(operation, "description",
      (comment.empty() ? "" : comment + "\n\n") + "gRPC method " + method.full_name() + "." +
          (scope.empty() ? ""
                         : " With --auth_tokens_file, needs a bearer token with the \"" + scope +
                               "\" scope."));
  if (!scope.empty()) {
    // Tokens are off by default: the call then needs none ({}), else the bearer token. The
    // scope travels as an extension (OpenAPI 3.0 gives scopes to OAuth2 schemes only).
    RequireOptionalBearer(operation);
    Set(operation, "x-booking-scope", scope);
  } else {
    *At(operation, "security").mutable_list_value() = ListValue();  // open to every caller
  }
  ListAt(operation, "tags").add_values()->set_string_value(method.service()->name());

  ListValue parameters;
  std::set<std::string> bound;
  for (const std::string& variable : path.variable_names()) {
    bound.insert(variable);
    const FieldDescriptor* field = FindFieldPath(input, variable);
    *parameters.add_values() = field != nullptr
                                   ? FieldParameter(variable, "path", true, *field, schemas)
                                   : Parameter(variable, "path", true, TypeSchema("string"));
  }
  const bool takes_query = options.paths_without_query.count(path.OpenApiPath()) == 0;
  if (binding.body != "*" && takes_query) {
    AddQueryParameters(input, "", bound, binding.body, schemas, parameters);
  }
  // Headers the gateway turns into metadata (a generated client sends only what is listed): the
  // key that names a write, the correlation id every call may carry, the wait a write may ask.
  if (input.FindFieldByName("idempotency_key") != nullptr) {
    Value key = Parameter("Idempotency-Key", "header", true, TypeSchema("string"));
    Set(*key.mutable_struct_value(), "description",
        std::string("Names this request: a retry with the key gets the first call's answer and "
                    "publishes nothing (printable ASCII, at most 255 bytes; or the "
                    "idempotency_key field of the body)."));
    Set(*key.mutable_struct_value(), "example", std::string("office-7-batch-1"));
    *parameters.add_values() = std::move(key);
    Value prefer = Parameter("Prefer", "header", false, TypeSchema("string"));
    Set(*prefer.mutable_struct_value(), "description",
        std::string("wait=stored or wait=completed: answer once the handlers stored or "
                    "completed the tickets (bounded by --max_wait), with their progress."));
    Set(*prefer.mutable_struct_value(), "example", std::string("wait=stored"));
    *parameters.add_values() = std::move(prefer);
  }
  {
    Value correlation = Parameter("Correlation-ID", "header", false, TypeSchema("string"));
    Set(*correlation.mutable_struct_value(), "description",
        std::string("Carried into every log line and external call of this request; answered "
                    "in the correlation-id header (one is made when absent or not 1-128 of "
                    "[A-Za-z0-9._:-])."));
    Set(*correlation.mutable_struct_value(), "example", std::string("demo-1"));
    *parameters.add_values() = std::move(correlation);
  }
  if (parameters.values_size() > 0) *At(operation, "parameters").mutable_list_value() = parameters;

  if (!binding.body.empty()) {
    const FieldDescriptor* body_field =
        binding.body == "*" ? nullptr : input.FindFieldByName(binding.body);
    if (binding.body == "*" || body_field != nullptr) {
      Struct request_body;
      SetFlag(request_body, "required", true);
      Value content = JsonContent(body_field != nullptr ? schemas.ForField(*body_field)
                                                        : schemas.ForMessage(input));
      auto example = options.body_examples.find(method.full_name());
      if (example != options.body_examples.end()) {
        Set(ObjectAt(*content.mutable_struct_value(), kJson), "example",
            ParseJson(example->second));
      }
      Set(request_body, "content", std::move(content));
      Set(operation, "requestBody", Object(std::move(request_body)));
    }
  }

  Struct& responses = ObjectAt(operation, "responses");
  const FieldDescriptor* response_field =
      binding.response_body.empty() ? nullptr : output.FindFieldByName(binding.response_body);
  Struct ok;
  Value message_schema =
      response_field != nullptr ? schemas.ForField(*response_field) : schemas.ForMessage(output);
  if (binding.method->server_streaming()) {
    // What the gateway really sends (rest/gateway_stream.h): one JSON object a line, or SSE.
    Set(ok, "description",
        std::string("A stream: newline-delimited JSON (application/x-ndjson), each line "
                    "{\"result\": message}, or {\"error\": status} last if it fails; with "
                    "Accept: text/event-stream, Server-Sent Events whose data is the message "
                    "(event: error with the status if it fails)."));
    Struct line;
    Set(line, "type", std::string("object"));
    Struct& properties = ObjectAt(line, "properties");
    Set(properties, "result", message_schema);
    Set(properties, "error", RefSchema(kStatusSchema));
    Struct ndjson;
    Set(ndjson, "schema", Object(std::move(line)));
    Struct& content = ObjectAt(ok, "content");
    Set(content, "application/x-ndjson", Object(std::move(ndjson)));
    Struct sse;
    Set(sse, "schema", TypeSchema("string"));
    Set(content, "text/event-stream", Object(std::move(sse)));
  } else {
    Set(ok, "description", std::string("OK"));
    Set(ok, "content", JsonContent(std::move(message_schema)));
  }
  Set(responses, "200", Object(std::move(ok)));
  Set(responses, "400",
      ErrorResponse("INVALID_ARGUMENT: a google.rpc.BadRequest in details names every bad field.",
                    false));
  if (!scope.empty()) {
    Set(responses, "401", ErrorResponse("UNAUTHENTICATED: no accepted bearer token.", false));
    Set(responses, "403",
        ErrorResponse("PERMISSION_DENIED: the token lacks the scope, or the request came from a "
                      "page of another origin or for a host that is not allowed.",
                      false));
  }
  if (!path.variable_names().empty()) {
    Set(responses, "404", ErrorResponse("NOT_FOUND: nothing by that name.", false));
  }
  if (input.FindFieldByName("idempotency_key") != nullptr) {
    Set(responses, "422",
        ErrorResponse("The idempotency key was used for a different request "
                      "(FAILED_PRECONDITION, IDEMPOTENCY_KEY_REUSED); nothing was published.",
                      false));
  }
  if (auto extra = options.extra_answers.find(method.full_name());
      extra != options.extra_answers.end()) {
    for (const auto& [status, description] : extra->second) {
      Set(responses, std::to_string(status), ErrorResponse(description, false));
    }
  }
  Set(responses, "429",
      ErrorResponse("RESOURCE_EXHAUSTED: a limit was reached; retry later.", true));
  Set(responses, "503",
      ErrorResponse("UNAVAILABLE: the database or the instance cannot take the call now.", true));
  Set(responses, "default",
      ErrorResponse("Another error: the gRPC status code and message.", false));

  return Object(std::move(operation));
}

// Prints with the library's JSON printer, from a deterministic serialization so that object
// keys come out sorted and the document is the same on every run (map order is otherwise
// randomized per process).
std::string PrintJson(const Struct& document) {
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    document.SerializeToCodedStream(&coded);
  }
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver(
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com", google::protobuf::DescriptorPool::generated_pool()));
  std::string json;
  const auto status = google::protobuf::util::BinaryToJsonString(
      resolver.get(), "type.googleapis.com/" + Struct::descriptor()->full_name(), binary, &json);
  if (!status.ok()) {
    // Cannot happen for this tree (no NaN or infinite numbers); fall back to the plain printer.
    json.clear();
    json = rest::ToJson(document).value_or("{}");
  }
  return json;
}

}  // namespace

namespace {

// GET /health and GET /metrics, which the gateway serves itself.
void AddServerPaths(Struct& paths) {
  {
    // The same body either way; the status code says which.
    auto health_content = [] {
      Struct schema;
      Set(schema, "type", std::string("object"));
      Struct status;
      Set(status, "type", std::string("string"));
      ListValue& values = ListAt(status, "enum");
      values.add_values()->set_string_value("SERVING");
      values.add_values()->set_string_value("NOT_SERVING");
      Set(ObjectAt(schema, "properties"), "status", Object(std::move(status)));
      return JsonContent(Object(std::move(schema)));
    };
    Struct ok;
    Set(ok, "description", std::string("The instance serves: {\"status\":\"SERVING\"}."));
    Set(ok, "content", health_content());
    Struct operation;
    Set(operation, "operationId", std::string("Health"));
    Set(operation, "summary", std::string("Whether the instance serves"));
    Set(operation, "description",
        std::string("Readiness: 200 {\"status\":\"SERVING\"}, or 503 NOT_SERVING while the "
                    "database does not answer or the instance stops. Also /healthz."));
    ListAt(operation, "tags").add_values()->set_string_value("Operations");
    *At(operation, "security").mutable_list_value() = ListValue();
    Struct& responses = ObjectAt(operation, "responses");
    Set(responses, "200", Object(std::move(ok)));
    Struct down;
    Set(down, "description", std::string("NOT_SERVING: {\"status\":\"NOT_SERVING\"}."));
    Set(down, "content", health_content());
    Set(responses, "503", Object(std::move(down)));
    Set(ObjectAt(paths, "/health"), "get", Object(std::move(operation)));
  }
  {
    Struct ok;
    Set(ok, "description", std::string("Prometheus text exposition format 0.0.4."));
    Struct text;
    Set(text, "schema", TypeSchema("string"));
    Set(ObjectAt(ok, "content"), "text/plain", Object(std::move(text)));
    Struct operation;
    Set(operation, "operationId", std::string("Metrics"));
    Set(operation, "summary", std::string("Prometheus metrics"));
    Set(operation, "description",
        std::string("Prometheus metrics. With --auth_metrics, needs a bearer token with the "
                    "\"metrics\" scope."));
    ListAt(operation, "tags").add_values()->set_string_value("Operations");
    Struct& responses = ObjectAt(operation, "responses");
    Set(responses, "200", Object(std::move(ok)));
    Set(responses, "401", ErrorResponse("UNAUTHENTICATED (with --auth_metrics).", false));
    RequireOptionalBearer(operation);
    Set(ObjectAt(paths, "/metrics"), "get", Object(std::move(operation)));
  }
}

}  // namespace

std::string BuildOpenApiJson(absl::Span<const ServiceDescriptor* const> services,
                             const std::string& title, const std::string& version,
                             const OpenApiOptions& options) {
  Struct document;
  Set(document, "openapi", std::string("3.0.3"));
  Struct& info = ObjectAt(document, "info");
  Set(info, "title", title);
  Set(info, "version", version);
  {
    // Relative: the server that serves the document, wherever it listens.
    Struct server;
    Set(server, "url", std::string("/"));
    Set(server, "description", std::string("the server that serves this document"));
    *ListAt(document, "servers").add_values() = Object(std::move(server));
  }

  SchemaBuilder schemas(options);
  Struct& paths = ObjectAt(document, "paths");
  ListValue& tags = ListAt(document, "tags");
  std::set<std::string> operation_ids;
  for (const ServiceDescriptor* service : services) {
    Struct tag;
    Set(tag, "name", service->name());
    Set(tag, "description", "gRPC service " + service->full_name() + ".");
    *tags.add_values() = Object(std::move(tag));

    const google::protobuf::MethodDescriptor* previous = nullptr;
    int additional = 0;
    for (const rest::HttpBinding& binding : rest::CollectHttpBindings(*service)) {
      additional = binding.method == previous ? additional + 1 : 0;
      previous = binding.method;
      const std::string http_method = Lower(binding.http_method);
      if (!IsOpenApiMethod(http_method)) continue;  // custom kinds have no OpenAPI operation
      // The transcoder refuses to start with a template that does not parse.
      const absl::StatusOr<rest::PathTemplate> path =
          rest::PathTemplate::Parse(binding.path_template);
      if (!path.ok()) continue;
      Struct& item = ObjectAt(paths, path->OpenApiPath());
      if (item.fields().count(http_method) > 0) continue;  // first binding wins

      std::string base = service->name() + "_" + binding.method->name();
      if (additional > 0) base += "_" + std::to_string(additional);
      std::string id = base;  // services from different packages may share a name
      for (int n = 2; !operation_ids.insert(id).second; ++n) id = base + "_" + std::to_string(n);
      Set(item, http_method, Operation(binding, *path, id, schemas, options));
    }
  }

  if (options.server_paths) {
    AddServerPaths(paths);
    Struct tag;
    Set(tag, "name", std::string("Operations"));
    Set(tag, "description", std::string("Served by the HTTP gateway itself."));
    *tags.add_values() = Object(std::move(tag));
  }

  Struct& components_root = ObjectAt(document, "components");
  {
    Struct bearer;
    Set(bearer, "type", std::string("http"));
    Set(bearer, "scheme", std::string("bearer"));
    Set(bearer, "description",
        std::string("A token of --auth_tokens_file (Authorization: Bearer <token>); each "
                    "operation's x-booking-scope names the scope it needs."));
    Set(ObjectAt(components_root, "securitySchemes"), "bearer", Object(std::move(bearer)));
  }
  Struct& components = ObjectAt(components_root, "schemas");
  schemas.WriteComponents(components);
  Set(components, kStatusSchema, StatusSchema());
  return PrintJson(document);
}

}  // namespace booking::openapi
