#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "domain/event.h"

namespace booking::server {

// A cancellation of a call that needs its ticket's confirmation from the history: none came
// before it in the same call.
struct CancellationToCheck {
  int index = 0;  // in the call's tickets
  std::string ticket_id;
};

// The cancellations of `events` (a call's, in its order) whose ticket no earlier event of the
// same call confirms. A confirmation after the cancellation does not count: the handlers apply
// them in order, so the refund would come first.
std::vector<CancellationToCheck> CancellationsToCheck(absl::Span<const domain::Event> events);

// Of `checked`, those whose ticket is not in `confirmed` (the history's answer).
std::vector<CancellationToCheck> Unconfirmed(std::vector<CancellationToCheck> checked,
                                             absl::Span<const std::string> confirmed);

// FAILED_PRECONDITION naming each ticket of `unconfirmed` (at least one), with a
// google.rpc.PreconditionFailure violation per ticket {TICKET_NOT_CONFIRMED, "tickets[i]"}.
absl::Status NeverConfirmed(absl::Span<const CancellationToCheck> unconfirmed);

}  // namespace booking::server
