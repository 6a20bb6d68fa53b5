// The backup file reader (src/db/backup.*): arbitrary bytes as a backup file, verified, and
// when it verifies, restored into a scratch SQLite database.
//
// The end marker carries a SHA-256 of everything before it, which the fuzzer cannot compute.
// So an input whose last line is not an end marker is sealed first: the harness appends the
// marker with the right checksum and row total, and the restore is reached. An input that has
// its own end marker is read as it is (checksum and truncation checks).
//
// Properties: no crash or UB; verify and restore agree (a file restore accepts verifies); a
// restore either fails and leaves the database as it was (schema at the latest version) or
// succeeds with every foreign key satisfied and the database backed up again and verified.

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "common/scratch.hpp"
#include "core/clock.hpp"
#include "core/ids.hpp"
#include "db/backup.hpp"
#include "db/database.hpp"
#include "db/migrations.hpp"

namespace {

using namespace evald;
using fuzz::broken;

RealClock clock_;
std::unique_ptr<db::Database> database;
int generation = 0;

std::string path_in_scratch(const std::string& name) { return fuzz::scratch_dir() + "/" + name; }

void open_fresh_database() {
  database.reset();
  ++generation;
  db::DatabaseOptions o;
  o.url = "sqlite://" + path_in_scratch("restore-" + std::to_string(generation) + ".db");
  o.readers = 1;
  database = db::open_database(o, clock_);
  if (generation > 1) {
    std::error_code ec;
    const auto old = path_in_scratch("restore-" + std::to_string(generation - 1) + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(old + suffix, ec);
  }
}

std::string sha256_hex(std::string_view s) {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  return to_hex(out, sizeof out);
}

// The content with a correct end marker, unless its last line already is one.
std::string sealed(std::string_view input) {
  std::string text(input);
  std::string_view trimmed = input;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.remove_suffix(1);
  const auto last_nl = trimmed.rfind('\n');
  const auto last = trimmed.substr(last_nl == std::string_view::npos ? 0 : last_nl + 1);
  if (last.find("\"end\"") != std::string_view::npos) return text;
  if (!text.empty() && text.back() != '\n') text += '\n';
  std::size_t rows = 0;
  bool first = true;
  for (std::size_t pos = 0; pos < text.size();) {
    const auto nl = text.find('\n', pos);
    const auto line = std::string_view(text).substr(pos, nl - pos);
    const auto start = line.find_first_not_of(" \t\r");
    if (!first && start != std::string_view::npos && line[start] == '[') ++rows;
    first = false;
    pos = nl + 1;
  }
  return text + R"({"end":true,"tables":0,"rows":)" + std::to_string(rows) + R"(,"sha256":")" +
         sha256_hex(text) + "\"}\n";
}

int schema_version() {
  auto v = db::current_schema_version(*database);
  if (!v) broken("the scratch database cannot be read: " + v.error().message);
  return *v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_quiet_logging();
  if (sodium_init() < 0) return 1;
  open_fresh_database();
  if (auto m = db::migrate(*database); !m) broken("migrate: " + m.error().message);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = path_in_scratch("input.backup");
  const std::string text = sealed(std::string_view(reinterpret_cast<const char*>(data), size));
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  const auto verified = db::verify_backup(path);
  if (!verified) return 0;
  const int version = verified->schema_version;
  if (version < 1 || version > db::latest_schema_version()) return 0;
  // An older backup is restored into an empty database (then migrated up): start one.
  if (version < db::latest_schema_version()) open_fresh_database();

  db::RestoreOptions force;
  force.force = true;
  const auto restored = db::restore_backup(*database, path, force);
  if (schema_version() != db::latest_schema_version() && restored) {
    broken("a restore succeeded but left the schema behind", text);
  }
  if (!restored) {
    if (version == db::latest_schema_version() && schema_version() != version) {
      broken("a failed restore changed the schema version", text);
    }
    if (version < db::latest_schema_version()) {
      open_fresh_database();
      if (auto m = db::migrate(*database); !m) broken("migrate: " + m.error().message);
    }
    return 0;
  }
  auto fk = database->query("PRAGMA foreign_key_check");
  if (!fk || !fk->empty()) broken("a restore left rows whose foreign keys do not hold", text);
  const std::string again = path_in_scratch("again.backup");
  auto written = db::write_backup(*database, again, "fuzz");
  if (!written) broken("the restored database cannot be backed up: " + written.error().message);
  if (version == db::latest_schema_version() && written->rows != verified->rows)
    broken("the restored database has other rows", text);
  return 0;
}
