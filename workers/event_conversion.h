#pragma once

#include "storage/event_store.h"
#include "workers/event.h"

namespace booking::workers {

// Between the pipeline's Event and the log's records.
storage::EventRecord ToEventRecord(const Event& event);
Event EventFromRecord(storage::EventRecord record);

}  // namespace booking::workers
