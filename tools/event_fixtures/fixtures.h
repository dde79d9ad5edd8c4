#pragma once

#include <vector>

#include "storage/event_store.h"

namespace booking::tools {

// Two stored events (one of each ticket event type) as today's service writes them: built by the
// event factory from an UpdateTicketsStatus request and turned into the log's records, whose
// `payload` is what the events table keeps. Fixed, recognisable values; see
// tests/protos/fixtures/README.md.
std::vector<storage::EventRecord> FixtureRecords();

}  // namespace booking::tools
