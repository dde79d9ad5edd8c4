#include "tests/support/nats_cluster.h"

#include <nats/nats.h>
#include <stdlib.h>

#include <filesystem>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace booking::testing {
namespace {

constexpr char kNatsServer[] = "/usr/sbin/nats-server";

std::string Text(natsStatus s) {
  return s == NATS_OK ? "OK"
                      : absl::StrCat(natsStatus_GetText(s), ": ", nats_GetLastError(nullptr));
}

// A connection and a JetStream context, closed together.
struct Client {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ~Client() {
    if (js != nullptr) jsCtx_Destroy(js);
    if (nc != nullptr) natsConnection_Destroy(nc);
  }
};

absl::Status Connect(const std::string& urls, Client& client) {
  natsOptions* options = nullptr;
  if (natsOptions_Create(&options) != NATS_OK) return absl::InternalError("natsOptions_Create");
  absl::Cleanup destroy = [&] { natsOptions_Destroy(options); };
  std::vector<std::string> servers = absl::StrSplit(urls, ',');
  std::vector<const char*> raw;
  for (const std::string& s : servers) raw.push_back(s.c_str());
  natsOptions_SetServers(options, raw.data(), static_cast<int>(raw.size()));
  natsOptions_SetTimeout(options, 1000);
  if (natsStatus s = natsConnection_Connect(&client.nc, options); s != NATS_OK) {
    return absl::UnavailableError(absl::StrCat("connect ", urls, ": ", Text(s)));
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = 5000;
  if (natsStatus s = natsConnection_JetStream(&client.js, client.nc, &js_options); s != NATS_OK) {
    return absl::InternalError(absl::StrCat("jetstream context: ", Text(s)));
  }
  return absl::OkStatus();
}

std::string Header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK || value == nullptr) return "";
  return value;
}

// Connects `client` and reads the stream's info (the caller destroys it).
absl::StatusOr<jsStreamInfo*> StreamInfo(const std::string& urls, const std::string& stream,
                                         Client& client) {
  if (absl::Status status = Connect(urls, client); !status.ok()) return status;
  jsStreamInfo* info = nullptr;
  jsErrCode code;
  if (natsStatus s = js_GetStreamInfo(&info, client.js, stream.c_str(), nullptr, &code);
      s != NATS_OK) {
    return absl::NotFoundError(absl::StrCat("stream ", stream, ": ", Text(s)));
  }
  return info;
}

}  // namespace

NatsCluster::NatsCluster(int nodes, std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
  char pattern[] = "/tmp/booking-nats-XXXXXX";
  dir_ = mkdtemp(pattern);
  for (int i = 0; i < nodes; ++i) {
    ports_.push_back(PickFreePort());
    cluster_ports_.push_back(PickFreePort());
  }
  nodes_.resize(nodes);
}

NatsCluster::~NatsCluster() {
  nodes_.clear();  // SIGKILL
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string NatsCluster::url(int i) const { return absl::StrCat("nats://127.0.0.1:", ports_[i]); }

std::string NatsCluster::urls() const {
  std::vector<std::string> all;
  for (int i = 0; i < size(); ++i) all.push_back(url(i));
  return absl::StrJoin(all, ",");
}

absl::Status NatsCluster::StartNode(int i) {
  std::vector<std::string> routes;
  for (int j = 0; j < size(); ++j) {
    if (j != i) routes.push_back(absl::StrCat("nats://127.0.0.1:", cluster_ports_[j]));
  }
  const std::string store = absl::StrCat(dir_, "/n", i);
  std::filesystem::create_directories(store);
  std::vector<std::string> args = {"-js",
                                   "-sd",
                                   store,
                                   "-a",
                                   "127.0.0.1",
                                   "-p",
                                   std::to_string(ports_[i]),
                                   "-n",
                                   absl::StrCat("n", i)};
  if (size() > 1) {  // one node runs JetStream standalone: a cluster of one waits for peers
    for (std::string arg :
         {std::string("--cluster_name"), std::string("booking-test"), std::string("--cluster"),
          absl::StrCat("nats://127.0.0.1:", cluster_ports_[i]), std::string("--routes"),
          absl::StrJoin(routes, ",")}) {
      args.push_back(std::move(arg));
    }
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  nodes_[i] =
      std::make_unique<ServerProcess>(kNatsServer, std::move(args), ServerProcess::Kind::kOther);
  return nodes_[i]->Start();
}

void NatsCluster::KillNode(int i) {
  if (nodes_[i] != nullptr) (void)nodes_[i]->Stop(SIGKILL, absl::Seconds(10));
}

absl::Status NatsCluster::Start() {
  for (int i = 0; i < size(); ++i) {
    if (absl::Status status = StartNode(i); !status.ok()) return status;
  }
  if (absl::Status ready = WaitUntilReady(absl::Seconds(30)); !ready.ok()) return ready;
  // JetStream answers with two nodes of three; a node whose port was taken between
  // PickFreePort and its bind has exited, and an R3 stream could then never be placed.
  for (int i = 0; i < size(); ++i) {
    if (!nodes_[i]->running()) {
      return absl::UnavailableError(
          absl::StrCat("nats node n", i, " exited (port taken?)\n", ReadLogs()));
    }
  }
  return absl::OkStatus();
}

absl::Status NatsCluster::WaitUntilReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::UnavailableError("not tried");
  while (absl::Now() < deadline) {
    Client client;
    last = Connect(urls(), client);
    if (last.ok()) {
      jsAccountInfo* info = nullptr;
      jsErrCode code;
      natsStatus s = js_GetAccountInfo(&info, client.js, nullptr, &code);
      if (s == NATS_OK) {
        jsAccountInfo_Destroy(info);
        return absl::OkStatus();
      }
      last = absl::UnavailableError(absl::StrCat("jetstream account info: ", Text(s)));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("nats cluster not ready: ", last.message(), "\n", ReadLogs()));
}

std::string NatsCluster::ReadLogs() const {
  std::string logs;
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i] == nullptr) continue;
    std::string log = nodes_[i]->ReadLog();
    if (log.size() > 4000) log = log.substr(log.size() - 4000);
    absl::StrAppend(&logs, "--- nats n", i, " ---\n", log);
  }
  return logs;
}

absl::StatusOr<std::vector<StreamMessage>> ReadStream(const std::string& urls,
                                                      const std::string& stream) {
  Client client;
  absl::StatusOr<jsStreamInfo*> info = StreamInfo(urls, stream, client);
  if (!info.ok()) return info.status();
  const uint64_t first = (*info)->State.FirstSeq, last = (*info)->State.LastSeq;
  jsStreamInfo_Destroy(*info);
  std::vector<StreamMessage> messages;
  for (uint64_t seq = first; seq <= last && last > 0; ++seq) {
    natsMsg* msg = nullptr;
    jsErrCode code;
    natsStatus s = js_GetMsg(&msg, client.js, stream.c_str(), seq, nullptr, &code);
    if (s == NATS_NOT_FOUND) continue;  // deleted
    if (s != NATS_OK) return absl::UnavailableError(absl::StrCat("get ", seq, ": ", Text(s)));
    StreamMessage message;
    message.stream_sequence = seq;
    message.subject = natsMsg_GetSubject(msg);
    message.msg_id = Header(msg, "Nats-Msg-Id");
    message.ticket_id = Header(msg, "Ticket-Id");
    message.event_type = Header(msg, "Event-Type");
    message.content_type = Header(msg, "Content-Type");
    message.correlation_id = Header(msg, "Correlation-ID");
    (void)absl::SimpleAtoi(Header(msg, "Event-Sequence"), &message.event_sequence);
    message.data.assign(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
    messages.push_back(std::move(message));
  }
  return messages;
}

absl::StatusOr<StreamConfig> ReadStreamConfig(const std::string& urls, const std::string& stream) {
  Client client;
  absl::StatusOr<jsStreamInfo*> info = StreamInfo(urls, stream, client);
  if (!info.ok()) return info.status();
  StreamConfig config;
  const jsStreamConfig& stored = *(*info)->Config;
  config.replicas = static_cast<int>(stored.Replicas);
  config.duplicate_window = absl::Nanoseconds(stored.Duplicates);
  for (int i = 0; i < stored.SubjectsLen; ++i) config.subjects.push_back(stored.Subjects[i]);
  jsStreamInfo_Destroy(*info);
  return config;
}

}  // namespace booking::testing
