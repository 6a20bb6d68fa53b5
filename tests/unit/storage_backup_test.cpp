// Backups: every table, every value and its type survive SQLite -> PostgreSQL -> SQLite; damaged
// files are refused with a clear message and leave the target exactly as it was.

#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "db/backup.hpp"
#include "db/migrations.hpp"
#include "storage_support.hpp"

namespace evald::db::storage_test {
namespace {

namespace json = boost::json;
using Cols = std::vector<std::pair<std::string, Value>>;

Status insert_row(Tx& tx, const std::string& table, const Cols& cols) {
  std::string sql = "INSERT INTO " + table + " (";
  std::string values;
  Params params;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    sql += (i ? ", " : "") + cols[i].first;
    values += (i ? ", $" : "$") + std::to_string(i + 1);
    params.push_back(cols[i].second);
  }
  sql += ") VALUES (" + values + ")";
  auto r = tx.exec(sql, params);
  if (!r) {
    ApiError e = std::move(r).error();
    e.message = table + ": " + e.message;
    return e;
  }
  return Ok{};
}

// Doubles that a lossy text or JSON conversion would change. (Subnormal doubles are covered by
// StorageValues.SubnormalDoublesRoundTrip.)
const std::vector<double> kTrickyDoubles = {
    4.25,
    0.1,
    1.0 / 3.0,
    2.0 / 3.0,
    123456.78901234568,
    0.30000000000000004,
    1e23,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    9007199254740993.0,
    -1e-300,
    -0.5,
    1e-7,
    3.141592653589793,
};

const std::string kNasty =
    "따옴표 \"quoted\" 'single' \\backslash\\ $1 ?1 \n새 줄\t탭 \x01 {\"end\":true} "
    "🚀👩‍💻";

// At least one row in every table, foreign keys respected, with Korean text, NULLs, doubles,
// large integers and awkward text. `tag` makes two data sets different.
Status fill_every_table(Database& db, const std::string& tag) {
  const auto id = [&](const std::string& s) -> Value { return tag + "-" + s; };
  const Value ts = std::string("2026-01-15T10:30:00.000Z");
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  return db.write([&](Tx& tx) -> Status {
    std::vector<std::pair<std::string, Cols>> rows = {
        {"users",
         {{"id", id("u1")},
          {"login_id", id("kim")},
          {"email", tag + "-kim@example.kr"},
          {"user_name", std::string("김철수 ") + tag},
          {"phone", null()},
          {"role", std::string("admin")},
          {"password_hash", std::string("$argon2id$v=19$x")},
          {"is_active", std::int64_t{1}},
          {"created_at", ts},
          {"updated_at", ts},
          {"last_login", null()}}},
        {"users",
         {{"id", id("u2")},
          {"login_id", id("lee")},
          {"email", tag + "-lee@example.kr"},
          {"user_name", kNasty},
          {"phone", std::string("010-1234-5678")},
          {"role", std::string("evaluator")},
          {"password_hash", std::string("h2")},
          {"is_active", std::int64_t{0}},
          {"created_at", ts},
          {"updated_at", ts},
          {"last_login", ts}}},
        {"secretary_requests",
         {{"id", id("sr1")},
          {"name", std::string("박영희")},
          {"login_id", id("park")},
          {"email", std::string("park@example.kr")},
          {"phone", null()},
          {"reason", std::string("")},
          {"password_hash", std::string("h3")},
          {"status", std::string("approved")},
          {"created_at", ts},
          {"decided_by", id("u1")},
          {"decided_at", ts}}},
        {"projects",
         {{"id", id("p1")},
          {"name", std::string("2026 평가 사업")},
          {"description", kNasty},
          {"start_date", std::string("2026-01-01")},
          {"end_date", null()},
          {"deadline", ts},
          {"status", std::string("active")},
          {"created_by", id("u1")},
          {"created_at", ts},
          {"updated_at", ts}}},
        {"companies",
         {{"id", id("c1")},
          {"project_id", id("p1")},
          {"name", std::string("(주)한국평가 🚀")},
          {"registration_number", std::string("123-45-67890")},
          {"representative", std::string("최대표")},
          {"address", null()},
          {"contact_email", std::string("c@example.kr")},
          {"contact_phone", null()},
          {"created_at", ts},
          {"updated_at", ts}}},
        {"templates",
         {{"id", id("t1")},
          {"project_id", id("p1")},
          {"name", std::string("기본 양식")},
          {"description", null()},
          {"status", std::string("active")},
          {"version", std::int64_t{3}},
          {"parent_id", null()},
          {"created_by", id("u1")},
          {"created_at", ts},
          {"updated_at", ts}}},
        {"templates",
         {{"id", id("t2")},
          {"project_id", null()},
          {"name", std::string("global")},
          {"description", std::string("")},
          {"status", std::string("draft")},
          {"version", std::int64_t{1}},
          {"parent_id", id("t1")},
          {"created_by", null()},
          {"created_at", ts},
          {"updated_at", ts}}},
    };
    for (std::size_t i = 0; i < kTrickyDoubles.size(); ++i) {
      rows.push_back({"template_items",
                      {{"id", id("i" + std::to_string(i))},
                       {"template_id", id("t1")},
                       {"name", std::string("항목 ") + std::to_string(i)},
                       {"description", i % 2 ? null() : Value{kNasty}},
                       {"min_score", 0.0},
                       {"max_score", 100.0},
                       {"weight", kTrickyDoubles[i]},
                       {"bonus", std::int64_t{static_cast<std::int64_t>(i % 2)}},
                       {"category", i % 3 ? Value{std::string("기술")} : null()},
                       {"is_required", std::int64_t{1}},
                       {"sort_order", std::int64_t{static_cast<std::int64_t>(i)}}}});
    }
    rows.push_back({"evaluation_sheets",
                    {{"id", id("s1")},
                     {"project_id", id("p1")},
                     {"evaluator_id", id("u2")},
                     {"company_id", id("c1")},
                     {"template_id", id("t1")},
                     {"status", std::string("submitted")},
                     {"deadline", null()},
                     {"total_score", 4.25},
                     {"weighted_score", 1.0 / 3.0},
                     {"version", std::int64_t{7}},
                     {"submitted_at", ts},
                     {"created_at", ts},
                     {"updated_at", ts}}});
    for (std::size_t i = 0; i < kTrickyDoubles.size(); ++i) {
      rows.push_back(
          {"scores",
           {{"sheet_id", id("s1")},
            {"item_id", id("i" + std::to_string(i))},
            {"score", i == 0 ? null() : Value{kTrickyDoubles[(i + 3) % kTrickyDoubles.size()]}},
            {"opinion", i == 1 ? Value{kNasty} : Value{std::string("의견 ") + std::to_string(i)}},
            {"updated_at", ts}}});
    }
    const std::vector<std::int64_t> sizes = {9007199254740993LL, kMax, kMin, 0};
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      rows.push_back({"files",
                      {{"id", id("f" + std::to_string(i))},
                       {"company_id", id("c1")},
                       {"uploader_id", i ? Value{id("u1")} : null()},
                       {"original_name", std::string("사업계획서 ") + std::to_string(i) + ".pdf"},
                       {"content_type", std::string("application/pdf")},
                       {"size_bytes", sizes[i]},
                       {"sha256", std::string(64, 'a' + i)},
                       {"created_at", ts}}});
    }
    const std::vector<std::pair<std::string, Cols>> rest = {
        {"file_access_log",
         {{"id", id("fa1")},
          {"file_id", id("f0")},
          {"user_id", null()},
          {"action", std::string("download")},
          {"ip_address", std::string("::1")},
          {"created_at", ts}}},
        {"sessions",
         {{"id_hash", id("sess")},
          {"user_id", id("u1")},
          {"created_at", ts},
          {"last_activity", ts},
          {"expires_at", ts},
          {"ip_address", null()},
          {"user_agent", std::string("Mozilla/5.0 (한국어)")},
          {"revoked_at", null()}}},
        {"login_lockouts",
         {{"login_id", id("kim")},
          {"failed_attempts", std::int64_t{4}},
          {"window_started_at", ts},
          {"locked_until", null()},
          {"updated_at", ts}}},
        {"password_resets",
         {{"id", id("pr1")},
          {"user_id", id("u2")},
          {"token_hash", id("tokenhash")},
          {"created_at", ts},
          {"expires_at", ts},
          {"used_at", null()}}},
        {"mfa_secrets",
         {{"user_id", id("u1")},
          {"secret_encrypted", std::string("enc:abc")},
          {"pending_secret_encrypted", null()},
          {"enabled", std::int64_t{1}},
          {"last_used_step", kMax},
          {"created_at", ts},
          {"updated_at", ts}}},
        {"mfa_secrets",
         {{"user_id", id("u2")},
          {"secret_encrypted", std::string("enc:def")},
          {"pending_secret_encrypted", std::string("enc:pending")},
          {"enabled", std::int64_t{0}},
          {"last_used_step", null()},
          {"created_at", ts},
          {"updated_at", ts}}},
        {"mfa_backup_codes",
         {{"id", id("bc1")},
          {"user_id", id("u1")},
          {"code_hash", std::string("hash")},
          {"used_at", null()},
          {"created_at", ts}}},
        {"security_events",
         {{"id", id("se1")},
          {"event_type", std::string("login_failed")},
          {"user_id", null()},
          {"login_id", id("kim")},
          {"ip_address", std::string("127.0.0.1")},
          {"user_agent", null()},
          {"request_id", std::string("req-1")},
          {"details", std::string("{\"reason\":\"비밀번호 불일치\"}")},
          {"created_at", ts}}},
        {"error_log",
         {{"id", id("el1")},
          {"error_code", std::string("CONFLICT")},
          {"category", std::string("business_logic")},
          {"severity", std::string("low")},
          {"status", std::int64_t{409}},
          {"request_id", null()},
          {"user_id", id("u1")},
          {"method", std::string("POST")},
          {"route", std::string("/api/v1/users")},
          {"client_ip", null()},
          {"user_agent", null()},
          {"created_at", ts}}},
        {"mail_outbox",
         {{"id", id("m1")},
          {"to_address", std::string("kim@example.kr")},
          {"subject", std::string("[평가] 비밀번호 재설정")},
          {"body_text", kNasty},
          {"body_html", null()},
          {"status", std::string("pending")},
          {"attempts", std::int64_t{2}},
          {"next_attempt_at", ts},
          {"last_error", null()},
          {"created_at", ts},
          {"sent_at", null()}}},
    };
    rows.insert(rows.end(), rest.begin(), rest.end());
    for (const auto& [table, cols] : rows) {
      if (auto s = insert_row(tx, table, cols); !s) return s;
    }
    return Ok{};
  });
}

using Dump = std::map<std::string, Rows>;

Dump dump(Database& db) {
  Dump out;
  for (const auto& t : tables_in_dependency_order()) {
    auto r = db.query("SELECT * FROM " + t + " ORDER BY 1, 2");
    EXPECT_TRUE(r) << t << ": " << describe(r);
    if (r) out[t] = std::move(r.value());
  }
  return out;
}

std::vector<std::vector<Value>> sorted_rows(const Rows& r) {
  auto rows = r.rows;
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return show(a) < show(b); });
  return rows;
}

// Same tables, same columns, same rows, value by value with types. `any_order` for a copy in
// another engine whose text collation may order rows differently.
::testing::AssertionResult same_dump(const Dump& want, const Dump& got, bool any_order = false) {
  for (const auto& [table, w] : want) {
    auto it = got.find(table);
    if (it == got.end()) return ::testing::AssertionFailure() << "table " << table << " missing";
    const Rows& g = it->second;
    if (w.columns != g.columns) {
      return ::testing::AssertionFailure() << table << ": columns differ";
    }
    if (w.size() != g.size()) {
      return ::testing::AssertionFailure()
             << table << ": " << g.size() << " rows, want " << w.size();
    }
    const auto wr = any_order ? sorted_rows(w) : w.rows;
    const auto gr = any_order ? sorted_rows(g) : g.rows;
    for (std::size_t i = 0; i < wr.size(); ++i) {
      for (std::size_t c = 0; c < wr[i].size(); ++c) {
        if (wr[i][c] != gr[i][c]) {
          return ::testing::AssertionFailure()
                 << table << " row " << i << " column " << w.columns[c] << ": got "
                 << show(gr[i][c]) << ", want " << show(wr[i][c]);
        }
      }
    }
  }
  if (want.size() != got.size()) return ::testing::AssertionFailure() << "table counts differ";
  return ::testing::AssertionSuccess();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Rewrites the end marker so that the checksum matches the (altered) lines before it.
std::string reseal(std::vector<std::string> lines) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(lines[i].data()),
                              lines[i].size());
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>("\n"), 1);
  }
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, out);
  json::object end = json::parse(lines.back()).as_object();
  end["sha256"] = to_hex(out, sizeof out);
  lines.back() = json::serialize(end);
  return join_lines(lines);
}

// Index of the header line of `table` in the backup's lines.
std::size_t table_line(const std::vector<std::string>& lines, const std::string& table) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("{\"table\":\"" + table + "\"", 0) == 0) return i;
  }
  ADD_FAILURE() << "table " << table << " not found in the backup";
  return 0;
}

struct Damage {
  std::string name;
  std::string content;
  std::vector<std::string> any_of;  // the message names at least one of these
};

std::vector<Damage> damaged_versions_of(const std::string& good) {
  const auto lines = split_lines(good);
  std::vector<Damage> out;
  {  // one character of a text value in a row changed; still valid JSON
    auto l = lines;
    const std::size_t row = table_line(l, "companies") + 1;
    const auto pos = l[row].find("123-45-67890");
    EXPECT_NE(pos, std::string::npos);
    l[row][pos] = '9';
    out.push_back({"flipped byte in a row", join_lines(l), {"checksum"}});
  }
  {  // a number changed
    auto l = lines;
    const std::size_t row = table_line(l, "evaluation_sheets") + 1;
    const auto pos = l[row].find("4.25E0");
    EXPECT_NE(pos, std::string::npos) << l[row];
    if (pos != std::string::npos) l[row][pos + 2] = '3';
    out.push_back({"flipped digit in a row", join_lines(l), {"checksum"}});
  }
  {  // one bit of a byte flipped: a Korean character becomes invalid UTF-8
    auto l = lines;
    const std::size_t row = table_line(l, "projects") + 1;
    const auto pos = l[row].find("평가");
    EXPECT_NE(pos, std::string::npos);
    l[row][pos + 1] = static_cast<char>(l[row][pos + 1] ^ 0x40);
    out.push_back({"flipped bit in a row", join_lines(l), {"checksum", "corrupt"}});
  }
  {
    auto l = lines;
    l.erase(l.begin() + static_cast<long>(table_line(l, "users") + 1));
    out.push_back({"deleted row line", join_lines(l), {"users"}});
  }
  {
    auto l = lines;
    l.pop_back();
    out.push_back({"truncated: no end marker", join_lines(l), {"truncated"}});
  }
  {
    auto l = lines;
    l.resize(l.size() / 2);
    out.push_back({"truncated at half its lines", join_lines(l), {"truncated"}});
  }
  out.push_back(
      {"truncated inside a line", good.substr(0, good.size() / 2), {"truncated", "corrupt"}});
  {
    auto l = lines;
    const auto pos = l[0].find("\"format_version\":1");
    EXPECT_NE(pos, std::string::npos) << l[0];
    if (pos != std::string::npos) l[0].replace(pos, 18, "\"format_version\":2");
    out.push_back({"wrong format_version", join_lines(l), {"format version"}});
  }
  out.push_back({"empty file", "", {"empty"}});
  out.push_back({"not a backup at all", "hello\n", {"not JSON", "not an evald backup"}});
  {
    auto l = lines;
    l.push_back(l[table_line(l, "users") + 1]);
    out.push_back({"a row after the end marker", join_lines(l), {"end marker"}});
  }
  {  // rows deleted and the checksum recomputed: the counts still catch it
    auto l = lines;
    l.erase(l.begin() + static_cast<long>(table_line(l, "files") + 1));
    out.push_back({"deleted row, resealed", reseal(l), {"files"}});
  }
  return out;
}

bool mentions_any(const std::string& msg, const std::vector<std::string>& words) {
  for (const auto& w : words) {
    if (msg.find(w) != std::string::npos) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

class BackupFiles {
 public:
  std::string make(const std::string& name) {
    paths_.push_back(
        (std::filesystem::temp_directory_path() / unique_name("evald-" + name + "-")).string() +
        ".jsonl");
    return paths_.back();
  }
  ~BackupFiles() {
    std::error_code ec;
    for (const auto& p : paths_) {
      std::filesystem::remove(p, ec);
      std::filesystem::remove(p + ".partial", ec);
    }
  }

 private:
  std::vector<std::string> paths_;
};

// A migrated SQLite database holding fill_every_table(tag), and its backup.
struct Source {
  std::string path = temp_sqlite_path();
  RealClock clock;
  std::unique_ptr<Database> db;
  ~Source() {
    db.reset();
    remove_sqlite_files(path);
  }
};

void make_source(Source& s, const std::string& tag) {
  DatabaseOptions o;
  o.url = "sqlite://" + s.path;
  s.db = open_database(o, s.clock);
  auto m = migrate(*s.db);
  ASSERT_TRUE(m) << describe(m);
  auto f = fill_every_table(*s.db, tag);
  ASSERT_TRUE(f) << describe(f);
}

TEST(StorageBackup, TheFixtureFillsEveryTableOfTheSchema) {
  Source src;
  ASSERT_NO_FATAL_FAILURE(make_source(src, "a"));
  auto names = src.db->table_names();
  ASSERT_TRUE(names) << describe(names);
  for (const auto& t : *names) {
    if (t == "schema_migrations") continue;
    auto n = src.db->query("SELECT COUNT(*) AS n FROM " + t);
    ASSERT_TRUE(n) << describe(n);
    EXPECT_GE(n->integer(0, "n"), 1) << "table " << t << " has no row in the backup fixture";
  }
}

TEST(StorageBackup, WriteAndVerifyDescribeTheSnapshot) {
  Source src;
  ASSERT_NO_FATAL_FAILURE(make_source(src, "a"));
  BackupFiles files;
  const auto path = files.make("backup");
  auto info = write_backup(*src.db, path, "test");
  ASSERT_TRUE(info) << describe(info);
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  EXPECT_EQ(info->format_version, kBackupFormatVersion);
  EXPECT_EQ(info->schema_version, latest_schema_version());
  EXPECT_EQ(info->source_engine, "sqlite");
  EXPECT_EQ(info->table_rows.size(), tables_in_dependency_order().size());
  std::uint64_t total = 0;
  for (const auto& [t, rows] : dump(*src.db)) {
    EXPECT_EQ(info->table_rows[t], rows.size()) << t;
    total += rows.size();
  }
  EXPECT_EQ(info->rows, total);
  EXPECT_EQ(info->size_bytes, std::filesystem::file_size(path));
  auto again = verify_backup(path);
  ASSERT_TRUE(again) << describe(again);
  EXPECT_EQ(again->sha256, info->sha256);
  EXPECT_EQ(again->rows, total);
}

TEST(StorageBackup, DamagedFilesAreRejectedWithAClearMessage) {
  Source src;
  ASSERT_NO_FATAL_FAILURE(make_source(src, "a"));
  BackupFiles files;
  const auto good = files.make("good");
  ASSERT_TRUE(write_backup(*src.db, good, "test"));
  const std::string content = read_file(good);
  for (const auto& d : damaged_versions_of(content)) {
    SCOPED_TRACE(d.name);
    ASSERT_NE(d.content, content);
    const auto bad = files.make("bad");
    write_file(bad, d.content);
    auto v = verify_backup(bad);
    ASSERT_FALSE(v) << d.name << " passed verification";
    EXPECT_FALSE(v.error().message.empty());
    EXPECT_EQ(v.error().message.find('\n'), std::string::npos) << v.error().message;
    EXPECT_TRUE(mentions_any(v.error().message, d.any_of)) << v.error().message;

    // Restoring it into an empty database creates nothing.
    const std::string empty_path = temp_sqlite_path();
    {
      DatabaseOptions o;
      o.url = "sqlite://" + empty_path;
      RealClock clock;
      auto empty = open_database(o, clock);
      auto r = restore_backup(*empty, bad, RestoreOptions{true});
      EXPECT_FALSE(r) << d.name << " was restored";
      auto names = empty->table_names();
      ASSERT_TRUE(names) << describe(names);
      EXPECT_TRUE(names->empty()) << "a refused restore created " << names->size() << " tables";
    }
    remove_sqlite_files(empty_path);
  }
}

TEST(StorageBackup, SqliteToPostgresToSqliteKeepsEveryValueAndType) {
  if (pg_url().empty()) {
    if (pg_required()) FAIL() << "EVALD_REQUIRE_PG=1 but EVALD_TEST_PG_URL is not set";
    GTEST_SKIP() << "EVALD_TEST_PG_URL is not set (run under scripts/with-postgres.sh)";
  }
  ASSERT_TRUE(reset_pg_schema(pg_url()));
  Source src;
  ASSERT_NO_FATAL_FAILURE(make_source(src, "a"));
  const Dump original = dump(*src.db);
  BackupFiles files;
  const auto first = files.make("from-sqlite");
  auto b1 = write_backup(*src.db, first, "test");
  ASSERT_TRUE(b1) << describe(b1);

  RealClock clock;
  DatabaseOptions po;
  po.url = pg_url();
  po.min_pool_size = 1;
  auto pg = open_database(po, clock);
  auto r1 = restore_backup(*pg, first, {});
  ASSERT_TRUE(r1) << describe(r1);
  EXPECT_EQ(r1->rows, b1->rows);
  auto pg_version = current_schema_version(*pg);
  ASSERT_TRUE(pg_version) << describe(pg_version);
  EXPECT_EQ(*pg_version, latest_schema_version());
  EXPECT_TRUE(same_dump(original, dump(*pg), true)) << "SQLite -> PostgreSQL";

  const auto second = files.make("from-postgres");
  auto b2 = write_backup(*pg, second, "test");
  ASSERT_TRUE(b2) << describe(b2);
  EXPECT_EQ(b2->source_engine, "postgresql");
  EXPECT_EQ(b2->rows, b1->rows);
  EXPECT_EQ(b2->table_rows, b1->table_rows);

  const std::string final_path = temp_sqlite_path();
  {
    DatabaseOptions so;
    so.url = "sqlite://" + final_path;
    auto back = open_database(so, clock);
    auto r2 = restore_backup(*back, second, {});
    ASSERT_TRUE(r2) << describe(r2);
    EXPECT_TRUE(same_dump(original, dump(*back))) << "SQLite -> PostgreSQL -> SQLite";
  }
  remove_sqlite_files(final_path);
}

// ---------------------------------------------------------------------------------------------
// Restoring into each engine

class StorageRestore : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(make_source(src_, "src"));
    source_dump_ = dump(*src_.db);
    backup_ = files_.make("src");
    auto b = write_backup(*src_.db, backup_, "test");
    ASSERT_TRUE(b) << describe(b);
    target_ = open();
    auto m = migrate(*target_);
    ASSERT_TRUE(m) << describe(m);
    auto f = fill_every_table(*target_, "tgt");
    ASSERT_TRUE(f) << describe(f);
    target_dump_ = dump(*target_);
    ASSERT_FALSE(same_dump(source_dump_, target_dump_, true)) << "the two data sets must differ";
  }

  Source src_;
  BackupFiles files_;
  std::string backup_;
  std::unique_ptr<Database> target_;
  Dump source_dump_, target_dump_;
};

TEST_P(StorageRestore, ANonEmptyDatabaseNeedsForce) {
  auto refused = restore_backup(*target_, backup_, RestoreOptions{false});
  ASSERT_FALSE(refused) << "restored over existing data without force";
  EXPECT_TRUE(mentions_any(refused.error().message, {"force", "not empty"}))
      << refused.error().message;
  EXPECT_TRUE(same_dump(target_dump_, dump(*target_))) << "a refused restore changed the data";

  auto forced = restore_backup(*target_, backup_, RestoreOptions{true});
  ASSERT_TRUE(forced) << describe(forced);
  EXPECT_TRUE(same_dump(source_dump_, dump(*target_), engine() != Engine::kSqlite));
}

TEST_P(StorageRestore, ADamagedFileChangesNothing) {
  const std::string content = read_file(backup_);
  for (const auto& d : damaged_versions_of(content)) {
    SCOPED_TRACE(d.name);
    const auto bad = files_.make("bad");
    write_file(bad, d.content);
    auto r = restore_backup(*target_, bad, RestoreOptions{true});
    ASSERT_FALSE(r) << d.name << " was restored";
    EXPECT_TRUE(mentions_any(r.error().message, d.any_of)) << r.error().message;
    EXPECT_TRUE(same_dump(target_dump_, dump(*target_))) << "the target changed";
  }
}

TEST_P(StorageRestore, ARestoreThatFailsHalfwayChangesNothing) {
  // A well-formed, correctly sealed file whose rows break a foreign key: it passes
  // verification, and fails only while inserting, after the old rows were deleted.
  auto lines = split_lines(read_file(backup_));
  const std::size_t row = table_line(lines, "companies") + 1;
  json::array a = json::parse(lines[row]).as_array();
  a[1] = "no-such-project";  // companies.project_id
  lines[row] = json::serialize(a);
  const auto bad = files_.make("fk");
  write_file(bad, reseal(lines));
  auto v = verify_backup(bad);
  ASSERT_TRUE(v) << "the crafted file should be well-formed: " << describe(v);

  auto r = restore_backup(*target_, bad, RestoreOptions{true});
  ASSERT_FALSE(r) << "rows with a dangling foreign key were restored";
  EXPECT_TRUE(same_dump(target_dump_, dump(*target_))) << "a failed restore left changes";
}

TEST_P(StorageRestore, RestoringTwiceWithForceIsIdempotent) {
  ASSERT_TRUE(restore_backup(*target_, backup_, RestoreOptions{true}));
  // A second restore of the same file over its own result is idempotent.
  auto again = restore_backup(*target_, backup_, RestoreOptions{true});
  ASSERT_TRUE(again) << describe(again);
  EXPECT_TRUE(same_dump(source_dump_, dump(*target_), engine() != Engine::kSqlite));
}

INSTANTIATE_TEST_SUITE_P(Storage, StorageRestore,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres), EngineName{});

}  // namespace
}  // namespace evald::db::storage_test
