"""Fault drills on the storage (issue 10): PostgreSQL restarted under load, `kill -9` of evald
during a stream of SQLite writes, and the SQLite file's disk full.

Each drill runs a stream of writes (drillkit.WriteStream: client threads creating projects with
names of their own) and keeps every answer; a write counts as acknowledged when it was answered
201, and every acknowledged write must be in the database afterwards.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import assert_error, describe  # noqa: E402
from conftest import PG_SCRIPT, _psql  # noqa: E402
from drillkit import WriteStream, small_fs  # noqa: E402

JWT_SECRET = "storage-drill-jwt-secret-0123456789abcdef"
ADMIN = "drilladmin"
ADMIN_PASSWORD = "Evald-Storage-Drill-2026!"


def start(evald, db_url: str, **env):
    return evald(env={"DATABASE_URL": db_url, "JWT_SECRET": JWT_SECRET, "ADMIN_LOGIN_ID": ADMIN,
                      "ADMIN_PASSWORD": ADMIN_PASSWORD, "ADMIN_EMAIL": "drill@example.org",
                      **{k: str(v) for k, v in env.items()}})


def login(srv) -> str:
    r = requests.post(srv.url("/auth/login"), json={"login_id": ADMIN, "password": ADMIN_PASSWORD},
                      timeout=10)
    assert r.status_code == 200, describe(r)
    return r.json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sqlite_integrity(path: Path) -> str:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return "; ".join(row[0] for row in db.execute("PRAGMA integrity_check"))
    finally:
        db.close()


def sqlite_names(path: Path, prefix: str) -> set[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return {r[0] for r in db.execute("SELECT name FROM projects WHERE name LIKE ?",
                                         (prefix + "%",))}
    finally:
        db.close()


# --- PostgreSQL restarted under load --------------------------------------------------------------

def test_postgresql_restarted_under_load(evald, own_postgres):
    """Writes and reads run while PostgreSQL stops (fast shutdown, as a restart does) and starts
    again: while it is down the answers are 503 DATABASE_ERROR in the standard body, never a
    500 nor a hang; once it is back every request succeeds again, the same evald process
    serving; and every write acknowledged before, during or after is in the database."""
    url, pg_dir = own_postgres
    srv = start(evald, url, DB_MIN_POOL_SIZE=4)
    pid = srv.pid
    token = login(srv)
    stream = WriteStream(srv, token, threads=4, read_every=2)
    with stream:
        stream.wait_for_acks(40, timeout=20, what="writes before the stop")
        stop_at = time.monotonic()
        subprocess.run([str(PG_SCRIPT), "stop", str(pg_dir)], check=True, capture_output=True,
                       timeout=60)
        down_at = time.monotonic()
        stream.wait_for(lambda r: r.status == 503 and r.t0 > down_at, 20, timeout=20,
                        what="503 answers while PostgreSQL is down")
        subprocess.run([str(PG_SCRIPT), "restart", str(pg_dir)], check=True,
                       capture_output=True, timeout=60)
        up_at = time.monotonic()
        first_ok = stream.wait_for(lambda r: r.ok and r.t0 > up_at, 1, timeout=20,
                                   what="a success after the restart")[0].t1
        stream.wait_for(lambda r: r.ok and r.t0 > first_ok, 60, timeout=20,
                        what="successes after the recovery")
    results = stream.results
    errors = [r for r in results if r.error]
    assert not errors, f"requests without an answer: {[r.error for r in errors[:5]]}"
    odd = [r for r in results if not r.ok and r.status != 503]
    assert not odd, f"answers other than success or 503: {[r.describe() for r in odd[:5]]}"
    for r in results:
        if r.status == 503:
            assert r.body.get("error_code") == "DATABASE_ERROR", r.describe()
            assert r.body.get("category") == "database" and r.body.get("request_id"), r.describe()
            assert url not in r.text, "the connection string leaked into an answer"
    # 503 only around the outage: none answered to a request sent before the stop, or sent
    # once a first success after the restart had been answered.
    late = [r for r in results if r.status == 503 and r.t0 > first_ok]
    assert not late, (f"{len(late)} requests failed after the recovery "
                      f"({first_ok - up_at:.2f} s after the restart): "
                      f"{[r.describe() for r in late[:3]]}")
    early = [r for r in results if r.status == 503 and r.t1 < stop_at]
    assert not early, [r.describe() for r in early[:3]]
    slow = [r for r in results if r.t1 - r.t0 > 5]
    assert not slow, f"requests that took over 5 s: {[r.describe() for r in slow[:3]]}"
    # Nothing acknowledged is lost.
    stored = set(_psql(url, f"SELECT name FROM projects WHERE name LIKE '{stream.prefix}%'")
                 .split())
    acked = stream.acked_names()
    assert len(acked) >= 60, len(acked)
    assert acked - stored == set(), f"acknowledged but not stored: {sorted(acked - stored)[:10]}"
    # The same process, ready again.
    assert srv.running and srv.pid == pid
    r = requests.get(srv.url("/health/ready"), timeout=10)
    deadline = time.monotonic() + 10
    while r.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        r = requests.get(srv.url("/health/ready"), timeout=10)
    assert r.status_code == 200, describe(r)


# --- kill -9 during SQLite writes -----------------------------------------------------------------

KILL_ROUNDS = 3


def test_kill_9_during_sqlite_writes_loses_nothing_acknowledged(evald, tmp_path):
    """Three times: a stream of writes (single projects, and batches of 50 companies, each
    one transaction), then SIGKILL in the middle of it. After each kill the file passes
    PRAGMA integrity_check, every acknowledged write is there, and every batch is there whole
    or not at all; a restarted evald serves every acknowledged project."""
    path = tmp_path / "kill9.db"
    url = f"sqlite://{path}"
    acked: set[str] = set()
    acked_ids: list[str] = []
    prefix = None
    batches_acked = 0
    for round_ in range(KILL_ROUNDS):
        srv = start(evald, url)
        token = login(srv)
        r = requests.post(srv.url("/api/projects"), json={"name": f"batches {round_}"},
                          headers=bearer(token), timeout=10)
        assert r.status_code == 201, describe(r)
        stream = WriteStream(srv, token, threads=3, batch_project=r.json()["id"],
                             prefix=prefix)
        prefix = stream.prefix
        with stream:
            stream.wait_for_acks(30 + 10 * round_, timeout=30, what="writes before the kill")
            srv.send_signal(signal.SIGKILL)
            assert srv.wait_exit(10) == -signal.SIGKILL
        acked |= stream.acked_names()
        acked_ids += [r.body["id"] for r in stream.results if r.ok and r.kind == "project"]
        batches_acked += sum(1 for r in stream.results if r.ok and r.kind == "batch")
        assert sqlite_integrity(path) == "ok"
        stored = sqlite_names(path, prefix)
        assert acked - stored == set(), \
            f"round {round_}: acknowledged but lost: {sorted(acked - stored)[:10]}"
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            sizes = [n for (n,) in db.execute(
                "SELECT COUNT(*) FROM companies WHERE name LIKE ? "
                "GROUP BY project_id, substr(name, 1, instr(name, '#'))", (prefix + "%",))]
        finally:
            db.close()
        assert all(n == WriteStream.BATCH for n in sizes), \
            f"round {round_}: a batch was stored in part: {sizes}"
        assert len(sizes) >= batches_acked, (len(sizes), batches_acked)
    assert batches_acked >= 1, "no batch was acknowledged: the drill proves less than it says"
    srv = start(evald, url)
    token = login(srv)
    with requests.Session() as s:
        for pid in acked_ids:
            r = s.get(srv.url(f"/api/projects/{pid}"), headers=bearer(token), timeout=10)
            assert r.status_code == 200, describe(r)


# --- disk full for the SQLite file ----------------------------------------------------------------

def test_disk_full_writes_fail_cleanly_reads_go_on_and_it_recovers(evald, tmp_path):
    with small_fs(16) as fs:
        path = fs.path / "full.db"
        srv = start(evald, f"sqlite://{path}")
        try:
            # A second session, used only once the disk is full, whose sliding expiry is due then
            # (it is the older of the two: it is aged below).
            late_token = login(srv)
            time.sleep(0.05)
            token = login(srv)
            stream = WriteStream(srv, token, threads=1, description_bytes=4000)
            before = stream.write_some(20)
            assert all(r.ok for r in before), [r.describe() for r in before if not r.ok]
            db = sqlite3.connect(str(path), timeout=10)
            db.execute("UPDATE sessions SET last_activity = '2000-01-01T00:00:00.000Z' "
                       "WHERE created_at = (SELECT MIN(created_at) FROM sessions)")
            db.commit()
            db.close()

            fs.fill()
            # Writes go on while SQLite still has room in its files, then fail: 503 in the
            # standard body, never a 500.
            during = []
            for _ in range(3000):
                during += stream.write_some(1)
                if during[-1].status == 503:
                    break
            failed = [r for r in during if not r.ok]
            assert failed, (f"no write failed after {len(during)} writes on a full file system "
                            f"({fs.kind}, {fs.free_bytes()} bytes free)")
            more = stream.write_some(5)
            for r in failed + more:
                assert r.status == 503, r.describe()
                assert r.body["error_code"] == "DATABASE_ERROR", r.describe()
                assert r.body["category"] == "database", r.describe()
            # Reads keep working, for a session whose expiry would slide now as well.
            sessions = (("the session in use", token), ("the session due a touch", late_token))
            for which, t in sessions:
                for route in ("/auth/me", "/api/projects?limit=5"):
                    r = requests.get(srv.url(route), headers=bearer(t), timeout=10)
                    assert r.status_code == 200, f"{which}: {describe(r)}"
            first = before[0].body["id"]
            r = requests.get(srv.url(f"/api/projects/{first}"), headers=bearer(token), timeout=10)
            assert r.status_code == 200, describe(r)
            assert requests.get(srv.url("/health/live"), timeout=10).status_code == 200
            assert sqlite_integrity(path) == "ok"

            # Space comes back: writes succeed again, without a restart.
            fs.release()
            deadline = time.monotonic() + 10
            while not (after := stream.write_some(1))[0].ok:
                assert after[0].status == 503, after[0].describe()
                assert time.monotonic() < deadline, "writes still fail 10 s after space came back"
                time.sleep(0.1)
            after += stream.write_some(10)
            assert all(r.ok for r in after), [r.describe() for r in after if not r.ok]
            assert srv.running
            assert sqlite_integrity(path) == "ok"
            acked = stream.acked_names()
            stored = sqlite_names(path, stream.prefix)
            assert acked - stored == set(), sorted(acked - stored)[:10]
            assert_error(requests.post(srv.url("/api/projects"), json={"name": ""},
                                       headers=bearer(token), timeout=10), 400, "VALIDATION_ERROR")
            assert srv.stop() == 0
        finally:
            srv.stop()  # before the file system goes, whatever happened
