#include "db/backup.hpp"

#include <sodium.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "db/migrations.hpp"

namespace evald::db {
namespace {

namespace json = boost::json;

ApiError backup_error(std::string message) {
  return ApiError{ErrorCode::kValidationError, std::move(message), {}, 0, {}};
}

ApiError io_error(std::string message) {
  ApiError e{ErrorCode::kInternalServerError, std::move(message), {}, 0, {}};
  e.internal_detail = e.message;
  return e;
}

class Sha256 {
 public:
  Sha256() { crypto_hash_sha256_init(&state_); }
  void update(std::string_view s) {
    crypto_hash_sha256_update(&state_, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  }
  std::string hex() {
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state_, out);
    return to_hex(out, sizeof out);
  }

 private:
  crypto_hash_sha256_state state_{};
};

json::value to_json(const Value& v) {
  switch (v.index()) {
    case 1:
      return std::get<1>(v);
    case 2:
      return std::get<2>(v);
    case 3:
      return json::string(std::get<3>(v));
    default:
      return nullptr;
  }
}

Value from_json(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return static_cast<std::int64_t>(v.as_uint64());
  if (v.is_double()) return v.as_double();
  if (v.is_string()) return std::string(v.as_string());
  return std::monostate{};
}

bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

struct ParsedTable {
  std::string name;
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
};

struct Parsed {
  BackupInfo info;
  std::vector<ParsedTable> tables;
};

// Reads and checks the whole file before anything is touched.
Result<Parsed> parse_backup(const std::string& path, bool keep_rows) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return backup_error("cannot read backup file '" + path + "'");
  Parsed p;
  p.info.path = path;
  Sha256 hash;
  std::string line;
  std::size_t line_no = 0;
  bool have_header = false, have_end = false;
  ParsedTable* current = nullptr;
  std::uint64_t expected_rows_in_table = 0, seen_rows_in_table = 0, total = 0;
  auto where = [&] { return " (line " + std::to_string(line_no) + ")"; };
  auto close_table = [&]() -> std::optional<ApiError> {
    if (current && seen_rows_in_table != expected_rows_in_table) {
      return backup_error("backup is truncated or altered: table '" + current->name + "' has " +
                          std::to_string(seen_rows_in_table) + " rows, header says " +
                          std::to_string(expected_rows_in_table));
    }
    return std::nullopt;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (have_end) return backup_error("backup has data after its end marker" + where());
    json::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec) return backup_error("backup is corrupt: not JSON" + where());
    if (!have_header) {
      const auto* o = v.if_object();
      const auto* format = o ? o->if_contains("format") : nullptr;
      if (!format || !format->is_string() || format->as_string() != "evald-backup") {
        return backup_error("not an evald backup file");
      }
      p.info.format_version = static_cast<int>(o->at("format_version").to_number<std::int64_t>());
      if (p.info.format_version != kBackupFormatVersion) {
        return backup_error("unsupported backup format version " +
                            std::to_string(p.info.format_version) + " (this evald reads " +
                            std::to_string(kBackupFormatVersion) + ")");
      }
      p.info.schema_version = static_cast<int>(o->at("schema_version").to_number<std::int64_t>());
      if (const auto* c = o->if_contains("created_at")) p.info.created_at = c->as_string().c_str();
      if (const auto* e = o->if_contains("source_engine")) {
        p.info.source_engine = e->as_string().c_str();
      }
      have_header = true;
      hash.update(line);
      hash.update("\n");
      continue;
    }
    if (const auto* arr = v.if_array()) {
      if (!current) return backup_error("backup is corrupt: row before any table" + where());
      if (arr->size() != current->columns.size()) {
        return backup_error("backup is corrupt: row width differs from its table" + where());
      }
      ++seen_rows_in_table;
      ++total;
      if (keep_rows) {
        std::vector<Value> row;
        row.reserve(arr->size());
        for (const auto& cell : *arr) row.push_back(from_json(cell));
        current->rows.push_back(std::move(row));
      }
      hash.update(line);
      hash.update("\n");
      continue;
    }
    const auto* o = v.if_object();
    if (!o) return backup_error("backup is corrupt" + where());
    if (o->contains("end")) {
      if (auto e = close_table()) return *e;
      const std::string want = o->contains("sha256") ? o->at("sha256").as_string().c_str() : "";
      const std::string got = hash.hex();
      if (want.size() != got.size() || sodium_memcmp(want.data(), got.data(), got.size()) != 0) {
        return backup_error("backup checksum does not match: the file was altered or damaged");
      }
      if (!o->contains("rows") || o->at("rows").to_number<std::uint64_t>() != total) {
        return backup_error("backup is truncated or altered: row total differs");
      }
      p.info.sha256 = got;
      p.info.rows = total;
      have_end = true;
      continue;
    }
    if (o->contains("table")) {
      if (auto e = close_table()) return *e;
      ParsedTable t;
      t.name = o->at("table").as_string().c_str();
      if (!is_identifier(t.name)) return backup_error("backup names an invalid table" + where());
      for (const auto& c : o->at("columns").as_array()) {
        std::string col = c.as_string().c_str();
        if (!is_identifier(col)) return backup_error("backup names an invalid column" + where());
        t.columns.push_back(std::move(col));
      }
      expected_rows_in_table = o->at("rows").to_number<std::uint64_t>();
      seen_rows_in_table = 0;
      p.info.table_rows[t.name] = expected_rows_in_table;
      p.tables.push_back(std::move(t));
      current = &p.tables.back();
      hash.update(line);
      hash.update("\n");
      continue;
    }
    return backup_error("backup is corrupt: unknown record" + where());
  }
  if (!have_header) return backup_error("backup file is empty");
  if (!have_end) return backup_error("backup is truncated: no end marker");
  std::error_code fec;
  p.info.size_bytes = std::filesystem::file_size(path, fec);
  return p;
}

}  // namespace

Result<BackupInfo> verify_backup(const std::string& path) {
  try {
    auto p = parse_backup(path, false);
    if (!p) return std::move(p).error();
    return std::move(p->info);
  } catch (const std::exception& e) {  // a field of the wrong JSON type
    return backup_error(std::string("backup is corrupt: ") + e.what());
  }
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  Sha256 hash;
  std::string buf(1 << 16, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    hash.update(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
  }
  return hash.hex();
}

Result<BackupInfo> write_backup(Database& db, const std::string& path,
                                const std::string& evald_version) {
  const std::string tmp = path + ".partial";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return io_error("cannot write backup file '" + tmp + "'");
  Sha256 hash;
  std::uint64_t total = 0;
  auto emit = [&](const std::string& line) {
    out << line << '\n';
    hash.update(line);
    hash.update("\n");
  };
  auto version = current_schema_version(db);
  if (!version) return std::move(version).error();

  auto st = db.read([&](Tx& tx) -> Status {
    json::object header;
    header["format"] = "evald-backup";
    header["format_version"] = kBackupFormatVersion;
    header["schema_version"] = *version;
    header["created_at"] = format_iso8601(std::chrono::system_clock::now(), true);
    header["source_engine"] = to_string(db.engine());
    header["evald_version"] = evald_version;
    emit(json::serialize(header));
    for (const auto& table : tables_in_dependency_order()) {
      auto rows = tx.query("SELECT * FROM " + table + " ORDER BY 1, 2");
      if (!rows) return std::move(rows).error();
      json::object th;
      th["table"] = table;
      json::array cols;
      for (const auto& c : rows->columns) cols.emplace_back(c);
      th["columns"] = std::move(cols);
      th["rows"] = rows->size();
      emit(json::serialize(th));
      for (const auto& row : rows->rows) {
        json::array a;
        a.reserve(row.size());
        for (const auto& cell : row) a.push_back(to_json(cell));
        emit(json::serialize(a));
      }
      total += rows->size();
    }
    return Ok{};
  });
  if (!st) {
    out.close();
    std::filesystem::remove(tmp);
    return st.error();
  }
  json::object end;
  end["end"] = true;
  end["tables"] = tables_in_dependency_order().size();
  end["rows"] = total;
  end["sha256"] = hash.hex();
  out << json::serialize(end) << '\n';
  out.flush();
  const bool ok = static_cast<bool>(out);
  out.close();
  if (!ok) {
    std::filesystem::remove(tmp);
    return io_error("writing backup file '" + tmp + "' failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return io_error("cannot move backup into place: " + ec.message());
  return verify_backup(path);
}

Result<BackupInfo> restore_backup(Database& db, const std::string& path,
                                  const RestoreOptions& options) {
  Result<Parsed> parsed = backup_error("unreadable");
  try {
    parsed = parse_backup(path, true);
  } catch (const std::exception& e) {
    return backup_error(std::string("backup is corrupt: ") + e.what());
  }
  if (!parsed) return std::move(parsed).error();
  const int backup_version = parsed->info.schema_version;
  if (backup_version > latest_schema_version()) {
    return backup_error("backup schema version " + std::to_string(backup_version) +
                        " is newer than this evald (" + std::to_string(latest_schema_version()) +
                        "); restore it with a newer evald");
  }
  const auto& known = tables_in_dependency_order();
  for (const auto& t : parsed->tables) {
    if (std::find(known.begin(), known.end(), t.name) == known.end()) {
      return backup_error("backup holds table '" + t.name + "' that this schema does not have");
    }
  }
  auto current = current_schema_version(db);
  if (!current) return std::move(current).error();
  if (*current > backup_version) {
    return backup_error("backup schema version " + std::to_string(backup_version) +
                        " is older than the database's (" + std::to_string(*current) +
                        "); restore into an empty database");
  }
  if (auto m = migrate(db, backup_version); !m) return std::move(m).error();

  // Refuse to overwrite data unless told to.
  for (const auto& t : known) {
    auto rows = db.query("SELECT 1 FROM " + t + " LIMIT 1");
    if (!rows) return std::move(rows).error();
    if (!rows->empty() && !options.force) {
      return backup_error("the database is not empty (table '" + t +
                          "' has rows); restore with --force to replace its contents");
    }
  }

  auto st = db.write([&](Tx& tx) -> Status {
    if (db.engine() == Engine::kSqlite) {
      if (auto s = tx.script("PRAGMA defer_foreign_keys = ON"); !s) return s;
    }
    for (auto it = known.rbegin(); it != known.rend(); ++it) {
      if (auto d = tx.exec("DELETE FROM " + *it); !d) return std::move(d).error();
    }
    for (const auto& t : parsed->tables) {
      std::string sql = "INSERT INTO " + t.name + " (";
      std::string values;
      for (std::size_t i = 0; i < t.columns.size(); ++i) {
        sql += (i ? ", " : "") + t.columns[i];
        values += (i ? ", $" : "$") + std::to_string(i + 1);
      }
      sql += ") VALUES (" + values + ")";
      if (auto r = tx.exec_many(sql, t.rows); !r) return r;
      auto count = tx.query("SELECT COUNT(*) AS n FROM " + t.name);
      if (!count) return std::move(count).error();
      if (static_cast<std::uint64_t>(count->integer(0, "n")) != t.rows.size()) {
        return backup_error("restore of table '" + t.name + "' did not produce the backup's rows");
      }
    }
    return Ok{};
  });
  if (!st) return st.error();
  if (auto m = migrate(db); !m) return std::move(m).error();
  return std::move(parsed->info);
}

}  // namespace evald::db
