#pragma once

#include <exception>

#include "absl/status/status.h"

namespace booking::storage {

// Turns an exception thrown by libpqxx into a status that says whether a retry can help:
// UNAVAILABLE (connection lost, server shutting down), DEADLINE_EXCEEDED (statement timeout),
// ABORTED (serialization failure, deadlock) are retryable; INVALID_ARGUMENT, ALREADY_EXISTS,
// FAILED_PRECONDITION and INTERNAL are not.
absl::Status StatusFromPgException(const std::exception& e);

// The connection was lost while a statement (or its commit) was in flight, so whether it took
// effect is unknown. Set by ConnectionPool; a failure to connect at all is not marked.
absl::Status MarkOutcomeUnknown(absl::Status status);
bool IsOutcomeUnknown(const absl::Status& status);

// The transaction committed, but what it returned could not be read: a caller must answer that
// its writes happened, never that nothing did.
absl::Status MarkCommitted(absl::Status status);
bool IsCommitted(const absl::Status& status);

// True when the connection that threw `e` must not be reused (lost, terminated, or in an unknown
// state); the pool then opens a new one on the next checkout.
bool BreaksConnection(const std::exception& e);

}  // namespace booking::storage
