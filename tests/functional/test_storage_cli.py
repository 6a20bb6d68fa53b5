"""Storage through the real binary: `evald migrate`, `backup` and `restore` across SQLite and
PostgreSQL, and `evald serve` refusing a schema it cannot run on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import default_env, free_port, run_evald

TS = "2026-01-15T10:30:00.000Z"
NASTY = "따옴표 \"quoted\" 'single' \\backslash $1 ?1 \n새 줄\t탭 {\"end\":true} 🚀👩‍💻"
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}"


def evald_cmd(tmp_path: Path, *args, timeout: float = 30.0):
    return run_evald(list(args), env={"LOG_FORMAT": "json"}, cwd=tmp_path, timeout=timeout)


def migrate(tmp_path: Path, url: str):
    p = evald_cmd(tmp_path, "migrate", "--database-url", url)
    assert p.returncode == 0, p.stderr
    return p


def rows_for(tag: str) -> dict[str, list[dict]]:
    """A row or more in every table, foreign keys respected; `tag` makes data sets differ."""
    i = lambda s: f"{tag}-{s}"  # noqa: E731
    doubles = [4.25, 0.1, 1 / 3, 123456.78901234568, 1e23, 2.2250738585072014e-308, -0.5]
    return {
        "users": [
            dict(id=i("u1"), login_id=i("kim"), email=f"{tag}-kim@example.kr",
                 user_name=f"김철수 {tag}", phone=None, role="admin", password_hash="h",
                 is_active=1, created_at=TS, updated_at=TS, last_login=None),
            dict(id=i("u2"), login_id=i("lee"), email=f"{tag}-lee@example.kr", user_name=NASTY,
                 phone="010-1234-5678", role="evaluator", password_hash="h2", is_active=0,
                 created_at=TS, updated_at=TS, last_login=TS),
        ],
        "secretary_requests": [
            dict(id=i("sr1"), name="박영희", login_id=i("park"), email="park@example.kr",
                 phone=None, reason="", password_hash="h3", status="approved", created_at=TS,
                 decided_by=i("u1"), decided_at=TS)],
        "projects": [
            dict(id=i("p1"), name="2026 평가 사업", description=NASTY, start_date="2026-01-01",
                 end_date=None, deadline=TS, status="active", created_by=i("u1"), created_at=TS,
                 updated_at=TS)],
        "companies": [
            dict(id=i("c1"), project_id=i("p1"), name="(주)한국평가 🚀",
                 registration_number="123-45-67890", representative="최대표", address=None,
                 contact_email="c@example.kr", contact_phone=None, created_at=TS, updated_at=TS)],
        "templates": [
            dict(id=i("t1"), project_id=i("p1"), name="기본 양식", description=None,
                 status="active", version=3, parent_id=None, created_by=i("u1"), created_at=TS,
                 updated_at=TS)],
        "template_items": [
            dict(id=i(f"i{n}"), template_id=i("t1"), name=f"항목 {n}", description=None,
                 min_score=0.0, max_score=100.0, weight=d, bonus=n % 2, category="기술",
                 is_required=1, sort_order=n) for n, d in enumerate(doubles)],
        "evaluation_sheets": [
            dict(id=i("s1"), project_id=i("p1"), evaluator_id=i("u2"), company_id=i("c1"),
                 template_id=i("t1"), status="submitted", deadline=None, total_score=4.25,
                 weighted_score=1 / 3, version=7, submitted_at=TS, created_at=TS, updated_at=TS)],
        "scores": [
            dict(sheet_id=i("s1"), item_id=i(f"i{n}"), score=None if n == 0 else d,
                 opinion=NASTY if n == 1 else f"의견 {n}", updated_at=TS)
            for n, d in enumerate(doubles)],
        "files": [
            dict(id=i(f"f{n}"), company_id=i("c1"), uploader_id=i("u1"),
                 original_name=f"사업계획서 {n}.pdf", content_type="application/pdf",
                 size_bytes=size, sha256="a" * 64, created_at=TS)
            for n, size in enumerate([2**53 + 1, INT64_MAX, INT64_MIN])],
        "file_access_log": [
            dict(id=i("fa1"), file_id=i("f0"), user_id=None, action="download",
                 ip_address="::1", created_at=TS)],
        "sessions": [
            dict(id_hash=i("sess"), user_id=i("u1"), created_at=TS, last_activity=TS,
                 expires_at=TS, ip_address=None, user_agent="Mozilla/5.0 (한국어)",
                 revoked_at=None)],
        "login_lockouts": [
            dict(login_id=i("kim"), failed_attempts=4, window_started_at=TS, locked_until=None,
                 updated_at=TS)],
        "password_resets": [
            dict(id=i("pr1"), user_id=i("u2"), token_hash=i("tok"), created_at=TS,
                 expires_at=TS, used_at=None)],
        "mfa_secrets": [
            dict(user_id=i("u1"), secret_encrypted="enc", pending_secret_encrypted=None,
                 enabled=1, last_used_step=INT64_MAX, created_at=TS, updated_at=TS)],
        "mfa_backup_codes": [
            dict(id=i("bc1"), user_id=i("u1"), code_hash="x", used_at=None, created_at=TS)],
        "security_events": [
            dict(id=i("se1"), event_type="login_failed", user_id=None, login_id=i("kim"),
                 ip_address="127.0.0.1", user_agent=None, request_id="r1",
                 details='{"reason":"비밀번호"}', created_at=TS)],
        "error_log": [
            dict(id=i("el1"), error_code="CONFLICT", category="business_logic", severity="low",
                 status=409, request_id=None, user_id=None, method="POST", route="/api/v1/x",
                 client_ip=None, user_agent=None, created_at=TS)],
        "mail_outbox": [
            dict(id=i("m1"), to_address="kim@example.kr", subject="[평가] 안내", body_text=NASTY,
                 body_html=None, status="pending", attempts=2, next_attempt_at=TS,
                 last_error=None, created_at=TS, sent_at=None)],
    }


def populate(db: Path, tag: str):
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA foreign_keys = ON")
        for table, rows in rows_for(tag).items():
            for row in rows:
                cols = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))


def user_tables(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        names = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'schema_migrations' ORDER BY name")]
    return names


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every table's rows, each value tagged with its Python type (1 and 1.0 differ)."""
    out = {}
    with sqlite3.connect(db) as con:
        for t in user_tables(db):
            rows = con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            out[t] = [tuple((type(v).__name__, v) for v in row) for row in rows]
    return out


def schema_version(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]


@pytest.fixture
def source_db(tmp_path) -> Path:
    """A migrated SQLite database with a row in every table."""
    db = tmp_path / "source.db"
    migrate(tmp_path, sqlite_url(db))
    populate(db, "src")
    d = dump(db)
    assert all(d[t] for t in d), f"tables left empty: {[t for t in d if not d[t]]}"
    return db


@pytest.fixture
def source_backup(tmp_path, source_db) -> Path:
    out = tmp_path / "source.backup"
    p = evald_cmd(tmp_path, "backup", "--out", str(out), "--database-url", sqlite_url(source_db))
    assert p.returncode == 0, p.stderr
    assert out.is_file()
    return out


@pytest.fixture
def target_db(tmp_path) -> Path:
    """A migrated SQLite database holding other data than the source."""
    db = tmp_path / "target.db"
    migrate(tmp_path, sqlite_url(db))
    populate(db, "tgt")
    return db


# --- migrate -----------------------------------------------------------------------------------

def test_migrate_creates_the_schema_then_reports_it_up_to_date(tmp_path):
    db = tmp_path / "data" / "evald.db"
    first = evald_cmd(tmp_path, "migrate", "--database-url", sqlite_url(db))
    assert first.returncode == 0, first.stderr
    assert "migrated schema from version 0 to" in first.stdout, first.stdout
    latest = schema_version(db)
    assert latest >= 1
    assert f"to {latest}" in first.stdout
    assert len(user_tables(db)) >= 18

    second = evald_cmd(tmp_path, "migrate", "--database-url", sqlite_url(db))
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout, second.stdout
    assert str(latest) in second.stdout
    with sqlite3.connect(db) as con:
        versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == list(range(1, latest + 1))


# --- backup and restore ------------------------------------------------------------------------

def test_backup_restore_sqlite_to_postgres_to_sqlite_keeps_everything(
        tmp_path, source_db, source_backup, fresh_pg_url, psql):
    restored = evald_cmd(tmp_path, "restore", str(source_backup), "--database-url", fresh_pg_url)
    assert restored.returncode == 0, restored.stderr
    assert "restored" in restored.stdout
    want = dump(source_db)
    for table, rows in want.items():
        assert int(psql(fresh_pg_url, f"SELECT COUNT(*) FROM {table}")) == len(rows), table
    assert psql(fresh_pg_url, "SELECT user_name FROM users WHERE id = 'src-u1'").strip() == \
        "김철수 src"

    from_pg = tmp_path / "from-postgres.backup"
    b = evald_cmd(tmp_path, "backup", "--out", str(from_pg), "--database-url", fresh_pg_url)
    assert b.returncode == 0, b.stderr

    final = tmp_path / "final.db"
    r = evald_cmd(tmp_path, "restore", str(from_pg), "--database-url", sqlite_url(final))
    assert r.returncode == 0, r.stderr
    got = dump(final)
    assert set(got) == set(want)
    for table in want:
        assert got[table] == want[table], f"table {table} differs after SQLite -> PG -> SQLite"
    assert schema_version(final) == schema_version(source_db)


def _flip_in_row(content: bytes, needle: bytes) -> bytes:
    pos = content.index(needle)
    return content[:pos] + bytes([content[pos] ^ 0x01]) + content[pos + 1:]


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "empty"])
def test_restore_of_a_damaged_file_fails_in_one_line_and_changes_nothing(
        tmp_path, source_backup, target_db, damage):
    content = source_backup.read_bytes()
    if damage == "flipped byte":
        bad = _flip_in_row(content, b"123-45-67890")
        expect = "checksum"
    elif damage == "truncated":
        bad = content[: content.rindex(b'{"end"')]
        expect = "truncated"
    else:
        bad = b""
        expect = "empty"
    path = tmp_path / "damaged.backup"
    path.write_bytes(bad)
    before = dump(target_db)
    p = evald_cmd(tmp_path, "restore", str(path), "--force", "--database-url",
                  sqlite_url(target_db))
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert expect in lines[0], lines[0]
    assert dump(target_db) == before, "a refused restore changed the database"


def test_restore_into_a_non_empty_database_needs_force(tmp_path, source_db, source_backup,
                                                       target_db):
    before = dump(target_db)
    refused = evald_cmd(tmp_path, "restore", str(source_backup), "--database-url",
                        sqlite_url(target_db))
    assert refused.returncode != 0
    assert "--force" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert dump(target_db) == before

    forced = evald_cmd(tmp_path, "restore", str(source_backup), "--force", "--database-url",
                       sqlite_url(target_db))
    assert forced.returncode == 0, forced.stderr
    assert dump(target_db) == dump(source_db)


# --- serve and the schema version --------------------------------------------------------------

def _serve_expecting_exit(tmp_path: Path, env: dict):
    full = default_env(free_port())
    full.update(env)
    return run_evald(["serve"], env=full, cwd=tmp_path, timeout=15)


@pytest.mark.parametrize("migrate_on_start", ["true", "false"])
def test_serve_refuses_a_schema_newer_than_itself(tmp_path, migrate_on_start):
    db = tmp_path / "newer.db"
    migrate(tmp_path, sqlite_url(db))
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO schema_migrations (version, name, applied_at) "
                    "VALUES (999, 'from the future', '2030-01-01T00:00:00.000Z')")
    p = _serve_expecting_exit(tmp_path, {"DATABASE_URL": sqlite_url(db),
                                         "MIGRATE_ON_START": migrate_on_start})
    assert p.returncode != 0
    out = p.stderr + p.stdout
    assert "newer" in out, out
    assert "999" in out, out
    assert schema_version(db) == 999


def test_serve_without_migrate_on_start_needs_evald_migrate(tmp_path):
    db = tmp_path / "empty.db"
    p = _serve_expecting_exit(tmp_path, {"DATABASE_URL": sqlite_url(db),
                                         "MIGRATE_ON_START": "false"})
    assert p.returncode != 0
    assert "evald migrate" in p.stderr, p.stderr
    with sqlite3.connect(db) as con:
        tables = con.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    assert tables[0] == 0, "serve created tables although MIGRATE_ON_START=false"


def test_serve_on_a_fresh_postgres_migrates_and_answers(evald, fresh_pg_url, psql):
    srv = evald(env={"DATABASE_URL": fresh_pg_url})
    assert srv.running
    version = int(psql(fresh_pg_url, "SELECT MAX(version) FROM schema_migrations"))
    assert version >= 1
    tables = psql(fresh_pg_url, "SELECT COUNT(*) FROM information_schema.tables "
                                "WHERE table_schema = 'public'")
    assert int(tables) >= 19
