#include "tests/fakes/fake_external_apis.h"

#include <google/protobuf/util/json_util.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "external/v1/receipts.pb.h"
#include "external/v1/spreadsheets.pb.h"

namespace booking::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct FakeExternalApis::Server {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::atomic<bool> stopping{false};
  unsigned short port = 0;
  std::atomic<bool> refusing{false};
  std::atomic<int> in_flight{0};
  std::atomic<bool> accept_done{false};
  std::atomic<int> max_in_flight{0};

  mutable std::mutex mu;
  std::vector<std::thread> connection_threads;        // guarded by mu
  std::vector<std::shared_ptr<tcp::socket>> sockets;  // guarded by mu
  std::vector<RecordedRequest> requests;              // guarded by mu
  std::map<std::string, std::string> receipts;        // key -> number, guarded by mu
  std::map<std::string, std::vector<std::vector<std::string>>> rows;  // guarded by mu
  std::vector<Fault> queued_faults;                                   // guarded by mu
  // ticket id -> (HTTP status, body): every request naming it is answered so, guarded by mu
  std::map<std::string, std::pair<int, std::string>> ticket_faults;
  double p500 = 0, p_slow = 0;  // guarded by mu
  std::mt19937 random;          // guarded by mu
};

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response Answer(const Request& request, http::status status, std::string body) {
  Response response{status, request.version()};
  response.set(http::field::content_type, "application/json");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

}  // namespace

FakeExternalApis::FakeExternalApis() : server_(std::make_unique<Server>()) {
  Server& s = *server_;
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  s.acceptor.open(endpoint.protocol());
  s.acceptor.set_option(asio::socket_base::reuse_address(true));
  s.acceptor.bind(endpoint);
  s.acceptor.listen();
  s.port = s.acceptor.local_endpoint().port();
  s.accept_thread = std::thread([this] {
    Server& s = *server_;
    while (!s.stopping) {
      auto socket = std::make_shared<tcp::socket>(s.io);
      beast::error_code ec;
      s.acceptor.accept(*socket, ec);
      if (!ec && s.refusing && !s.stopping) {
        // Refused: reset at once (SO_LINGER 0), as a host with nothing on the port would.
        socket->set_option(asio::socket_base::linger(true, 0), ec);
        socket->close(ec);
        continue;
      }
      if (ec || s.stopping) break;
      std::lock_guard lock(s.mu);
      s.sockets.push_back(socket);
      s.connection_threads.emplace_back([this, socket] {
        Server& s = *server_;
        beast::flat_buffer buffer;
        while (!s.stopping) {
          Request request;
          beast::error_code ec;
          http::read(*socket, buffer, request, ec);
          if (ec) break;
          RecordedRequest recorded{std::string(request.method_string()),
                                   std::string(request.target()),
                                   {},
                                   request.body(),
                                   false,
                                   absl::Now()};
          for (const auto& field : request) {
            recorded.headers[absl::AsciiStrToLower(
                std::string(field.name_string().data(), field.name_string().size()))] =
                std::string(field.value());
          }
          std::optional<Fault> fault;
          std::optional<Response> response;
          {
            std::lock_guard lock(s.mu);
            if (!s.queued_faults.empty()) {
              fault = s.queued_faults.front();
              s.queued_faults.erase(s.queued_faults.begin());
            } else if (s.p500 > 0 || s.p_slow > 0) {
              const double draw = std::uniform_real_distribution<double>(0, 1)(s.random);
              if (draw < s.p500) {
                fault = Fault::kStatus500;
              } else if (draw < s.p500 + s.p_slow) {
                fault = Fault::kSlow;
              }
            }
            std::optional<std::pair<int, std::string>> ticket_fault;
            if (!fault.has_value()) {
              for (const auto& [ticket, answer] : s.ticket_faults) {
                if (absl::StrContains(request.body(), ticket)) ticket_fault = answer;
              }
            }
            recorded.faulted = fault.has_value() || ticket_fault.has_value();
            s.requests.push_back(recorded);
            if (fault == Fault::kDrop) break;
            const std::string target(request.target());
            if (ticket_fault.has_value()) {
              response = Answer(request, static_cast<http::status>(ticket_fault->first),
                                ticket_fault->second);
            } else if (fault == Fault::kHostile400) {
              response = Answer(request, http::status::bad_request, kHostileBody);
            } else if (fault == Fault::kStatus500) {
              response = Answer(request, http::status::internal_server_error,
                                R"({"error":"injected failure"})");
            } else if (request.method() == http::verb::put && target == "/receipts") {
              external::v1::IssueReceiptRequest body;
              if (!google::protobuf::util::JsonStringToMessage(request.body(), &body).ok() ||
                  body.idempotency_key().empty()) {
                response = Answer(request, http::status::bad_request, R"({"error":"bad body"})");
              } else {
                auto [it, created] = s.receipts.try_emplace(
                    body.idempotency_key(), absl::StrCat("F-", s.receipts.size() + 1));
                response = Answer(request, created ? http::status::created : http::status::ok,
                                  absl::StrCat(R"({"number":")", it->second,
                                               R"(","issued_at":"2026-11-24T12:00:00Z"})"));
              }
            } else if (request.method() == http::verb::post &&
                       absl::StartsWith(target, "/sheets/") && absl::EndsWith(target, "/rows")) {
              const std::string sheet = target.substr(8, target.size() - 8 - 5);
              external::v1::AppendRowRequest body;
              if (!google::protobuf::util::JsonStringToMessage(request.body(), &body).ok() ||
                  body.columns_size() != 4) {
                response = Answer(request, http::status::bad_request, R"({"error":"bad row"})");
              } else {
                s.rows[sheet].emplace_back(body.columns().begin(), body.columns().end());
                response = Answer(request, http::status::created, "{}");
              }
            } else {
              response = Answer(request, http::status::not_found, R"({"error":"no route"})");
            }
          }
          const int now_in_flight = ++s.in_flight;
          for (int seen = s.max_in_flight.load();
               now_in_flight > seen &&
               !s.max_in_flight.compare_exchange_weak(seen, now_in_flight);) {
          }
          const long long delay_ms = fault == Fault::kSlow ? slow_delay_ms_.load()
                                     : fault.has_value()   ? 0
                                                           : answer_delay_ms_.load();
          if (delay_ms > 0) {
            const absl::Time until = absl::Now() + absl::Milliseconds(delay_ms);
            while (!s.stopping && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
          }
          if (const int hold = hold_in_flight_.load(); hold > 0 && !fault.has_value()) {
            const absl::Time until = absl::Now() + absl::Milliseconds(hold_bound_ms_.load());
            while (!s.stopping && s.max_in_flight.load() < hold && absl::Now() < until) {
              absl::SleepFor(absl::Milliseconds(5));
            }
          }
          --s.in_flight;
          http::write(*socket, *response, ec);
          if (ec || !request.keep_alive()) break;
        }
        // A bare shutdown(2), not socket->close(): the destructor may be shutting this socket
        // down from its own thread, and asio socket objects are not thread-safe. The
        // descriptors are closed when the sockets are destroyed, after every thread is joined.
        ::shutdown(socket->native_handle(), SHUT_RDWR);
      });
    }
    s.accept_done = true;
  });
}

void FakeExternalApis::SetRefusing(bool refusing) {
  Server& s = *server_;
  s.refusing = refusing;
  if (!refusing) return;
  // Connections already open are cut, so no kept-alive connection slips past.
  std::lock_guard lock(s.mu);
  for (auto& open : s.sockets) ::shutdown(open->native_handle(), SHUT_RDWR);
}

int FakeExternalApis::max_in_flight() const { return server_->max_in_flight.load(); }

int FakeExternalApis::in_flight() const { return server_->in_flight.load(); }

void FakeExternalApis::FailTicket(const std::string& ticket_id, int status, std::string body) {
  std::lock_guard lock(server_->mu);
  server_->ticket_faults[ticket_id] = {status, std::move(body)};
}

void FakeExternalApis::ClearTicketFaults() {
  std::lock_guard lock(server_->mu);
  server_->ticket_faults.clear();
}

FakeExternalApis::~FakeExternalApis() {
  Server& s = *server_;
  s.refusing = false;
  s.stopping = true;
  beast::error_code ignored;
  // Unblock accept() with a connection of our own, then every reader by shutting its socket.
  for (int i = 0; i < 500 && !s.accept_done; ++i) {
    tcp::socket poke(s.io);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port), ignored);
    absl::SleepFor(absl::Milliseconds(10));
  }
  s.accept_thread.join();
  s.acceptor.close(ignored);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(s.mu);
    for (auto& socket : s.sockets) ::shutdown(socket->native_handle(), SHUT_RDWR);
    threads.swap(s.connection_threads);
  }
  for (auto& thread : threads) thread.join();
}

std::string FakeExternalApis::url() const {
  return absl::StrCat("http://127.0.0.1:", server_->port);
}

void FakeExternalApis::FailNext(int count, Fault fault) {
  std::lock_guard lock(server_->mu);
  for (int i = 0; i < count; ++i) server_->queued_faults.push_back(fault);
}

void FakeExternalApis::ClearFaults() {
  std::lock_guard lock(server_->mu);
  server_->queued_faults.clear();
  server_->p500 = 0;
  server_->p_slow = 0;
}

void FakeExternalApis::FailRandomly(double p500, double p_slow, unsigned seed) {
  std::lock_guard lock(server_->mu);
  server_->p500 = p500;
  server_->p_slow = p_slow;
  server_->random.seed(seed);
}

int FakeExternalApis::connections() const {
  std::lock_guard lock(server_->mu);
  return static_cast<int>(server_->sockets.size());
}

std::vector<RecordedRequest> FakeExternalApis::requests() const {
  std::lock_guard lock(server_->mu);
  return server_->requests;
}

std::vector<RecordedRequest> FakeExternalApis::requests_to(const std::string& prefix) const {
  std::vector<RecordedRequest> out;
  for (auto& request : requests()) {
    if (absl::StartsWith(request.target, prefix)) out.push_back(std::move(request));
  }
  return out;
}

std::map<std::string, std::string> FakeExternalApis::receipts_by_key() const {
  std::lock_guard lock(server_->mu);
  return server_->receipts;
}

std::vector<std::vector<std::string>> FakeExternalApis::rows(const std::string& sheet) const {
  std::lock_guard lock(server_->mu);
  auto it = server_->rows.find(sheet);
  return it == server_->rows.end() ? std::vector<std::vector<std::string>>{} : it->second;
}

}  // namespace booking::testing
