// The schema, as versioned migrations. Names follow DESIGN.md: one name for one thing across
// proto, SQL, C++ and logs.
#include "storage/migrations.h"

namespace booking::storage {
namespace {

constexpr std::string_view kCreateTickets = R"sql(
CREATE TABLE tickets (
  ticket_id           UUID PRIMARY KEY,
  price_amount        NUMERIC(10,2) NOT NULL,
  price_currency      CHAR(3) NOT NULL,
  customer_email      VARCHAR(255) NOT NULL,
  status              TEXT NOT NULL CHECK (status IN ('confirmed', 'canceled')),
  booking_id          UUID,
  -- Publish order (event log sequence) of the last event applied to the row: an older event
  -- arriving late never undoes a newer one.
  last_event_sequence BIGINT NOT NULL,
  created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
)sql";

constexpr Migration kMigrations[] = {
    {1, "create tickets", kCreateTickets},
};

}  // namespace

absl::Span<const Migration> SchemaMigrations() { return kMigrations; }

}  // namespace booking::storage
