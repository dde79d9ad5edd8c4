#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace booking::testing {

// What the fake received, as it received it.
struct RecordedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool faulted = false;  // answered with an injected fault
  absl::Time received_at;
};

enum class Fault {
  kStatus500,   // answers 500
  kSlow,        // does the work, then answers after slow_delay (past the client's timeout)
  kDrop,        // closes the connection without answering
  kHostile400,  // answers 400 with a body written to forge log fields (kHostileBody)
};

// What a hostile or broken API answers with kHostile400: quotes, a newline and `key=value`
// pairs that would become fields of the log line if written as they are.
inline constexpr char kHostileBody[] = "bad\" status=200 forged=\"yes\nlevel=info injected=1";

// The receipts and spreadsheets APIs as one real HTTP/1.1 server (Boost.Beast) on 127.0.0.1, in
// the test process, with switches to fail. Receipts: `PUT /receipts` answers 201 with a new
// number, or 200 with the same number for a known idempotency key. Sheets:
// `POST /sheets/{sheet}/rows` with four columns answers 201.
class FakeExternalApis {
 public:
  FakeExternalApis();
  ~FakeExternalApis();
  FakeExternalApis(const FakeExternalApis&) = delete;
  FakeExternalApis& operator=(const FakeExternalApis&) = delete;

  std::string url() const;  // "http://127.0.0.1:<port>"

  // The next `count` requests get `fault`.
  void FailNext(int count, Fault fault);
  // From now on every request fails with these probabilities (500 first, then slow), drawn from
  // a generator seeded with `seed`.
  void FailRandomly(double p500, double p_slow, unsigned seed);
  // Back to answering every request normally.
  void ClearFaults();
  void set_slow_delay(absl::Duration delay) { slow_delay_ms_ = absl::ToInt64Milliseconds(delay); }
  // Every answer that is not a fault comes after `delay`: a healthy but slow API.
  void set_answer_delay(absl::Duration delay) {
    answer_delay_ms_ = absl::ToInt64Milliseconds(delay);
  }
  // Every answer that is not a fault waits until `count` requests have been in flight at once
  // (or `bound` passed): proof that a client sends them concurrently, however slow the machine.
  void HoldAnswersUntilInFlight(int count, absl::Duration bound) {
    hold_bound_ms_ = absl::ToInt64Milliseconds(bound);
    hold_in_flight_ = count;
  }
  // While refusing, every connection is reset as soon as it is made (open ones are cut): a
  // client fails at once, as against a port nobody listens on.
  void SetRefusing(bool refusing);
  // Most requests the fake was working on at the same moment, and how many it is now.
  int max_in_flight() const;
  int in_flight() const;
  // From now on every request whose body names `ticket_id` is answered with `status` and
  // `body` (and does nothing): an API that refuses one ticket, e.g. its own validation bug.
  void FailTicket(const std::string& ticket_id, int status, std::string body);
  void ClearTicketFaults();

  std::vector<RecordedRequest> requests() const;
  int connections() const;  // TCP connections accepted so far
  std::vector<RecordedRequest> requests_to(const std::string& target_prefix) const;
  // Receipts that exist (one per idempotency key), and rows per sheet as [columns...].
  std::map<std::string, std::string> receipts_by_key() const;
  std::vector<std::vector<std::string>> rows(const std::string& sheet) const;

 private:
  struct Server;
  std::unique_ptr<Server> server_;
  std::atomic<long long> slow_delay_ms_{2000};
  std::atomic<long long> answer_delay_ms_{0};
  std::atomic<int> hold_in_flight_{0};
  std::atomic<long long> hold_bound_ms_{0};
};

}  // namespace booking::testing
