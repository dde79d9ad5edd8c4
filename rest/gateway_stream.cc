#include "rest/gateway_stream.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/mutex.h"
#include "rest/rest_error.h"

namespace booking::rest {
namespace {

using Bytes = grpc::ByteBuffer;

constexpr absl::Duration kRefusalGrace = absl::Milliseconds(50);

std::string ToString(const Bytes& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return bytes;
}

// The gRPC side. Owns itself from Start to OnDone; the HTTP side holds it through Body, whose
// end (the client went away, or the body was read to its end) cancels the call.
class Call final : public grpc::ClientBidiReactor<Bytes, Bytes>,
                   public GatewayStream::Clock::Timed,
                   public std::enable_shared_from_this<Call> {
 public:
  Call(std::unique_ptr<grpc::ClientContext> context,
       const google::protobuf::Descriptor* output_type, GatewayStream::Options options,
       absl::AnyInvocable<void(http::Response)> done)
      : context_(std::move(context)),
        output_type_(output_type),
        options_(options),
        answer_(std::move(done)) {}

  void Begin(grpc::GenericStub& stub, const std::string& method, std::string request);
  void Next(http::BodyStream::Deliver deliver);
  void Cancel() { context_->TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool) override {}
  void OnDone(const grpc::Status& status) override;
  void Tick(absl::Time now) override;

 private:
  std::string Render(const std::string& bytes);
  std::string RenderError(const grpc::Status& status);
  void Answer(http::Response response);
  void AnswerOpen();  // the 200 with the body stream, once

  const std::unique_ptr<grpc::ClientContext> context_;
  const google::protobuf::Descriptor* const output_type_;
  const GatewayStream::Options options_;
  std::shared_ptr<Call> self_;  // until OnDone
  std::shared_ptr<http::BodyStream> body_
      ABSL_GUARDED_BY(mu_);  // handed to the HTTP side in the 200
  Bytes request_;
  Bytes read_;  // the one read in flight

  common::Mutex mu_;
  absl::AnyInvocable<void(http::Response)> answer_ ABSL_GUARDED_BY(mu_);  // until answered
  http::BodyStream::Deliver waiting_ ABSL_GUARDED_BY(mu_);  // the HTTP side waits for a piece
  std::deque<std::string> pieces_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;  // a read returned false: the stream is over
  bool done_ ABSL_GUARDED_BY(mu_) = false;         // OnDone ran: pieces_ holds all there is
  bool ended_ ABSL_GUARDED_BY(mu_) = false;        // the end was delivered
  absl::Time open_due_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();  // headers came
  absl::Time waiting_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

class Body final : public http::BodyStream {
 public:
  explicit Body(std::shared_ptr<Call> call) : call_(std::move(call)) {}
  ~Body() override { call_->Cancel(); }
  void Next(Deliver deliver) override { call_->Next(std::move(deliver)); }
  void Abandon() override { call_->Cancel(); }  // OnDone then answers a waiting Next

 private:
  const std::shared_ptr<Call> call_;
};

void Call::Begin(grpc::GenericStub& stub, const std::string& method, std::string request) {
  self_ = shared_from_this();
  {
    // Nothing else touches body_ before StartCall: locked only so the analysis can check it.
    common::MutexLock lock(mu_);
    body_ = std::make_shared<Body>(self_);
  }
  grpc::Slice slice(request);
  request_ = Bytes(&slice, 1);
  stub.PrepareBidiStreamingCall(context_.get(), method, grpc::StubOptions(), this);
  StartWriteLast(&request_, grpc::WriteOptions());
  {
    common::MutexLock lock(mu_);
    reading_ = true;  // the first message (or the end) also settles the answer
  }
  StartRead(&read_);
  StartCall();
}

void Call::Answer(http::Response response) {
  absl::AnyInvocable<void(http::Response)> answer;
  {
    common::MutexLock lock(mu_);
    answer = std::move(answer_);
  }
  if (answer) answer(std::move(response));
}

void Call::OnReadInitialMetadataDone(bool ok) {
  if (!ok) return;  // OnDone answers with the error
  // A refusal comes with its headers (both in one batch): give its status a moment to arrive,
  // so a refused stream is an HTTP error, not a 200 whose body says so. A stream that has
  // nothing to say yet is answered 200 after that moment, so its client knows it is open.
  common::MutexLock lock(mu_);
  open_due_ = absl::Now() + kRefusalGrace;
}

void Call::Tick(absl::Time now) {
  bool open = false;
  http::BodyStream::Deliver heartbeat;
  {
    common::MutexLock lock(mu_);
    open = answer_ && now >= open_due_;
    if (waiting_ && now - waiting_since_ >= options_.heartbeat) {
      heartbeat = std::move(waiting_);
      waiting_ = nullptr;
    }
  }
  if (open) AnswerOpen();
  // SSE has comments for this; NDJSON readers skip an empty line. Either way a write, which is
  // what finds a peer that vanished without a word.
  if (heartbeat) {
    std::move(heartbeat)(
        std::string(options_.format == GatewayStream::Format::kSse ? ": heartbeat\n\n" : "\n"));
  }
}

void Call::AnswerOpen() {
  {
    common::MutexLock lock(mu_);
    if (!answer_) return;
  }
  const auto& metadata = context_->GetServerInitialMetadata();
  http::Response response;
  response.headers.emplace_back("Content-Type", options_.format == GatewayStream::Format::kSse
                                                    ? "text/event-stream"
                                                    : "application/x-ndjson");
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("X-Accel-Buffering", "no");  // proxies: pass pieces at once
  if (auto it = metadata.find("correlation-id"); it != metadata.end()) {
    response.headers.emplace_back("Correlation-ID",
                                  std::string(it->second.data(), it->second.size()));
  }
  std::shared_ptr<http::BodyStream> body;
  {
    common::MutexLock lock(mu_);
    body = std::move(body_);  // the HTTP side's reference now decides when the call is canceled
  }
  if (body == nullptr) return;
  response.stream = std::move(body);
  Answer(std::move(response));
}

std::string Call::Render(const std::string& bytes) {
  std::unique_ptr<google::protobuf::Message> message(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(output_type_)->New());
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  std::string json;
  if (!message->ParseFromString(bytes) ||
      !google::protobuf::util::MessageToJsonString(*message, &json, print).ok()) {
    return RenderError(grpc::Status(grpc::StatusCode::INTERNAL, "unreadable stream message"));
  }
  if (options_.format == GatewayStream::Format::kNdjson) {
    return absl::StrCat("{\"result\":", json, "}\n");
  }
  std::string id;
  if (const auto* field = output_type_->FindFieldByName("resume_token");
      field != nullptr && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
      !field->is_repeated()) {
    id = message->GetReflection()->GetString(*message, field);
  }
  // The printer writes one line, but an id must never break the frame.
  id = absl::StrReplaceAll(id, {{"\n", ""}, {"\r", ""}});
  return id.empty() ? absl::StrCat("data: ", json, "\n\n")
                    : absl::StrCat("id: ", id, "\ndata: ", json, "\n\n");
}

std::string Call::RenderError(const grpc::Status& status) {
  http::Response error = RestError(status);  // {"code","message","details"}
  if (options_.format == GatewayStream::Format::kNdjson) {
    return absl::StrCat("{\"error\":", error.body, "}\n");
  }
  return absl::StrCat("event: error\ndata: ", error.body, "\n\n");
}

void Call::Next(http::BodyStream::Deliver deliver) {
  std::optional<std::string> piece;  // to deliver now, without the lock; empty: the end
  bool start_read = false;
  {
    common::MutexLock lock(mu_);
    if (!pieces_.empty()) {
      piece = std::move(pieces_.front());
      pieces_.pop_front();
    } else if (done_) {
      ended_ = true;
      piece = std::string();  // the end
    } else {
      waiting_ = std::move(deliver);
      waiting_since_ = absl::Now();
      // After the last read nothing may be started: OnDone comes next and answers `waiting_`.
      if (!reading_ && !read_closed_) {
        reading_ = true;
        start_read = true;
      }
    }
  }
  if (piece.has_value()) {
    std::move(deliver)(*std::move(piece));
  } else if (start_read) {
    StartRead(&read_);
  }
}

void Call::OnReadDone(bool ok) {
  if (ok) AnswerOpen();
  http::BodyStream::Deliver deliver;
  std::string piece;
  {
    common::MutexLock lock(mu_);
    reading_ = false;
    if (!ok) {
      read_closed_ = true;
      return;  // the stream ended: OnDone says how
    }
    piece = Render(ToString(read_));
    if (waiting_) {
      deliver = std::move(waiting_);
      waiting_ = nullptr;
    } else {
      pieces_.push_back(std::move(piece));
      return;
    }
  }
  std::move(deliver)(std::move(piece));
}

void Call::OnDone(const grpc::Status& status) {
  bool answered = false;
  {
    common::MutexLock lock(mu_);
    answered = !answer_;
  }
  if (!answered && !status.ok()) {
    Answer(RestError(status));  // refused before the stream began
  } else {
    if (!answered) AnswerOpen();  // an empty stream
    http::BodyStream::Deliver deliver;
    {
      common::MutexLock lock(mu_);
      if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
        pieces_.push_back(RenderError(status));
      }
      done_ = true;
      if (waiting_) {
        deliver = std::move(waiting_);
        waiting_ = nullptr;
      }
    }
    if (deliver) Next(std::move(deliver));
  }
  {
    common::MutexLock lock(mu_);
    body_.reset();
  }
  self_.reset();  // may delete this: last
}

}  // namespace

GatewayStream::Clock::Clock(absl::Duration tick)
    : task_("stream-clock", tick, [this] { TickAll(); }) {
  task_.Start();
}

GatewayStream::Clock::~Clock() { task_.Stop(); }

void GatewayStream::Clock::Add(std::weak_ptr<Timed> timed) {
  common::MutexLock lock(mu_);
  timed_.push_back(std::move(timed));
}

void GatewayStream::Clock::TickAll() {
  std::vector<std::shared_ptr<Timed>> alive;
  {
    common::MutexLock lock(mu_);
    // Streams that ended are forgotten.
    std::erase_if(timed_, [&](const std::weak_ptr<Timed>& timed) {
      std::shared_ptr<Timed> locked = timed.lock();
      if (locked == nullptr) return true;
      alive.push_back(std::move(locked));
      return false;
    });
  }
  const absl::Time now = absl::Now();
  for (const std::shared_ptr<Timed>& timed : alive) timed->Tick(now);
}

void GatewayStream::Start(grpc::GenericStub& stub, const std::string& method,
                          std::unique_ptr<grpc::ClientContext> context, std::string request,
                          const google::protobuf::Descriptor* output_type, Options options,
                          absl::AnyInvocable<void(http::Response)> done) {
  auto call = std::make_shared<Call>(std::move(context), output_type, options, std::move(done));
  options.clock->Add(call);
  call->Begin(stub, method, std::move(request));
}

}  // namespace booking::rest
