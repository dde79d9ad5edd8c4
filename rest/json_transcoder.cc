#include "rest/json_transcoder.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/call_metadata.h"
#include "rest/gateway_stream.h"
#include "rest/proto_json.h"
#include "rest/rest_error.h"

namespace booking::rest {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr grpc::StatusCode kInvalid = grpc::StatusCode::INVALID_ARGUMENT;

// As the services' own errors are rendered: an INVALID_ARGUMENT gets its BadRequest.
http::Response Error(grpc::StatusCode code, const std::string& message) {
  return RestError(grpc::Status(code, message));
}

const FieldDescriptor* FindField(const google::protobuf::Descriptor& type, std::string_view name) {
  const std::string key(name);
  if (const FieldDescriptor* field = type.FindFieldByName(key); field != nullptr) return field;
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == key) return type.field(i);  // lowerCamelCase
  }
  return nullptr;
}

// Sets the field at `path` ("a.b.c") of `message` from text, as a path variable or query
// parameter would; repeated fields get the value appended.
absl::Status SetFromText(Message& message, std::string_view path, const std::string& text,
                         std::string_view source) {
  Message* current = &message;
  const std::vector<std::string_view> parts = SplitView(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* field = FindField(*current->GetDescriptor(), parts[i]);
    auto invalid = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(path), ": ", std::string(why), " (", std::string(source), ")"));
    };
    if (field == nullptr) return invalid("no such field");
    const Reflection* reflection = current->GetReflection();
    if (i + 1 < parts.size()) {
      if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || field->is_repeated()) {
        return invalid("not a message field");
      }
      current = reflection->MutableMessage(current, field);
      continue;
    }
    const bool repeated = field->is_repeated();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        repeated ? reflection->AddString(current, field, text)
                 : reflection->SetString(current, field, text);
        return absl::OkStatus();
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        if (!absl::SimpleAtoi(text, &v)) return invalid("must be a 32-bit integer");
        repeated ? reflection->AddInt32(current, field, v)
                 : reflection->SetInt32(current, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        if (!absl::SimpleAtoi(text, &v)) return invalid("must be an integer");
        repeated ? reflection->AddInt64(current, field, v)
                 : reflection->SetInt64(current, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        if (!absl::SimpleAtoi(text, &v)) return invalid("must be an unsigned 32-bit integer");
        repeated ? reflection->AddUInt32(current, field, v)
                 : reflection->SetUInt32(current, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        if (!absl::SimpleAtoi(text, &v)) return invalid("must be an unsigned integer");
        repeated ? reflection->AddUInt64(current, field, v)
                 : reflection->SetUInt64(current, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        if (!absl::SimpleAtod(text, &v)) return invalid("must be a number");
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          repeated ? reflection->AddDouble(current, field, v)
                   : reflection->SetDouble(current, field, v);
        } else {
          repeated ? reflection->AddFloat(current, field, static_cast<float>(v))
                   : reflection->SetFloat(current, field, static_cast<float>(v));
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (!absl::SimpleAtob(text, &v)) return invalid("must be true or false");
        repeated ? reflection->AddBool(current, field, v) : reflection->SetBool(current, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const google::protobuf::EnumValueDescriptor* value =
            field->enum_type()->FindValueByName(text);
        int number;
        if (value == nullptr && absl::SimpleAtoi(text, &number)) {
          value = field->enum_type()->FindValueByNumber(number);
        }
        if (value == nullptr) return invalid("not a value of " + field->enum_type()->full_name());
        repeated ? reflection->AddEnum(current, field, value)
                 : reflection->SetEnum(current, field, value);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        // Timestamps and durations as their JSON text ("2026-12-08T09:00:00Z", "1.5s"), as
        // grpc-gateway reads them from a query.
        const std::string& type = field->message_type()->full_name();
        if (repeated ||
            (type != "google.protobuf.Timestamp" && type != "google.protobuf.Duration")) {
          return invalid("is a message; send it in the body");
        }
        // Through the wire form: the request may be a dynamic message, not the generated type.
        google::protobuf::Timestamp timestamp;
        google::protobuf::Duration duration;
        const bool parsed = type == "google.protobuf.Timestamp"
                                ? google::protobuf::util::TimeUtil::FromString(text, &timestamp)
                                : google::protobuf::util::TimeUtil::FromString(text, &duration);
        if (parsed) {
          reflection->MutableMessage(current, field)
              ->ParseFromString(type == "google.protobuf.Timestamp" ? timestamp.SerializeAsString()
                                                                    : duration.SerializeAsString());
        }
        if (!parsed) {
          return invalid(type == "google.protobuf.Timestamp"
                             ? "must be an RFC 3339 time, such as 2026-12-08T09:00:00Z"
                             : "must be a duration in seconds, such as 1.5s");
        }
        return absl::OkStatus();
      }
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(std::string(path), ": empty field path"));
}

enum class BodyType { kJson, kMaybeJson, kOther };

// What a body's Content-Type says about it. Like grpc-gateway and Envoy's transcoder, a body sent
// without a type, or with the types `curl -d` and plain-text clients send, is read as JSON when
// it parses as JSON.
BodyType ClassifyContentType(std::string_view content_type) {
  const std::string media(content_type.substr(0, content_type.find(';')));
  const std::string type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(media));
  if (type == "application/json" || absl::EndsWith(type, "+json")) return BodyType::kJson;
  if (type.empty() || type == "application/x-www-form-urlencoded" || type == "text/plain") {
    return BodyType::kMaybeJson;
  }
  return BodyType::kOther;
}

bool ParsesAsJson(const std::string& body) {
  google::protobuf::Value value;
  return google::protobuf::util::JsonStringToMessage(body, &value).ok();
}

bool IsReservedMetadataKey(const std::string& key) {
  return absl::StartsWith(key, "grpc-") || key == "content-type" || key == "te" ||
         key == "user-agent" || key == "host" || key == "connection" ||
         key == api::kClientAddressMetadata;  // the gateway's own word, below
}

bool IsMetadataKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

bool IsMetadataValue(std::string_view value) {
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// The JSON of one field of `message` (for response_body): an array for an empty repeated field.
absl::StatusOr<std::string> FieldJson(const Message& message, const FieldDescriptor& field,
                                      const google::protobuf::util::JsonPrintOptions& options) {
  const Reflection* reflection = message.GetReflection();
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    if (!field.is_repeated()) return ToJson(reflection->GetMessage(message, &field), options);
    std::string out = "[";
    for (int i = 0; i < reflection->FieldSize(message, &field); ++i) {
      if (i > 0) out += ",";
      absl::StatusOr<std::string> element =
          ToJson(reflection->GetRepeatedMessage(message, &field, i), options);
      if (!element.ok()) return element.status();
      out += *element;
    }
    return out + "]";
  }
  absl::StatusOr<std::string> whole = ToJson(message, options);
  if (!whole.ok()) return whole.status();
  google::protobuf::Struct parsed;
  if (!google::protobuf::util::JsonStringToMessage(*whole, &parsed).ok()) {
    return absl::InternalError("cannot read back the JSON printed for " + message.GetTypeName());
  }
  auto it = parsed.fields().find(field.name());
  if (it == parsed.fields().end()) return field.is_repeated() ? "[]" : "{}";
  return ToJson(it->second);
}

using Metadata = std::vector<std::pair<std::string, std::string>>;
using Done = absl::AnyInvocable<void(http::Response)>;

http::Response MethodNotAllowed(const http::Request& request, std::string_view path,
                                const std::vector<std::string>& allowed) {
  http::Response response =
      Error(grpc::StatusCode::UNIMPLEMENTED,
            absl::StrCat("method ", request.method, " not allowed on ", std::string(path)));
  response.status = 405;
  response.headers.emplace_back("Allow", absl::StrJoin(allowed, ", "));
  return response;
}

// 415 for a body whose Content-Type says it is not JSON; nothing when it may be read.
std::optional<http::Response> CheckContentType(const HttpBinding& binding,
                                               const http::Request& request) {
  if (binding.body.empty() || request.body.empty() || request.content_type.empty()) return {};
  const BodyType type = ClassifyContentType(request.content_type);
  if (type == BodyType::kJson || (type == BodyType::kMaybeJson && ParsesAsJson(request.body))) {
    return {};
  }
  http::Response response = Error(
      kInvalid, absl::StrCat("Content-Type must be application/json (or a JSON body without a "
                             "type, as text/plain or form-urlencoded), got \"",
                             request.content_type, "\""));
  response.status = 415;
  return response;
}

// The headers that travel as gRPC metadata: the service's own (Idempotency-Key, Correlation-ID,
// Authorization, Prefer) and grpc-gateway's Grpc-Metadata-* prefix; then who the HTTP client is,
// for per-client limits (the service believes it only from here). INVALID_ARGUMENT naming a
// header gRPC would refuse or that belongs to gRPC itself.
absl::StatusOr<Metadata> ForwardedMetadata(const http::Request& request) {
  Metadata metadata;
  for (const auto& [name, value] : request.headers) {
    std::string key;
    if (name == "idempotency-key" || name == "correlation-id" || name == "authorization" ||
        name == "prefer") {
      key = name;
    } else if (absl::StartsWith(name, "grpc-metadata-")) {
      key = name.substr(strlen("grpc-metadata-"));
    } else {
      continue;
    }
    // grpc-* keys belong to gRPC itself (status, timeouts, trace context) and the transport
    // headers to HTTP/2: a client does not get to set them through the gateway.
    if (IsReservedMetadataKey(key) || !IsMetadataKey(key) || !IsMetadataValue(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("header ", name, ": not valid as gRPC metadata"));
    }
    metadata.emplace_back(std::move(key), value);
  }
  if (!request.peer.empty()) {
    metadata.emplace_back(std::string(api::kClientAddressMetadata), request.peer);
  }
  return metadata;
}

// A streaming route's options: SSE when the client accepts it, the shared clock, and
// Last-Event-ID as the request's resume_token (when the method has one and the query did not
// set it), which is how SSE reconnects say where they were.
GatewayStream::Options StreamOptionsFor(const http::Request& request, absl::Duration heartbeat,
                                        GatewayStream::Clock* clock, Message& input) {
  GatewayStream::Options options;
  options.heartbeat = heartbeat;
  options.clock = clock;
  const FieldDescriptor* resume = input.GetDescriptor()->FindFieldByName("resume_token");
  for (const auto& [name, value] : request.headers) {
    if (name == "accept" && absl::StrContains(value, "text/event-stream")) {
      options.format = GatewayStream::Format::kSse;
    }
    if (name == "last-event-id" && resume != nullptr && !resume->is_repeated() &&
        resume->type() == FieldDescriptor::TYPE_STRING &&
        input.GetReflection()->GetString(input, resume).empty()) {
      input.GetReflection()->SetString(&input, resume, value);
    }
  }
  return options;
}

// A successful unary answer as the route renders it: the whole message, or its response_body
// field, with zeros that mean something printed.
http::Response RenderOutput(const HttpBinding& binding, const grpc::ByteBuffer& buffer) {
  const google::protobuf::Descriptor* output_type = binding.method->output_type();
  std::unique_ptr<Message> output(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(output_type)->New());
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  if (!output->ParseFromString(bytes)) {
    return Error(grpc::StatusCode::INTERNAL, "unreadable response");
  }
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  // A zero that means something ("retried": 0, "consistency_reached": false) is printed, not
  // left out as proto3's JSON would: a generated client finds it.
  print.always_print_primitive_fields = true;
  const FieldDescriptor* field =
      binding.response_body.empty() ? nullptr : output_type->FindFieldByName(binding.response_body);
  absl::StatusOr<std::string> body =
      field != nullptr ? FieldJson(*output, *field, print) : ToJson(*output, print);
  if (!body.ok()) return Error(grpc::StatusCode::INTERNAL, std::string(body.status().message()));
  http::Response response;
  response.body = *std::move(body);
  return response;
}

// One unary call in flight. It owns what gRPC uses until the call completes (its context and
// buffers) and deletes itself in gRPC's callback, before answering.
class UnaryCall {
 public:
  static void Start(grpc::GenericStub& stub, const JsonTranscoder::Route& route,
                    const Metadata& metadata, std::string request, absl::Duration timeout,
                    Done done) {
    auto* call = new UnaryCall(route, std::move(done));
    call->context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    for (const auto& [key, value] : metadata) call->context_.AddMetadata(key, value);
    grpc::Slice slice(request);
    call->request_ = grpc::ByteBuffer(&slice, 1);
    stub.UnaryCall(&call->context_, route.grpc_method, grpc::StubOptions(), &call->request_,
                   &call->response_, [call](grpc::Status status) { call->Finish(status); });
  }

 private:
  UnaryCall(const JsonTranscoder::Route& route, Done done)
      : route_(route), done_(std::move(done)) {}

  void Finish(const grpc::Status& status) {
    std::unique_ptr<UnaryCall> self(this);
    http::Response response =
        status.ok() ? RenderOutput(route_.binding, response_) : RestError(status);
    const auto& metadata = context_.GetServerInitialMetadata();
    if (auto it = metadata.find("correlation-id"); it != metadata.end()) {
      response.headers.emplace_back("Correlation-ID",
                                    std::string(it->second.data(), it->second.size()));
    }
    // The context goes before the answer: whoever waits for the answer may tear the channel
    // down at once (a shutdown, a test), and a ClientContext must not outlive its channel.
    Done done = std::move(done_);
    self.reset();
    done(std::move(response));
  }

  const JsonTranscoder::Route& route_;
  Done done_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

}  // namespace

JsonTranscoder::JsonTranscoder(std::shared_ptr<grpc::Channel> channel, absl::Duration call_timeout)
    : channel_(channel), stub_(channel), call_timeout_(call_timeout) {}

absl::StatusOr<std::unique_ptr<JsonTranscoder>> JsonTranscoder::Create(
    std::shared_ptr<grpc::Channel> channel,
    const std::vector<const google::protobuf::ServiceDescriptor*>& services,
    absl::Duration call_timeout) {
  std::unique_ptr<JsonTranscoder> transcoder(new JsonTranscoder(channel, call_timeout));
  for (const google::protobuf::ServiceDescriptor* service : services) {
    if (service == nullptr) return absl::InvalidArgumentError("REST gateway: unknown service");
    for (HttpBinding& binding : CollectHttpBindings(*service)) {
      absl::StatusOr<PathTemplate> path = PathTemplate::Parse(binding.path_template);
      if (!path.ok()) return path.status();
      std::string grpc_method =
          absl::StrCat("/", service->full_name(), "/", binding.method->name());
      transcoder->routes_.push_back({std::move(binding), *std::move(path), std::move(grpc_method)});
    }
  }
  return transcoder;
}

const JsonTranscoder::Route* JsonTranscoder::Find(
    const std::string& method, std::string_view path,
    std::vector<std::pair<std::string, std::string>>* bindings,
    std::vector<std::string>* allowed) const {
  for (const Route& route : routes_) {
    auto matched = route.path.Match(path);
    if (!matched) continue;
    if (route.binding.http_method == method) {
      *bindings = *std::move(matched);
      return &route;
    }
    if (std::find(allowed->begin(), allowed->end(), route.binding.http_method) == allowed->end()) {
      allowed->push_back(route.binding.http_method);
    }
  }
  return nullptr;
}

absl::Status JsonTranscoder::BuildInput(
    const Route& route, const http::Request& request,
    const std::vector<std::pair<std::string, std::string>>& bindings, Message& input) const {
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  const std::string& body_field = route.binding.body;
  if (body_field == "*") {
    const std::string& json = request.body.empty() ? std::string("{}") : request.body;
    if (auto status = google::protobuf::util::JsonStringToMessage(json, &input, parse);
        !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("body: ", std::string(status.message())));
    }
  } else if (!body_field.empty() && !request.body.empty()) {
    const FieldDescriptor* field = input.GetDescriptor()->FindFieldByName(body_field);
    if (field != nullptr && !field->is_repeated() &&
        field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      // Parsed into the field itself: the body can set nothing outside it.
      Message* target = input.GetReflection()->MutableMessage(&input, field);
      if (auto status = google::protobuf::util::JsonStringToMessage(request.body, target, parse);
          !status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("body: ", std::string(status.message())));
      }
    } else {
      // A scalar or repeated field: wrapped as {"field": body}, which is only safe for a body
      // that is one JSON value (`1, "other": 2` would set another field).
      if (!ParsesAsJson(request.body)) {
        return absl::InvalidArgumentError("body: not one JSON value");
      }
      const std::string wrapped = absl::StrCat("{\"", body_field, "\":", request.body, "}");
      if (auto status = google::protobuf::util::JsonStringToMessage(wrapped, &input, parse);
          !status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("body: ", std::string(status.message())));
      }
    }
  }
  for (const auto& [field, value] : bindings) {
    if (absl::Status status = SetFromText(input, field, value, "path"); !status.ok()) return status;
  }
  // A query parameter may not touch what the path set (or the body, below).
  auto overlaps = [](const std::string& a, const std::string& b) {
    return a == b || absl::StartsWith(a, b + ".") || absl::StartsWith(b, a + ".");
  };
  const size_t question = request.target.find('?');
  if (question == std::string::npos || body_field == "*") return absl::OkStatus();
  for (std::string_view pair :
       SplitView(std::string_view(request.target).substr(question + 1), '&')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::optional<std::string> key = PercentDecode(pair.substr(0, eq), true);
    std::optional<std::string> value =
        PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value) {
      return absl::InvalidArgumentError(
          absl::StrCat("query: malformed percent-encoding in \"", std::string(pair), "\""));
    }
    if (!body_field.empty() && (*key == body_field || absl::StartsWith(*key, body_field + "."))) {
      return absl::InvalidArgumentError(absl::StrCat(*key, ": is set by the body"));
    }
    for (const auto& [bound, unused] : bindings) {
      if (overlaps(*key, bound)) {
        return absl::InvalidArgumentError(absl::StrCat(*key, ": is set by the path"));
      }
    }
    if (absl::Status status = SetFromText(input, *key, *value, "query parameter"); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

bool JsonTranscoder::Handle(http::Request request, absl::AnyInvocable<void(http::Response)> done) {
  const std::string_view path =
      std::string_view(request.target).substr(0, request.target.find('?'));
  Metadata bindings;
  std::vector<std::string> allowed;
  const Route* route = Find(request.method, path, &bindings, &allowed);
  if (route == nullptr) {
    if (allowed.empty()) return false;
    done(MethodNotAllowed(request, path, allowed));
    return true;
  }
  if (std::optional<http::Response> refused = CheckContentType(route->binding, request)) {
    done(*std::move(refused));
    return true;
  }
  const google::protobuf::MethodDescriptor& method = *route->binding.method;
  std::unique_ptr<Message> input(google::protobuf::MessageFactory::generated_factory()
                                     ->GetPrototype(method.input_type())
                                     ->New());
  if (absl::Status status = BuildInput(*route, request, bindings, *input); !status.ok()) {
    done(Error(kInvalid, std::string(status.message())));
    return true;
  }
  std::optional<GatewayStream::Options> stream_options;
  if (method.server_streaming()) {
    std::call_once(clock_once_, [this] { clock_ = std::make_unique<GatewayStream::Clock>(); });
    stream_options = StreamOptionsFor(request, stream_heartbeat_, clock_.get(), *input);
  }
  absl::StatusOr<Metadata> metadata = ForwardedMetadata(request);
  if (!metadata.ok()) {
    done(Error(kInvalid, std::string(metadata.status().message())));
    return true;
  }
  std::string bytes;
  if (!input->SerializeToString(&bytes)) {  // only a message missing required fields (proto2)
    done(Error(grpc::StatusCode::INTERNAL, "cannot serialize the request"));
    return true;
  }
  if (stream_options) {
    // A stream lasts as long as its client reads: no deadline.
    auto context = std::make_unique<grpc::ClientContext>();
    for (const auto& [key, value] : *metadata) context->AddMetadata(key, value);
    GatewayStream::Start(stub_, route->grpc_method, std::move(context), std::move(bytes),
                         method.output_type(), *stream_options, std::move(done));
    return true;
  }
  UnaryCall::Start(stub_, *route, *metadata, std::move(bytes), call_timeout_, std::move(done));
  return true;
}

}  // namespace booking::rest
