#include "db/migrations.hpp"

#include "core/time_format.hpp"

namespace evald::db {
namespace {

// Portable SQL: TEXT, BIGINT, INTEGER (flags 0/1), DOUBLE PRECISION; ids are opaque TEXT;
// timestamps are TEXT in UTC ISO 8601 with milliseconds ("2026-01-15T10:30:00.000Z"), which
// sort as time does on both engines.
const char* const kSchemaV1 = R"SQL(
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  login_id TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL UNIQUE,
  user_name TEXT NOT NULL,
  phone TEXT,
  role TEXT NOT NULL CHECK (role IN ('admin', 'secretary', 'evaluator')),
  password_hash TEXT NOT NULL,
  is_active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_login TEXT
);
CREATE INDEX idx_users_role_active ON users (role, is_active);

CREATE TABLE secretary_requests (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  login_id TEXT NOT NULL,
  email TEXT NOT NULL,
  phone TEXT,
  reason TEXT,
  password_hash TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
  created_at TEXT NOT NULL,
  decided_by TEXT REFERENCES users (id) ON DELETE SET NULL,
  decided_at TEXT
);
CREATE INDEX idx_secretary_requests_status ON secretary_requests (status, created_at);

CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT,
  start_date TEXT,
  end_date TEXT,
  deadline TEXT,
  status TEXT NOT NULL DEFAULT 'active',
  created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX idx_projects_status ON projects (status, created_at);

CREATE TABLE companies (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  registration_number TEXT NOT NULL,
  representative TEXT,
  address TEXT,
  contact_email TEXT,
  contact_phone TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (project_id, registration_number)
);
CREATE INDEX idx_companies_project ON companies (project_id, name);

CREATE TABLE templates (
  id TEXT PRIMARY KEY,
  project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT,
  status TEXT NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
  version INTEGER NOT NULL DEFAULT 1,
  parent_id TEXT,
  created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX idx_templates_project_status ON templates (project_id, status);

CREATE TABLE template_items (
  id TEXT PRIMARY KEY,
  template_id TEXT NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT,
  min_score DOUBLE PRECISION NOT NULL,
  max_score DOUBLE PRECISION NOT NULL,
  weight DOUBLE PRECISION NOT NULL DEFAULT 1,
  bonus INTEGER NOT NULL DEFAULT 0,
  category TEXT,
  is_required INTEGER NOT NULL DEFAULT 1,
  sort_order INTEGER NOT NULL
);
CREATE INDEX idx_template_items_template ON template_items (template_id, sort_order);

CREATE TABLE evaluation_sheets (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  evaluator_id TEXT NOT NULL REFERENCES users (id),
  company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
  template_id TEXT NOT NULL REFERENCES templates (id),
  status TEXT NOT NULL
    CHECK (status IN ('draft', 'assigned', 'in_progress', 'submitted', 'reviewed')),
  deadline TEXT,
  total_score DOUBLE PRECISION,
  weighted_score DOUBLE PRECISION,
  version INTEGER NOT NULL DEFAULT 1,
  submitted_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (evaluator_id, company_id, template_id)
);
CREATE INDEX idx_sheets_evaluator_status ON evaluation_sheets (evaluator_id, status, created_at);
CREATE INDEX idx_sheets_project_status ON evaluation_sheets (project_id, status);
CREATE INDEX idx_sheets_company ON evaluation_sheets (company_id);

CREATE TABLE scores (
  sheet_id TEXT NOT NULL REFERENCES evaluation_sheets (id) ON DELETE CASCADE,
  item_id TEXT NOT NULL REFERENCES template_items (id),
  score DOUBLE PRECISION,
  opinion TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (sheet_id, item_id)
);

CREATE TABLE files (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
  uploader_id TEXT REFERENCES users (id) ON DELETE SET NULL,
  original_name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size_bytes BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_files_company ON files (company_id, created_at);
CREATE INDEX idx_files_sha256 ON files (sha256);

CREATE TABLE file_access_log (
  id TEXT PRIMARY KEY,
  file_id TEXT NOT NULL,
  user_id TEXT,
  action TEXT NOT NULL,
  ip_address TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_file_access_file ON file_access_log (file_id, created_at);

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  last_activity TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  ip_address TEXT,
  user_agent TEXT,
  revoked_at TEXT
);
CREATE INDEX idx_sessions_user ON sessions (user_id, created_at);
CREATE INDEX idx_sessions_expires ON sessions (expires_at);

CREATE TABLE login_lockouts (
  login_id TEXT PRIMARY KEY,
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  window_started_at TEXT,
  locked_until TEXT,
  updated_at TEXT NOT NULL
);

CREATE TABLE password_resets (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT
);
CREATE INDEX idx_password_resets_user ON password_resets (user_id, created_at);

CREATE TABLE mfa_secrets (
  user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret_encrypted TEXT NOT NULL,
  pending_secret_encrypted TEXT,
  enabled INTEGER NOT NULL DEFAULT 0,
  last_used_step BIGINT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE mfa_backup_codes (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_mfa_backup_codes_user ON mfa_backup_codes (user_id);

CREATE TABLE security_events (
  id TEXT PRIMARY KEY,
  event_type TEXT NOT NULL,
  user_id TEXT,
  login_id TEXT,
  ip_address TEXT,
  user_agent TEXT,
  request_id TEXT,
  details TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_security_events_user ON security_events (user_id, created_at);
CREATE INDEX idx_security_events_type ON security_events (event_type, created_at);
CREATE INDEX idx_security_events_created ON security_events (created_at);

CREATE TABLE error_log (
  id TEXT PRIMARY KEY,
  error_code TEXT NOT NULL,
  category TEXT NOT NULL,
  severity TEXT NOT NULL,
  status INTEGER NOT NULL,
  request_id TEXT,
  user_id TEXT,
  method TEXT,
  route TEXT,
  client_ip TEXT,
  user_agent TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_error_log_created ON error_log (created_at);
CREATE INDEX idx_error_log_code ON error_log (error_code, created_at);
CREATE INDEX idx_error_log_category ON error_log (category, created_at);

CREATE TABLE mail_outbox (
  id TEXT PRIMARY KEY,
  to_address TEXT NOT NULL,
  subject TEXT NOT NULL,
  body_text TEXT NOT NULL,
  body_html TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  created_at TEXT NOT NULL,
  sent_at TEXT
);
CREATE INDEX idx_mail_outbox_due ON mail_outbox (status, next_attempt_at);
)SQL";

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list{
      {1, "initial schema: evaluation domain and account security", kSchemaV1},
      {2, "MFA: backup codes waiting for the setup to be verified",
       "ALTER TABLE mfa_secrets ADD COLUMN pending_backup_codes TEXT"},
      {3, "evaluation domain: sheet opinion and review time, sign-up decision reason, indexes",
       "ALTER TABLE evaluation_sheets ADD COLUMN opinion TEXT;\n"
       "ALTER TABLE evaluation_sheets ADD COLUMN reviewed_at TEXT;\n"
       "ALTER TABLE secretary_requests ADD COLUMN decision_reason TEXT;\n"
       "CREATE INDEX idx_sheets_template_status ON evaluation_sheets (template_id, status);\n"
       "CREATE INDEX idx_users_created ON users (created_at);\n"
       "CREATE INDEX idx_projects_created ON projects (created_at);\n"
       "CREATE INDEX idx_templates_created ON templates (created_at);\n"
       "CREATE INDEX idx_sheets_evaluator_created ON evaluation_sheets (evaluator_id, "
       "created_at);\n"
       "CREATE INDEX idx_sheets_project_created ON evaluation_sheets (project_id, created_at);\n"
       "CREATE INDEX idx_companies_project_created ON companies (project_id, created_at);\n"},
  };
  return list;
}

int latest_schema_version() { return migrations().back().version; }

const std::vector<std::string>& tables_in_dependency_order() {
  static const std::vector<std::string> tables{
      "users",           "secretary_requests", "projects",        "companies",   "templates",
      "template_items",  "evaluation_sheets",  "scores",          "files",       "file_access_log",
      "sessions",        "login_lockouts",     "password_resets", "mfa_secrets", "mfa_backup_codes",
      "security_events", "error_log",          "mail_outbox",
  };
  return tables;
}

namespace {

const char* const kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at TEXT NOT NULL)";

// Serialises migrators on PostgreSQL for the rest of the transaction (SQLite's single writer
// already does).
Status lock_migrations(Database& db, Tx& tx) {
  if (db.engine() != Engine::kPostgres) return Ok{};
  auto lock = tx.query("SELECT pg_advisory_xact_lock(4242001)");
  if (!lock) return std::move(lock).error();
  return Ok{};
}

Result<int> read_version(Tx& tx) {
  auto rows = tx.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations");
  if (!rows) return std::move(rows).error();
  return static_cast<int>(rows->integer(0, "v"));
}

}  // namespace

Result<int> current_schema_version(Database& db) {
  auto tables = db.table_names();
  if (!tables) return std::move(tables).error();
  if (std::find(tables->begin(), tables->end(), "schema_migrations") == tables->end()) return 0;
  std::optional<int> version;
  auto st = db.read([&](Tx& tx) -> Status {
    auto v = read_version(tx);
    if (!v) return std::move(v).error();
    version = *v;
    return Ok{};
  });
  if (!st) return st.error();
  return *version;
}

Result<MigrateReport> migrate(Database& db, std::optional<int> target) {
  const int goal = target.value_or(latest_schema_version());
  MigrateReport report;
  if (auto st = db.write([&](Tx& tx) -> Status {
        if (auto lock = lock_migrations(db, tx); !lock) return lock;
        return tx.script(kCreateMigrationsTable);
      });
      !st) {
    return st.error();
  }
  auto before = current_schema_version(db);
  if (!before) return std::move(before).error();
  report.from = *before;
  if (*before > latest_schema_version()) {
    ApiError e = ApiError::internal();
    e.code = ErrorCode::kDatabaseError;
    e.message = "The database schema (version " + std::to_string(*before) +
                ") is newer than this evald supports (version " +
                std::to_string(latest_schema_version()) + "); upgrade evald";
    e.internal_detail = e.message;
    return e;
  }
  for (const auto& m : migrations()) {
    if (m.version > goal) break;
    bool applied = false;
    auto st = db.write([&](Tx& tx) -> Status {
      // Two processes may migrate at once: serialise them and re-check inside the transaction.
      if (auto lock = lock_migrations(db, tx); !lock) return lock;
      auto current = read_version(tx);
      if (!current) return std::move(current).error();
      if (*current >= m.version) return Ok{};
      if (auto s = tx.script(m.sql); !s) return s;
      auto ins =
          tx.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                  {std::int64_t{m.version}, m.name,
                   format_iso8601(std::chrono::system_clock::now(), true)});
      if (!ins) return std::move(ins).error();
      applied = true;
      return Ok{};
    });
    if (!st) return st.error();
    if (applied) report.applied.push_back(m.version);
  }
  auto after = current_schema_version(db);
  if (!after) return std::move(after).error();
  report.to = *after;
  return report;
}

}  // namespace evald::db
