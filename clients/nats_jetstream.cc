#include "clients/nats_jetstream.h"

#include <nats/nats.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "clients/http_client.h"
#include "common/log_value.h"
#include "domain/handler.h"
#include "spdlog/spdlog.h"

namespace booking::clients {
namespace {

constexpr char kMsgIdHeader[] = "Nats-Msg-Id";

std::string NatsError(natsStatus status) {
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  std::string text = natsStatus_GetText(status);
  if (detail != nullptr && *detail != '\0' && last == status) absl::StrAppend(&text, ": ", detail);
  return text;
}

// The broker as a whole is failing: the relay's lane pauses (breaker, backoff) and parks nothing.
absl::Status BrokerDown(std::string message) {
  return domain::ApiFailure(absl::UnavailableError(std::move(message)));
}

int64_t Millis(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Milliseconds(d)); }

bool FileReadable(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

}  // namespace

absl::Status ValidateNatsJetStreamOptions(const NatsJetStreamOptions& options) {
  if (options.servers.empty()) {
    return absl::InvalidArgumentError("--jetstream_url: give at least one nats://host:port");
  }
  for (const std::string& url : options.servers) {
    const bool tls = absl::StartsWith(url, "tls://");
    if (!absl::StartsWith(url, "nats://") && !tls) {
      return absl::InvalidArgumentError(absl::StrCat("--jetstream_url: \"", RedactUrl(url),
                                                     "\" must start with nats:// or tls://"));
    }
    const std::string_view rest = std::string_view(url).substr(tls ? 6 : 7);
    const size_t at = rest.rfind('@');
    const std::string_view host_port = at == std::string_view::npos ? rest : rest.substr(at + 1);
    const size_t colon = host_port.rfind(':');
    if (host_port.empty() || colon == 0 || host_port.find('/') != std::string_view::npos ||
        (colon != std::string_view::npos &&
         (colon + 1 == host_port.size() ||
          !std::all_of(host_port.begin() + colon + 1, host_port.end(),
                       [](char c) { return c >= '0' && c <= '9'; })))) {
      return absl::InvalidArgumentError(
          absl::StrCat("--jetstream_url: \"", RedactUrl(url), "\" is not host:port"));
    }
  }
  if (options.stream.empty() || options.stream.find_first_of(" \t.*>/\\") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jetstream_stream: \"", options.stream,
                     "\" is not a stream name (no spaces, dots, wildcards or slashes)"));
  }
  if (options.replicas < 1 || options.replicas > 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--jetstream_replicas: must be 1 to 5 (JetStream's limit), got ", options.replicas));
  }
  for (const auto& [flag, path] : {std::pair{"--jetstream_credentials", &options.credentials_file},
                                   std::pair{"--jetstream_tls_ca", &options.tls_ca_file},
                                   std::pair{"--jetstream_tls_cert", &options.tls_cert_file},
                                   std::pair{"--jetstream_tls_key", &options.tls_key_file}}) {
    if (!path->empty() && !FileReadable(*path)) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read \"", *path, "\""));
    }
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--jetstream_tls_cert, --jetstream_tls_key: give both (a client certificate and its key) "
        "or neither");
  }
  return absl::OkStatus();
}

NatsJetStream::NatsJetStream(NatsJetStreamOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<NatsJetStream>> NatsJetStream::Connect(
    NatsJetStreamOptions options) {
  if (absl::Status valid = ValidateNatsJetStreamOptions(options); !valid.ok()) return valid;
  std::unique_ptr<NatsJetStream> js(new NatsJetStream(std::move(options)));
  if (absl::Status status = js->Open(); !status.ok()) return status;
  return js;
}

absl::Status NatsJetStream::Open() {
  auto check = [](natsStatus s, const char* what) -> absl::Status {
    if (s == NATS_OK) return absl::OkStatus();
    // A flag's value the library refused starts with the flag, as every refusal at start does.
    const absl::string_view prefix = absl::StartsWith(what, "--") ? "" : "jetstream: ";
    return absl::InvalidArgumentError(absl::StrCat(prefix, what, ": ", NatsError(s)));
  };
  if (natsOptions_Create(&nats_options_) != NATS_OK) {
    return absl::ResourceExhaustedError("jetstream: cannot create the client's options");
  }
  std::vector<const char*> servers;
  bool tls = !options_.tls_ca_file.empty();
  for (const std::string& url : options_.servers) {
    servers.push_back(url.c_str());
    tls = tls || absl::StartsWith(url, "tls://");
  }
  absl::Status status =
      check(natsOptions_SetServers(nats_options_, servers.data(), static_cast<int>(servers.size())),
            "--jetstream_url");
  if (status.ok())
    status = check(natsOptions_SetName(nats_options_, options_.name.c_str()), "name");
  // Reconnect for ever, quickly: the relay's lane does the waiting (breaker and backoff).
  if (status.ok()) status = check(natsOptions_SetMaxReconnect(nats_options_, -1), "reconnects");
  if (status.ok()) status = check(natsOptions_SetReconnectWait(nats_options_, 250), "reconnects");
  if (status.ok()) status = check(natsOptions_SetTimeout(nats_options_, 2000), "timeout");
  // A node that vanished without closing its socket is noticed within about 3 s.
  if (status.ok()) status = check(natsOptions_SetPingInterval(nats_options_, 1000), "pings");
  if (status.ok()) status = check(natsOptions_SetMaxPingsOut(nats_options_, 2), "pings");
  if (status.ok()) {
    // With a callback, a first connect that fails returns at once and goes on in the
    // background (without one, it would block until connected).
    status = check(natsOptions_SetRetryOnFailedConnect(nats_options_, true, &OnConnected, this),
                   "connect");
  }
  if (status.ok()) {
    status = check(natsOptions_SetDisconnectedCB(nats_options_, &OnDisconnected, this), "events");
  }
  if (status.ok()) {
    status = check(natsOptions_SetReconnectedCB(nats_options_, &OnReconnected, this), "events");
  }
  if (status.ok() && tls) status = check(natsOptions_SetSecure(nats_options_, true), "tls");
  if (status.ok() && !options_.tls_ca_file.empty()) {
    status =
        check(natsOptions_LoadCATrustedCertificates(nats_options_, options_.tls_ca_file.c_str()),
              "--jetstream_tls_ca");
  }
  if (status.ok() && !options_.tls_cert_file.empty()) {
    status = check(natsOptions_LoadCertificatesChain(nats_options_, options_.tls_cert_file.c_str(),
                                                     options_.tls_key_file.c_str()),
                   "--jetstream_tls_cert");
  }
  if (status.ok() && !options_.credentials_file.empty()) {
    status = check(natsOptions_SetUserCredentialsFromFiles(
                       nats_options_, options_.credentials_file.c_str(), nullptr),
                   "--jetstream_credentials");
  }
  if (!status.ok()) return status;
  const natsStatus connected = natsConnection_Connect(&connection_, nats_options_);
  if (connected == NATS_NOT_YET_CONNECTED) {
    spdlog::warn("jetstream: no server answered yet; connecting in the background servers={}",
                 common::LogValue(absl::StrJoin(options_.servers, ",",
                                                [](std::string* out, const std::string& url) {
                                                  out->append(RedactUrl(url));
                                                })));
  } else if (connected != NATS_OK) {
    return absl::UnavailableError(absl::StrCat("jetstream: connect: ", NatsError(connected)));
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = Millis(options_.ack_timeout);
  js_options.PublishAsync.MaxPending = options_.max_pending;
  js_options.PublishAsync.AckHandler = &OnAck;
  js_options.PublishAsync.AckHandlerClosure = this;
  js_options.PublishAsync.StallWait = Millis(options_.ack_timeout);
  if (natsStatus s = natsConnection_JetStream(&js_, connection_, &js_options); s != NATS_OK) {
    return absl::InternalError(absl::StrCat("jetstream: context: ", NatsError(s)));
  }
  if (connected == NATS_OK) {
    char url[256] = {0};
    natsConnection_GetConnectedUrl(connection_, url, sizeof(url));
    spdlog::info("jetstream connected server={} stream={}", common::LogValue(RedactUrl(url)),
                 common::LogValue(options_.stream));
  }
  return absl::OkStatus();
}

NatsJetStream::~NatsJetStream() {
  if (js_ != nullptr) {
    // Publishes never acknowledged are the lane's to redo; the library must not call back.
    // (cnats 3.4 crashes asking for the list before the first asynchronous publish.)
    natsMsgList pending;
    if (published_async_ && js_PublishAsyncGetPendingList(&pending, js_) == NATS_OK) {
      natsMsgList_Destroy(&pending);
    }
    jsCtx_Destroy(js_);
  }
  if (connection_ != nullptr) {
    closing_.store(true, std::memory_order_release);  // no "reconnecting" line for our close
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
  }
  if (nats_options_ != nullptr) natsOptions_Destroy(nats_options_);
  // The library's own threads and memory (it is opened by the first options made).
  nats_CloseAndWait(2000);
}

void NatsJetStream::OnConnected(natsConnection* nc, void* closure) {
  auto* self = static_cast<NatsJetStream*>(closure);
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  spdlog::info("jetstream connected server={} stream={}", common::LogValue(RedactUrl(url)),
               common::LogValue(self->options_.stream));
}

void NatsJetStream::OnDisconnected(natsConnection*, void* closure) {
  auto* self = static_cast<NatsJetStream*>(closure);
  if (self->closing_.load(std::memory_order_acquire)) return;
  spdlog::warn("jetstream disconnected; reconnecting stream={}",
               common::LogValue(self->options_.stream));
}

void NatsJetStream::OnReconnected(natsConnection* nc, void* closure) {
  auto* self = static_cast<NatsJetStream*>(closure);
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  {
    common::MutexLock lock(self->mu_);
    ++self->state_.reconnects;
  }
  spdlog::info("jetstream reconnected server={}", common::LogValue(RedactUrl(url)));
}

absl::Status NatsJetStream::EnsureStream() {
  if (stream_ready_.load(std::memory_order_acquire)) return absl::OkStatus();
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js_, options_.stream.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    spdlog::info("jetstream stream found stream={} replicas={} duplicate_window={}",
                 common::LogValue(options_.stream), info->Config->Replicas,
                 absl::FormatDuration(absl::Nanoseconds(info->Config->Duplicates)));
    jsStreamInfo_Destroy(info);
    stream_ready_.store(true, std::memory_order_release);
    return absl::OkStatus();
  }
  if (code != JSStreamNotFoundErr) {
    return BrokerDown(absl::StrCat("jetstream: stream ", options_.stream, ": ", NatsError(s)));
  }
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  const char* subjects[] = {options_.subjects.c_str()};
  config.Name = options_.stream.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Replicas = options_.replicas;
  config.Duplicates = absl::ToInt64Nanoseconds(options_.duplicate_window);
  s = js_AddStream(&info, js_, &config, nullptr, &code);
  if (s != NATS_OK) {
    // E.g. more replicas than servers: retried (and logged) until an operator fixes it.
    return BrokerDown(absl::StrCat("jetstream: creating stream ", options_.stream, ": ",
                                   NatsError(s), " (code ", static_cast<int>(code), ")"));
  }
  jsStreamInfo_Destroy(info);
  spdlog::info("jetstream stream created stream={} subjects={} replicas={} duplicate_window={}",
               common::LogValue(options_.stream), common::LogValue(options_.subjects),
               options_.replicas, absl::FormatDuration(options_.duplicate_window));
  stream_ready_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

void NatsJetStream::Failed(const absl::Status& status) {
  common::MutexLock lock(mu_);
  state_.last_error = std::string(status.message());
  state_.last_error_at = absl::Now();
}

void NatsJetStream::OnAck(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  auto* self = static_cast<NatsJetStream*>(closure);
  const char* id = nullptr;
  if (natsMsgHeader_Get(msg, kMsgIdHeader, &id) != NATS_OK) id = nullptr;
  {
    common::MutexLock lock(self->mu_);
    if (ack != nullptr) {
      ++self->state_.acknowledged;
      if (ack->Duplicate) ++self->state_.duplicates;
    }
    auto it = id == nullptr ? self->waiting_.end() : self->waiting_.find(id);
    if (it != self->waiting_.end()) {
      absl::Status& result = self->results_[it->second];
      if (ack != nullptr) {
        result = absl::OkStatus();
      } else {
        ++self->state_.failures;
        const std::string text =
            absl::StrCat("jetstream: ", natsStatus_GetText(error->Err),
                         error->ErrText != nullptr ? absl::StrCat(": ", error->ErrText) : "");
        result = BrokerDown(text);
        if (error->ErrCode == JSStreamNotFoundErr || error->Err == NATS_NO_RESPONDERS) {
          self->stream_ready_.store(false, std::memory_order_release);
        }
      }
      self->waiting_.erase(it);
      if (self->waiting_.empty()) self->acked_.NotifyAll();
    }
  }
  natsMsg_Destroy(msg);
}

void NatsJetStream::PublishEach(absl::Span<const BrokerMessage> messages,
                                absl::Span<absl::Status> results) {
  common::MutexLock publishing(publish_mu_);
  auto fail_all = [&](const absl::Status& status) {
    for (absl::Status& result : results) result = status;
    Failed(status);
    common::MutexLock lock(mu_);
    state_.failures += static_cast<long long>(messages.size());
  };
  if (natsConnection_Status(connection_) != NATS_CONN_STATUS_CONNECTED) {
    fail_all(BrokerDown("jetstream: not connected to any server"));
    return;
  }
  if (absl::Status ready = EnsureStream(); !ready.ok()) {
    fail_all(ready);
    return;
  }
  {
    common::MutexLock lock(mu_);
    results_ = results;
    waiting_.clear();
    for (size_t i = 0; i < messages.size(); ++i) {
      results[i] = BrokerDown("jetstream: no acknowledgment in time");
      waiting_.emplace(messages[i].id, i);
    }
  }
  jsPubOptions publish;
  jsPubOptions_Init(&publish);
  publish.ExpectStream = options_.stream.c_str();  // refused if another stream took the subject
  publish.MaxWait = Millis(options_.ack_timeout);
  for (size_t i = 0; i < messages.size(); ++i) {
    const BrokerMessage& message = messages[i];
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, message.subject.c_str(), nullptr, message.data.data(),
                                  static_cast<int>(message.data.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, kMsgIdHeader, message.id.c_str());
    for (const auto& [key, value] : message.headers) {
      if (s == NATS_OK) s = natsMsgHeader_Set(msg, key.c_str(), value.c_str());
    }
    if (s == NATS_OK) s = js_PublishMsgAsync(js_, &msg, &publish);
    if (s == NATS_OK) published_async_ = true;
    natsMsg_Destroy(msg);  // a no-op once the library took it
    if (s != NATS_OK) {
      // Too large can never succeed; anything else is the connection's.
      const absl::Status failed =
          s == NATS_MAX_PAYLOAD
              ? absl::InvalidArgumentError(absl::StrCat("jetstream: ", NatsError(s)))
              : BrokerDown(absl::StrCat("jetstream: publish: ", NatsError(s)));
      common::MutexLock lock(mu_);
      if (waiting_.erase(message.id) > 0) {
        results[i] = failed;
        ++state_.failures;
      }
      state_.last_error = std::string(failed.message());
      state_.last_error_at = absl::Now();
    }
  }
  bool late = false;
  {
    common::MutexLock lock(mu_);
    acked_.AwaitFor(mu_, options_.ack_timeout + absl::Milliseconds(200),
                    [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiting_.empty(); });
    late = !waiting_.empty();
    if (late) {
      state_.failures += static_cast<long long>(waiting_.size());
      state_.last_error = "jetstream: no acknowledgment in time";
      state_.last_error_at = absl::Now();
    }
    waiting_.clear();
    results_ = {};
  }
  if (late) {
    // Out of the window, so they cannot stall the next publishes; the lane publishes them again
    // (same ids: stored once). Not under mu_: the library calls OnAck holding its own lock.
    natsMsgList pending;
    if (js_PublishAsyncGetPendingList(&pending, js_) == NATS_OK) natsMsgList_Destroy(&pending);
  }
}

PublisherState NatsJetStream::state() const {
  PublisherState state;
  {
    common::MutexLock lock(mu_);
    state = state_;
    state.pending = static_cast<long long>(waiting_.size());
  }
  state.connected = natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
  if (state.connected) {
    char url[256] = {0};
    if (natsConnection_GetConnectedUrl(connection_, url, sizeof(url)) == NATS_OK) {
      state.server = RedactUrl(url);
    }
  }
  return state;
}

}  // namespace booking::clients
