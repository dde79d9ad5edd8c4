#pragma once

#include <string>

namespace booking::domain {

// One row of a tracker sheet, from one event.
struct TrackerRow {
  std::string event_id;
  std::string ticket_id;
  std::string customer_email;
  std::string price_amount;
  std::string price_currency;
  std::string correlation_id;
};

}  // namespace booking::domain
