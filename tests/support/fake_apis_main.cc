// fake-apis: the tests' fake receipts and spreadsheets APIs (tests/fakes) as a process of their
// own, for measuring the real binary against slow APIs (tools/bench_slow_apis.sh).
//
//   fake-apis [--answer_delay=250ms]
//
// Prints "receipts_url=... spreadsheets_url=..." on its first line, then once a second a line of
// figures: calls each API is answering now and at most so far, receipts issued and rows
// appended. Runs until its standard input closes (so it never outlives the script that reads
// it) or it gets SIGTERM/SIGINT.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "tests/fakes/fake_external_apis.h"

namespace {

volatile sig_atomic_t stop = 0;

void OnSignal(int) { stop = 1; }

// True when stdin has closed (EOF or error); waits at most `timeout`.
bool InputClosed(absl::Duration timeout) {
  pollfd input{STDIN_FILENO, POLLIN, 0};
  if (poll(&input, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) return false;
  char buffer[256];
  return read(STDIN_FILENO, buffer, sizeof(buffer)) <= 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::Duration delay = absl::Milliseconds(250);
  for (int i = 1; i < argc; ++i) {
    constexpr char kDelay[] = "--answer_delay=";
    if (std::strncmp(argv[i], kDelay, sizeof(kDelay) - 1) != 0 ||
        !absl::ParseDuration(argv[i] + sizeof(kDelay) - 1, &delay)) {
      std::fprintf(stderr, "usage: fake-apis [--answer_delay=250ms]\n");
      return 2;
    }
  }
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  booking::testing::FakeExternalApis receipts, sheets;
  receipts.set_answer_delay(delay);
  sheets.set_answer_delay(delay);
  std::printf("receipts_url=%s spreadsheets_url=%s\n", receipts.url().c_str(),
              sheets.url().c_str());
  std::fflush(stdout);
  const absl::Time start = absl::Now();
  while (!stop && !InputClosed(absl::Seconds(1))) {
    size_t rows = 0;
    for (const char* sheet : {"tickets-to-print", "tickets-to-refund"}) {
      rows += sheets.rows(sheet).size();
    }
    std::printf(
        "t=%.1f receipts_in_flight=%d receipts_peak=%d sheets_in_flight=%d sheets_peak=%d "
        "receipts=%zu rows=%zu\n",
        absl::ToDoubleSeconds(absl::Now() - start), receipts.in_flight(), receipts.max_in_flight(),
        sheets.in_flight(), sheets.max_in_flight(), receipts.receipts_by_key().size(), rows);
    std::fflush(stdout);
  }
  return 0;
}
