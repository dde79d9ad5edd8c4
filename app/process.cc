#include "app/process.h"

#include <sys/resource.h>

#include <ctime>

#include "spdlog/spdlog.h"

namespace booking::app {

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // reloads the token file
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int WaitForStopSignal(const sigset_t& signals, const std::function<void()>& on_hangup) {
  while (true) {
    timespec timeout{1, 0};
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal == SIGHUP) {
      on_hangup();
    } else if (signal > 0) {
      return signal;
    }
  }
}

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::info("open file limit raised from={} to={}", before, limit.rlim_cur);
  }
}

}  // namespace booking::app
