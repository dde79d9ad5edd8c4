#pragma once

#include "app/config.h"
#include "openapi/openapi.h"

namespace booking::app {

// What the served OpenAPI document says beyond the protos' own descriptors: each operation's
// scope (by the flags), the protos' comments, the examples, and the answers particular to a
// method. The examples fit together: the write confirms the ticket the reads name, so a client
// (or the contract test) that calls each operation with its examples gets real answers.
openapi::OpenApiOptions OpenApiOptionsFor(const Config& config);

// The example ticket of the document's examples.
inline constexpr char kExampleTicketId[] = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

}  // namespace booking::app
