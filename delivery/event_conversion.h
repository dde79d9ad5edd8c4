#pragma once

#include "domain/event.h"
#include "storage/event_store.h"

namespace booking::workers {

// Between the pipeline's Event and the log's records.
storage::EventRecord ToEventRecord(const Event& event);
Event EventFromRecord(storage::EventRecord record);

}  // namespace booking::workers
