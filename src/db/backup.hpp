#pragma once
/// Portable, verified backups of every table, restorable into SQLite or PostgreSQL.
///
/// Format (JSON Lines, UTF-8), documented in docs/BACKUP_FORMAT.md:
///   {"format":"evald-backup","format_version":1,"schema_version":N,"created_at":...,...}
///   {"table":"users","columns":["id",...],"rows":R}
///   [value, value, ...]            one line per row, R of them
///   ...                            every table, parents before children
///   {"end":true,"tables":T,"rows":total,"sha256":"<hex of every byte before this line>"}

#include <cstdint>
#include <map>
#include <string>

#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::db {

constexpr int kBackupFormatVersion = 1;

struct BackupInfo {
  std::string path;
  std::uint64_t size_bytes = 0;
  std::string sha256;
  int format_version = 0;
  int schema_version = 0;
  std::string created_at;
  std::string source_engine;
  std::uint64_t rows = 0;
  std::map<std::string, std::uint64_t> table_rows;
};

/// SHA-256 of a whole file, hex (what sha256sum prints); empty when it cannot be read.
std::string sha256_file(const std::string& path);

/// Writes a consistent snapshot (one read transaction) to `path` via a temporary file and a
/// rename, so a crash never leaves a half-written file under the final name. Verifies it after.
Result<BackupInfo> write_backup(Database& db, const std::string& path,
                                const std::string& evald_version);

/// Reads the whole file and checks structure, counts and checksum; changes nothing.
Result<BackupInfo> verify_backup(const std::string& path);

struct RestoreOptions {
  bool force = false;  ///< replace the rows of a non-empty database
};

/// Verifies first; then restores every table in one transaction, or changes nothing.
Result<BackupInfo> restore_backup(Database& db, const std::string& path,
                                  const RestoreOptions& options);

}  // namespace evald::db
