#pragma once

#include "domain/event.h"
#include "storage/event_store.h"

namespace booking::delivery {

// Between the pipeline's Event and the log's records.
storage::EventRecord ToEventRecord(const domain::Event& event);
domain::Event EventFromRecord(storage::EventRecord record);

}  // namespace booking::delivery
