#pragma once

#include <signal.h>

#include <functional>

namespace booking::app {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call before any thread starts, so all
// inherit the mask and only WaitForStopSignal receives them) and returns the set.
sigset_t BlockStopSignals();

// Waits for SIGINT or SIGTERM and returns its number; runs `on_hangup` for each SIGHUP meanwhile.
int WaitForStopSignal(const sigset_t& signals, const std::function<void()>& on_hangup);

// Each HTTP, gRPC and PostgreSQL connection is a descriptor; the usual soft limit of 1024 would run
// out below --max_http_connections. Raises it to the hard limit, which is the operator's.
void RaiseOpenFileLimit();

}  // namespace booking::app
