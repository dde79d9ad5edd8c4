#pragma once

#include <vector>

#include "storage/connection_pool.h"

namespace booking::storage {

// Every statement the PostgreSQL repositories prepare, for a pool they share.
std::vector<PreparedStatement> AllPreparedStatements();

}  // namespace booking::storage
