#pragma once

#include <memory>

#include "db/database.hpp"

namespace evald::db {

std::unique_ptr<Database> open_sqlite(const DatabaseOptions& options, const Clock& clock);
std::unique_ptr<Database> open_postgres(const DatabaseOptions& options, const Clock& clock);

}  // namespace evald::db
