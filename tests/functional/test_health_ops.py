"""Health checks and operations endpoints, against the real binary.

- The probes (/health/live, /health/ready, /health/) read the last background check (every
  HEALTH_CHECK_INTERVAL_MS, 200 ms in the tests); `Accept: application/health+json` gets the IETF
  draft format; /health/detailed and /health/history tell more.
- Who may call what: anonymous, evaluator, secretary, admin on every health and operations route.
- Readiness follows a PostgreSQL of the test's own, stopped and started again.
- Backups (POST/GET /admin/backups), /metrics/database, /status/comprehensive.
- POST /admin/shutdown: the SIGTERM drain (in-flight requests complete, readiness 503, exit 0),
  recorded as a security event.
- ADMIN_ALLOWED_CIDRS: admin and monitoring routes refuse clients outside it whatever their token,
  with one (throttled) security event per address.

A module-scoped server (SQLite, an admin, an evaluator, a secretary, HEALTH_HISTORY_SIZE=3, no
BACKUP_DIR) serves the tests that only read; tests that stop, corrupt or shut something down have
servers of their own. Every wait polls; nothing sleeps blindly.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from authkit import JWT_SECRET, create_user_cli, describe
from conftest import TIME_SCALE
from rawhttp import Conn, build_request

ROOT = Path(__file__).resolve().parents[2]
PG = ROOT / "scripts" / "test-postgres.sh"

ADMIN_LOGIN = "ops-admin"
ADMIN_PASSWORD = "Evald-Ops-Admin-2026!"
USER_PASSWORD = "Evald-Ops-User-2026!"
INTERVAL_MS = 200  # HEALTH_CHECK_INTERVAL_MS of conftest's default environment
HISTORY_SIZE = 3

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CHECK_NAMES = {"database", "redis", "mail_outbox", "disk", "system", "errors"}
CHECK_STATUSES = {"pass", "warn", "fail"}
COMPONENT_TYPES = {"datastore", "component", "system"}
OVERALL = {"healthy", "degraded", "unhealthy"}

# API.md: error_code -> (category, severity)
ERROR_TABLE = {
    "VALIDATION_ERROR": ("validation", "medium"),
    "AUTH_FAILED": ("authentication", "medium"),
    "INSUFFICIENT_PERMISSIONS": ("authorization", "medium"),
    "NOT_FOUND": ("business_logic", "low"),
    "BUSINESS_LOGIC_ERROR": ("business_logic", "medium"),
    "SECURITY_VIOLATION": ("security", "high"),
    "DATABASE_ERROR": ("database", "high"),
}
ERROR_KEYS = {"error", "error_code", "message", "details", "timestamp", "request_id", "severity",
              "category"}


# --- helpers -----------------------------------------------------------------------------------

def api_error(res: requests.Response, status: int, error_code: str) -> dict:
    """The standard error body of API.md with the category and severity of `error_code`."""
    assert res.status_code == status, describe(res)
    assert (res.headers.get("Content-Type") or "").lower().startswith("application/json"), \
        describe(res)
    body = res.json()
    missing = ERROR_KEYS - body.keys()
    assert not missing, f"error body lacks {missing}: {describe(res)}"
    assert body["error"] is True, describe(res)
    assert body["error_code"] == error_code, describe(res)
    assert (body["category"], body["severity"]) == ERROR_TABLE[error_code], describe(res)
    assert isinstance(body["message"], str) and body["message"], describe(res)
    assert isinstance(body["details"], list), describe(res)
    assert isinstance(body["timestamp"], str) and ISO_Z.match(body["timestamp"]), describe(res)
    assert body["request_id"] and res.headers.get("X-Request-ID") == body["request_id"], \
        describe(res)
    if status == 401:
        assert (res.headers.get("WWW-Authenticate") or "").split(" ")[0].lower() == "bearer", \
            describe(res)
    return body


def bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def wait_for(what: str, pred, timeout: float = 10.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def parse_iso(text: str) -> datetime:
    assert ISO_Z.match(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def login(srv, login_id: str, password: str, **headers) -> str:
    r = requests.post(srv.url("/auth/login"), json={"login_id": login_id, "password": password},
                      headers=headers, timeout=10)
    assert r.status_code == 200, describe(r)
    return r.json()["access_token"]


def base_env(db_url: str, **extra) -> dict:
    env = {"DATABASE_URL": db_url, "JWT_SECRET": JWT_SECRET, "ADMIN_LOGIN_ID": ADMIN_LOGIN,
           "ADMIN_PASSWORD": ADMIN_PASSWORD, "ADMIN_EMAIL": "ops-admin@example.org"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def check_health_json(res: requests.Response, expect_http: int) -> dict:
    """The draft-inadarei-api-health-check body of /health/ or /health/ready, checked in full."""
    assert res.status_code == expect_http, describe(res)
    assert res.headers.get("Content-Type", "").split(";")[0].strip() == \
        "application/health+json", describe(res)
    cc = [t.strip().lower() for t in res.headers.get("Cache-Control", "").split(",")]
    assert "no-store" in cc, describe(res)
    body = res.json()
    assert body["status"] in CHECK_STATUSES, body
    for key in ("version", "releaseId", "serviceId", "description"):
        assert isinstance(body.get(key), str) and body[key], (key, body)
    checks = body["checks"]
    assert isinstance(checks, dict), body
    names = set()
    statuses = []
    for key, entries in checks.items():
        name, _, measure = key.partition(":")
        assert measure in ("responseTime", "utilization", "status"), key
        assert isinstance(entries, list) and len(entries) == 1, (key, entries)
        e = entries[0]
        assert e["componentId"] == name, (key, e)
        assert e["componentType"] in COMPONENT_TYPES, (key, e)
        assert e["status"] in CHECK_STATUSES, (key, e)
        assert isinstance(e["time"], str) and ISO_Z.match(e["time"]), (key, e)
        if "observedUnit" in e or "observedValue" in e:
            assert isinstance(e["observedUnit"], str) and e["observedUnit"], (key, e)
            assert is_number(e["observedValue"]), (key, e)
            assert measure == ("responseTime" if e["observedUnit"] == "ms" else "utilization"), \
                (key, e)
        else:
            assert measure == "status", (key, e)
        if e["status"] != "pass":
            assert isinstance(e.get("output"), str) and e["output"], (key, e)
        names.add(name)
        statuses.append(e["status"])
    assert names == CHECK_NAMES, names
    db = checks["database:responseTime"][0]
    assert db["componentType"] == "datastore"
    assert db["observedUnit"] == "ms" and db["observedValue"] >= 0, db
    # The overall status follows the checks (database is the critical one).
    if db["status"] == "fail":
        assert body["status"] == "fail", body
    elif all(s == "pass" for s in statuses):
        assert body["status"] == "pass", body
    else:
        assert body["status"] == "warn", body
    return body


def check_snapshot_checks(checks: dict):
    """The `checks` object of /health/ready, /health/detailed and /status/comprehensive."""
    assert set(checks) == CHECK_NAMES, set(checks)
    for name, c in checks.items():
        assert c["status"] in CHECK_STATUSES, (name, c)
        if c["status"] != "pass":
            assert isinstance(c.get("detail"), str) and c["detail"], (name, c)
        if "response_time_ms" in c:
            assert is_number(c["response_time_ms"]) and c["response_time_ms"] >= 0, (name, c)


# --- the shared server -------------------------------------------------------------------------

class Ops:
    def __init__(self, srv):
        self.srv = srv
        self.http = requests.Session()
        self.tokens = {
            "anonymous": None,
            "evaluator": login(srv, "ops-eva", USER_PASSWORD),
            "secretary": login(srv, "ops-sec", USER_PASSWORD),
            "admin": login(srv, ADMIN_LOGIN, ADMIN_PASSWORD),
        }

    def url(self, path: str) -> str:
        return self.srv.url(path)

    def call(self, method: str, path: str, role: str = "anonymous", headers: dict | None = None,
             **kw) -> requests.Response:
        h = {**bearer(self.tokens[role]), **(headers or {})}
        return self.http.request(method, self.url(path), headers=h, timeout=10, **kw)

    def get(self, path: str, role: str = "anonymous", **kw) -> requests.Response:
        return self.call("GET", path, role, **kw)


@pytest.fixture(scope="module")
def ops(module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("ops")
    db_url = f"sqlite://{d}/ops.db"
    for login_id, role in (("ops-eva", "evaluator"), ("ops-sec", "secretary")):
        made = create_user_cli(db_url, login_id, role, f"{login_id}@example.org", USER_PASSWORD,
                               cwd=d)
        assert made.returncode == 0, made.stderr
    srv = module_evald(env=base_env(db_url, HEALTH_HISTORY_SIZE=HISTORY_SIZE))
    return Ops(srv)


# --- 1. roles ----------------------------------------------------------------------------------

ROLES = ("anonymous", "evaluator", "secretary", "admin")
PUBLIC = {"anonymous": 200, "evaluator": 200, "secretary": 200, "admin": 200}
SIGNED_IN = {"anonymous": 401, "evaluator": 200, "secretary": 200, "admin": 200}
STAFF = {"anonymous": 401, "evaluator": 403, "secretary": 200, "admin": 200}
ADMIN_ONLY = {"anonymous": 401, "evaluator": 403, "secretary": 403, "admin": 200}
ACCESS = [
    ("GET", "/ping", PUBLIC),
    ("GET", "/health/ping", PUBLIC),
    ("GET", "/health/live", PUBLIC),
    ("GET", "/health/ready", PUBLIC),
    ("GET", "/health/", PUBLIC),
    ("GET", "/health/detailed", SIGNED_IN),
    ("GET", "/health/history", STAFF),
    ("GET", "/health/metrics", ADMIN_ONLY),
    ("GET", "/metrics/database", ADMIN_ONLY),
    ("GET", "/metrics/rate-limiting", ADMIN_ONLY),
    ("GET", "/status/comprehensive", ADMIN_ONLY),
    ("GET", "/admin/error-logs", ADMIN_ONLY),
    ("GET", "/admin/error-stats", ADMIN_ONLY),
    # No BACKUP_DIR on this server: an admin gets 422 BUSINESS_LOGIC_ERROR (see below).
    ("GET", "/admin/backups", {**ADMIN_ONLY, "admin": 422}),
    ("POST", "/admin/backups", {**ADMIN_ONLY, "admin": 422}),
    # Not the admin here: that would stop the shared server (see the shutdown test).
    ("POST", "/admin/shutdown", {k: v for k, v in ADMIN_ONLY.items() if k != "admin"}),
]


@pytest.mark.parametrize("method,path,expect", ACCESS, ids=[f"{m} {p}" for m, p, _ in ACCESS])
def test_each_route_answers_each_role(ops, method, path, expect):
    for role, status in expect.items():
        r = ops.call(method, path, role)
        if status == 401:
            api_error(r, 401, "AUTH_FAILED")
        elif status == 403:
            api_error(r, 403, "INSUFFICIENT_PERMISSIONS")
        elif status == 422:
            api_error(r, 422, "BUSINESS_LOGIC_ERROR")
        else:
            assert r.status_code == status, (role, describe(r))
    assert ops.srv.running


def test_backups_without_backup_dir_are_422(ops):
    for method in ("POST", "GET"):
        body = api_error(ops.call(method, "/admin/backups", "admin"), 422, "BUSINESS_LOGIC_ERROR")
        assert "BACKUP_DIR" in body["message"], body


# --- 2. the probes -----------------------------------------------------------------------------

def test_live_ready_and_basic_health(ops):
    r = ops.get("/health/live")
    assert r.status_code == 200, describe(r)
    live = r.json()
    assert live["status"] == "alive" and is_number(live["uptime_seconds"]), live
    assert live["uptime_seconds"] >= 0

    r = ops.get("/health/ready")
    assert r.status_code == 200, describe(r)
    ready = r.json()
    assert ready["status"] == "ready", ready
    check_snapshot_checks(ready["checks"])
    db = ready["checks"]["database"]
    assert db["status"] in ("pass", "warn") and db["engine"] == "sqlite", db
    assert isinstance(db["schema_version"], int) and db["schema_version"] >= 1, db
    assert ISO_Z.match(ready["checked_at"]), ready
    # Every non-passing, non-critical check is a warning "name: detail".
    want = sorted(f"{n}: {c['detail']}" for n, c in ready["checks"].items()
                  if n != "database" and c["status"] != "pass")
    assert sorted(ready.get("warnings", [])) == want, ready

    r = ops.get("/health/")
    basic = r.json()
    assert basic["status"] in ("healthy", "degraded"), basic
    assert r.status_code == 200, describe(r)
    assert isinstance(basic["version"], str) and basic["version"], basic
    assert isinstance(basic["build"], str) and basic["build"], basic
    assert is_number(basic["uptime_seconds"]) and basic["uptime_seconds"] >= 0, basic
    ts = parse_iso(basic["timestamp"])
    assert abs((datetime.now(timezone.utc) - ts).total_seconds()) < 60, basic


def test_health_json_format_on_both_probes(ops):
    accept = {"Accept": "application/health+json"}
    for path in ("/health/", "/health/ready"):
        r = ops.get(path, headers=accept)
        body = check_health_json(r, 200)
        assert body["status"] in ("pass", "warn"), body
        assert body["serviceId"] == "evald"
        assert body["checks"]["database:responseTime"][0]["status"] in ("pass", "warn")
    # A plain JSON client does not get it.
    r = ops.get("/health/ready", headers={"Accept": "application/json"})
    assert r.headers["Content-Type"].startswith("application/json"), describe(r)
    assert r.json()["status"] == "ready"


def test_readiness_age_stays_below_a_few_intervals(ops):
    ages = []
    t_end = time.monotonic() + 8 * INTERVAL_MS / 1000
    while time.monotonic() < t_end:
        r = ops.get("/health/ready")
        assert r.status_code == 200, describe(r)
        ages.append(r.json()["age_ms"])
        time.sleep(0.03)
    assert len(ages) >= 5, ages
    assert all(isinstance(a, int) and a >= 0 for a in ages), ages
    # The checker runs every 200 ms: the snapshot read is never more than a few intervals old.
    assert max(ages) < 5 * INTERVAL_MS * TIME_SCALE, ages
    # ... and it is refreshed, not one snapshot read over and over.
    assert min(ages) < INTERVAL_MS + 100 * TIME_SCALE, ages


def test_detailed_health_has_every_check(ops):
    before = time.monotonic()
    r = ops.get("/health/detailed", "evaluator")
    assert r.status_code == 200, describe(r)
    d = r.json()
    assert d["status"] in OVERALL and d["status"] != "unhealthy", d
    assert d["ready"] is True
    assert d["environment"] == "test", d
    assert isinstance(d["version"], str) and d["version"], d
    assert isinstance(d["build"]["version"], str) and d["build"]["version"], d
    assert isinstance(d["build"]["commit"], str), d
    assert is_number(d["uptime_seconds"]) and d["uptime_seconds"] > 0, d
    assert isinstance(d["age_ms"], int) and 0 <= d["age_ms"] < 5 * INTERVAL_MS * TIME_SCALE, d
    assert ISO_Z.match(d["checked_at"]), d
    checks = d["checks"]
    check_snapshot_checks(checks)

    db = checks["database"]
    assert db["engine"] == "sqlite" and db["schema_version"] >= 1, db
    assert is_number(db["response_time_ms"]), db
    for k in ("open", "in_use", "idle", "max", "waits", "timeouts", "replaced"):
        assert isinstance(db["pool"][k], int) and db["pool"][k] >= 0, (k, db)
    assert db["pool"]["max"] >= 1

    redis = checks["redis"]
    assert redis["configured"] is False and redis["store"] == "local", redis
    assert redis["enabled"] is False, redis  # RATE_LIMIT_ENABLED=false in the tests

    outbox = checks["mail_outbox"]
    assert outbox["pending"] == 0 and outbox["smtp_configured"] is False, outbox
    assert outbox["status"] == "pass", outbox

    disk = checks["disk"]
    assert isinstance(disk["path"], str) and disk["path"], disk
    assert disk["total_bytes"] > 0 and 0 <= disk["free_bytes"] <= disk["total_bytes"], disk
    assert 0 <= disk["used_percent"] <= 100, disk

    system = checks["system"]
    assert system["cpus"] >= 1 and 0 <= system["cpu_percent"] <= 100 * system["cpus"], system
    assert 0 <= system["memory_used_percent"] <= 100, system
    assert system["memory_total_bytes"] > 0 and system["process_resident_bytes"] > 0, system
    assert system["process_threads"] >= 2, system
    assert 0 < system["open_fds"] <= system["max_fds"], system
    assert len(system["load_average"]) == 3, system
    assert system["open_connections"] >= 0 and system["requests_in_flight"] >= 0, system

    errors = checks["errors"]
    for k in ("requests", "server_errors", "requests_total", "client_errors_total",
              "server_errors_total"):
        assert isinstance(errors[k], int) and errors[k] >= 0, (k, errors)
    assert 0 <= errors["server_error_percent"] <= 100, errors
    assert isinstance(errors["errors_by_category"], dict), errors

    q = d["database_queries"]
    assert q["total"] > 0 and q["failures"] >= 0 and q["slow"] >= 0, q
    assert q["slow_threshold_ms"] == 200, q
    assert d["rate_limiting"]["store"] == "local", d
    assert set(d["error_log"]) == {"written", "dropped", "failed"}, d
    for role in ("secretary", "admin"):
        assert ops.get("/health/detailed", role).status_code == 200
    assert time.monotonic() - before < 5 * TIME_SCALE


def test_history_is_bounded_by_history_size(ops):
    r = ops.get("/health/history", "secretary")
    assert r.status_code == 200, describe(r)
    h = r.json()
    assert h["interval_ms"] == INTERVAL_MS, h
    # The module's server has been up for far more than HISTORY_SIZE intervals by now.
    first = h["items"]
    assert len(first) == HISTORY_SIZE, first

    def moved():
        items = ops.get("/health/history", "admin").json()["items"]
        return items if items[-1]["checked_at"] != first[-1]["checked_at"] else None
    later = wait_for("a newer snapshot in the history", moved, timeout=5)
    assert len(later) == HISTORY_SIZE, later
    for items in (first, later):
        times = [parse_iso(i["checked_at"]) for i in items]
        assert times == sorted(times) and len(set(times)) == len(times), items  # oldest first
        for i in items:
            assert i["status"] in OVERALL, i
            assert set(i["checks"]) == CHECK_NAMES, i
            for name, c in i["checks"].items():
                assert c["status"] in CHECK_STATUSES, (name, c)
                if "unit" in c:
                    assert is_number(c["value"]), (name, c)
            assert i["checks"]["database"]["unit"] == "ms", i
    # The window slides: the oldest entries fall out.
    assert parse_iso(later[0]["checked_at"]) > parse_iso(first[0]["checked_at"])


def test_history_grows_then_stays_bounded(evald, tmp_path):
    """On a fresh server the history starts with the start-up check and grows by one per
    interval until HEALTH_HISTORY_SIZE, never beyond it."""
    interval = 500
    env = base_env(f"sqlite://{tmp_path}/h.db", HEALTH_HISTORY_SIZE=HISTORY_SIZE,
                   HEALTH_CHECK_INTERVAL_MS=interval)
    # Sign in on a first server, so that the second, on the same database, is read at once.
    first = evald(env=env)
    token = login(first, ADMIN_LOGIN, ADMIN_PASSWORD)
    assert first.stop() == 0
    srv = evald(env=env)
    seen = []
    newest = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = requests.get(srv.url("/health/history"), headers=bearer(token), timeout=5)
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert body["interval_ms"] == interval
        items = body["items"]
        assert 1 <= len(items) <= HISTORY_SIZE, items
        if not newest or newest[-1] != items[-1]["checked_at"]:
            seen.append(len(items))
            newest.append(items[-1]["checked_at"])
        if len(newest) >= HISTORY_SIZE + 2:
            break
        time.sleep(0.05)
    assert len(newest) >= HISTORY_SIZE + 2, (seen, newest)
    assert seen == sorted(seen), seen  # it only grows
    assert seen[-2:] == [HISTORY_SIZE] * 2, seen  # and then stays at the bound
    assert seen[0] < HISTORY_SIZE, seen  # it did grow
    times = [parse_iso(t) for t in newest]
    assert times == sorted(times), newest


# --- 3. readiness with PostgreSQL down ---------------------------------------------------------

def test_probes_follow_postgresql_down_and_up(evald, own_postgres):
    url, pg_dir = own_postgres
    srv = evald(env={"DATABASE_URL": url, "DB_MIN_POOL_SIZE": "2"})
    live_statuses = []

    def probe(path, headers=None):
        live_statuses.append(requests.get(srv.url("/health/live"), timeout=5).status_code)
        return requests.get(srv.url(path), headers=headers or {}, timeout=5)

    def until(path, status, timeout):
        # (A 503 response is falsy: wrap it.)
        return wait_for(f"{path} to answer {status}",
                        lambda: (x := probe(path)).status_code == status and [x],
                        timeout=timeout)[0]

    r = probe("/health/ready")
    assert r.status_code == 200, describe(r)
    assert r.json()["checks"]["database"]["engine"] == "postgresql"
    assert probe("/health/").json()["status"] in ("healthy", "degraded")

    subprocess.run([str(PG), "stop", str(pg_dir)], check=True, capture_output=True, timeout=60)
    t_stop = time.monotonic()
    r = until("/health/ready", 503, timeout=10)
    took = time.monotonic() - t_stop
    # The database check runs every 200 ms: a few intervals (with slack for a loaded machine).
    assert took < 10 * INTERVAL_MS / 1000 * TIME_SCALE, f"ready turned 503 only after {took:.2f} s"
    body = r.json()
    assert body["status"] == "not_ready", body
    assert body["checks"]["database"]["status"] == "fail", body
    assert body["checks"]["database"]["detail"], body
    assert url not in r.text and "password" not in r.text.lower(), r.text

    r = until("/health/", 503, timeout=5)
    assert r.json()["status"] == "unhealthy", r.text
    hj = check_health_json(probe("/health/ready", {"Accept": "application/health+json"}), 503)
    assert hj["status"] == "fail"
    assert hj["checks"]["database:responseTime"][0]["status"] == "fail", hj
    hj = check_health_json(probe("/health/", {"Accept": "application/health+json"}), 503)
    assert hj["status"] == "fail"

    subprocess.run([str(PG), "restart", str(pg_dir)], check=True, capture_output=True,
                   timeout=60)
    r = until("/health/ready", 200, timeout=15)
    assert r.json()["status"] == "ready"
    assert r.json()["checks"]["database"]["status"] in ("pass", "warn")
    r = until("/health/", 200, timeout=5)
    assert r.json()["status"] in ("healthy", "degraded"), r.text
    check_health_json(probe("/health/ready", {"Accept": "application/health+json"}), 200)

    # Liveness never looked at the database.
    assert live_statuses and set(live_statuses) == {200}, live_statuses
    assert srv.running


# --- 4. backups ----------------------------------------------------------------------------------

def backup_server(evald, tmp_path, **extra):
    bdir = tmp_path / "backups"
    srv = evald(env=base_env(f"sqlite://{tmp_path}/b.db", BACKUP_DIR=bdir, **extra))
    token = login(srv, ADMIN_LOGIN, ADMIN_PASSWORD)
    return srv, token, bdir


def list_backups(srv, token) -> dict:
    r = requests.get(srv.url("/admin/backups"), headers=bearer(token), timeout=10)
    assert r.status_code == 200, describe(r)
    return r.json()


def post_backup(srv, token) -> dict:
    r = requests.post(srv.url("/admin/backups"), headers=bearer(token), timeout=30)
    assert r.status_code == 201, describe(r)
    return r.json()


def test_backup_is_written_and_listed_verified(evald, tmp_path):
    srv, token, bdir = backup_server(evald, tmp_path)
    made = post_backup(srv, token)
    assert set(made) >= {"name", "size_bytes", "sha256", "created_at", "rows",
                         "schema_version"}, made
    assert re.fullmatch(r"evald-\d{8}T\d{6}Z(-\d+)?\.evbak", made["name"]), made
    assert "/" not in made["name"]
    path = bdir / made["name"]
    assert path.is_file(), (made, sorted(p.name for p in bdir.iterdir()))
    data = path.read_bytes()
    assert made["size_bytes"] == len(data), made
    assert SHA256_HEX.match(made["sha256"]), made
    assert made["rows"] >= 1  # the admin at least
    assert isinstance(made["schema_version"], int) and made["schema_version"] >= 1
    created = parse_iso(made["created_at"])
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60, made
    # The file is the documented format: its end line carries the SHA-256 of every byte before
    # it, and the counts.
    lines = data.decode().splitlines(keepends=True)
    header, end = json.loads(lines[0]), json.loads(lines[-1])
    assert header["format"] == "evald-backup" and header["schema_version"] == \
        made["schema_version"], header
    assert end["end"] is True and end["rows"] == made["rows"], end
    assert end["sha256"] == hashlib.sha256("".join(lines[:-1]).encode()).hexdigest(), end

    listed = list_backups(srv, token)
    mine = [i for i in listed["items"] if i["name"] == made["name"]]
    assert len(mine) == 1, listed
    item = mine[0]
    assert item["verified"] is True and item["problem"] is None, item
    assert item["size_bytes"] == made["size_bytes"] and item["sha256"] == made["sha256"], item
    # Every item is a file of BACKUP_DIR (the scheduled one written at start-up is there too).
    on_disk = sorted(p.name for p in bdir.iterdir() if p.suffix == ".evbak")
    assert sorted(i["name"] for i in listed["items"]) == on_disk, (listed, on_disk)
    sched = listed["schedule"]
    assert set(sched) == {"successes", "failures", "last_success", "last_failure", "last_error",
                          "next_due"}, sched
    assert sched["successes"] >= 1 and sched["failures"] == 0, sched
    assert sched["last_failure"] is None and sched["last_error"] is None, sched
    assert ISO_Z.match(sched["last_success"]) and ISO_Z.match(sched["next_due"]), sched


def test_corrupt_backup_is_listed_unverified_with_a_problem(evald, tmp_path):
    srv, token, bdir = backup_server(evald, tmp_path)
    made = post_backup(srv, token)
    path = bdir / made["name"]
    data = path.read_bytes()
    # Alter one character of the admin's row (the JSON stays valid; the checksum does not).
    i = data.index(ADMIN_LOGIN.encode())
    path.write_bytes(data[:i] + b"X" + data[i + 1:])
    item = next(i for i in list_backups(srv, token)["items"] if i["name"] == made["name"])
    assert item["verified"] is False, item
    assert isinstance(item["problem"], str) and item["problem"], item
    assert "checksum" in item["problem"].lower() or "altered" in item["problem"].lower(), item
    assert item["sha256"] is None, item

    # Cut short: the end marker is gone.
    path.write_bytes(data[: len(data) // 2])
    item = next(i for i in list_backups(srv, token)["items"] if i["name"] == made["name"])
    assert item["verified"] is False and item["problem"], item
    assert item["size_bytes"] == len(data) // 2, item
    # The other (intact) backups are still verified.
    others = [i for i in list_backups(srv, token)["items"] if i["name"] != made["name"]]
    assert all(i["verified"] for i in others), others


def stamp_of(name: str) -> str:
    """The second a backup's name records ("20261128T041533Z")."""
    return name[len("evald-"):len("evald-") + 16]


# --- 5. /metrics/database and /status/comprehensive ---------------------------------------------

def test_database_metrics_rise_with_requests(ops):
    def read():
        r = ops.get("/metrics/database", "admin")
        assert r.status_code == 200, describe(r)
        return r.json()
    m0 = read()
    assert m0["engine"] == "sqlite"
    for k in ("open", "in_use", "idle", "max", "waits", "wait_ms_total", "timeouts",
              "failed_connects", "replaced"):
        assert is_number(m0["pool"][k]) and m0["pool"][k] >= 0, (k, m0["pool"])
    assert m0["pool"]["max"] >= 1
    q0 = m0["queries"]
    assert q0["slow_threshold_ms"] == 200 and q0["failures"] == 0, q0
    n = 3
    for _ in range(n):
        login(ops.srv, "ops-eva", USER_PASSWORD)
    m1 = read()
    q1 = m1["queries"]
    # A login reads the account and writes a session: two statements at least each.
    assert q1["total"] - q0["total"] >= 2 * n, (q0, q1)
    assert q1["failures"] == q0["failures"] and q1["slow"] >= q0["slow"], (q0, q1)
    stmts = m1["top_statements"]
    assert 1 <= len(stmts) <= 20, stmts
    for s in stmts:
        assert isinstance(s["sql"], str) and s["sql"], s
        assert s["count"] >= 1 and s["failures"] >= 0 and s["slow"] >= 0, s
        assert 0 <= s["mean_ms"] <= s["max_ms"] <= s["total_ms"] + 1e-9, s
    totals = [s["total_ms"] for s in stmts]
    assert totals == sorted(totals, reverse=True), totals  # the most total time first
    assert isinstance(m1["recent_slow_queries"], list)
    c = m1["cache"]
    assert 0 <= c["hit_rate"] <= 1, c
    lookups = c["hits"] + c["misses"]
    assert c["hit_rate"] == pytest.approx(c["hits"] / lookups if lookups else 0), c
    for k in ("entries", "evictions", "invalidations", "expirations"):
        assert c[k] >= 0, (k, c)


def test_comprehensive_status(ops):
    def read():
        r = ops.get("/status/comprehensive", "admin")
        assert r.status_code == 200, describe(r)
        return r.json()
    s0 = read()
    assert s0["environment"] == "test", s0
    assert isinstance(s0["version"], str) and s0["version"]
    assert isinstance(s0["build"]["version"], str) and "commit" in s0["build"], s0
    assert is_number(s0["uptime_seconds"]) and s0["uptime_seconds"] > 0
    assert ISO_Z.match(s0["timestamp"])
    h = s0["health"]
    assert h["status"] in ("healthy", "degraded") and h["ready"] is True, h
    check_snapshot_checks(h["checks"])
    assert 0 <= h["age_ms"] < 5 * INTERVAL_MS * TIME_SCALE, h
    rl = s0["rate_limiting"]
    assert rl["enabled"] is False and rl["store"] == "local", rl
    for k in ("total_requests", "blocked_requests", "bypassed_requests", "penalties_active"):
        assert isinstance(rl[k], int) and rl[k] >= 0, (k, rl)
    req = s0["requests"]
    assert req["in_flight"] >= 1, req  # this request
    assert req["total"] >= req["client_errors"] + req["server_errors"], req
    assert set(s0["error_log"]) == {"written", "dropped", "failed"}, s0
    assert s0["connections"]["open"] >= 1 and s0["connections"]["refused"] >= 0, s0
    assert s0["backups"] is None, s0  # no BACKUP_DIR here

    k = 4
    for i in range(k):
        assert ops.get(f"/no/such/ops/page/{i}").status_code == 404
    s1 = read()
    r0, r1 = s0["requests"], s1["requests"]
    # Exact: nothing else talks to this server; the first read is counted once answered.
    assert r1["total"] - r0["total"] == k + 1, (r0, r1)
    assert r1["client_errors"] - r0["client_errors"] == k, (r0, r1)
    assert r1["errors_by_code"].get("NOT_FOUND", 0) - r0["errors_by_code"].get("NOT_FOUND", 0) \
        == k, (r0, r1)
    assert r1["errors_by_category"].get("business_logic", 0) - \
        r0["errors_by_category"].get("business_logic", 0) == k, (r0, r1)
    assert r1["server_errors"] == r0["server_errors"], (r0, r1)


def test_comprehensive_status_reports_backups(evald, tmp_path):
    srv, token, _ = backup_server(evald, tmp_path)
    wait_for("the start-up backup", lambda: list_backups(srv, token)["schedule"]["successes"] >= 1)
    r = requests.get(srv.url("/status/comprehensive"), headers=bearer(token), timeout=10)
    assert r.status_code == 200, describe(r)
    b = r.json()["backups"]
    assert b["successes"] >= 1 and b["failures"] == 0, b
    assert ISO_Z.match(b["last_success"]) and ISO_Z.match(b["next_due"]), b


# --- 6. shutdown -------------------------------------------------------------------------------

def events_of(srv, token, **params) -> list[dict]:
    r = requests.get(srv.url("/auth/security-events?" + urlencode(dict(params, limit=200))),
                     headers=bearer(token), timeout=10)
    assert r.status_code == 200, describe(r)
    return r.json()["items"]


def test_admin_shutdown_drains_and_is_a_security_event(evald, tmp_path):
    db_url = f"sqlite://{tmp_path}/shutdown.db"
    env = base_env(db_url, DRAIN_TIMEOUT_MS=5000)
    srv = evald(env=env)
    token = login(srv, ADMIN_LOGIN, ADMIN_PASSWORD)
    admin_id = requests.get(srv.url("/auth/me"), headers=bearer(token), timeout=5).json()["id"]

    slow_result = {}

    def slow():
        t = time.monotonic()
        try:
            r = requests.get(srv.url("/_test/sleep?ms=800"), timeout=10)
            slow_result.update(status=r.status_code, body=r.json(), took=time.monotonic() - t)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            slow_result.update(error=repr(e))

    with Conn(srv.port, timeout=10) as probe:  # opened before the drain begins
        th = threading.Thread(target=slow)
        th.start()

        def in_flight():
            r = requests.get(srv.url("/status/comprehensive"), headers=bearer(token), timeout=5)
            return r.json()["requests"]["in_flight"] >= 2  # this one and the sleep
        wait_for("the slow request to be in flight", in_flight, timeout=5, step=0.01)

        r = requests.post(srv.url("/admin/shutdown"), headers=bearer(token), timeout=5)
        assert r.status_code == 202, describe(r)
        assert r.json()["status"] == "shutting_down", r.text
        assert r.json()["drain_timeout_ms"] == 5000, r.text

        probe.send(build_request("GET", "/health/ready"))
        ready = probe.read_response()
        assert ready.status == 503, ready
        assert ready.json()["status"] == "not_ready", ready
        assert ready.json()["checks"]["shutdown"]["status"] == "fail", ready
        th.join(10)
    assert not th.is_alive()
    assert slow_result.get("status") == 200, slow_result
    assert slow_result["body"] == {"slept_ms": 800}, slow_result
    assert srv.wait_exit(10) == 0, srv.log_tail()

    # A new server on the same database shows the event.
    again = evald(env=env)
    token = login(again, ADMIN_LOGIN, ADMIN_PASSWORD)
    events = events_of(again, token, event_type="admin_shutdown")
    assert len(events) == 1, events
    ev = events[0]
    assert ev["user_id"] == admin_id, ev
    assert ev["ip_address"] == "127.0.0.1", ev
    assert "shutdown" in (ev["details"] or ""), ev
    assert ISO_Z.match(ev["created_at"]), ev


# --- 7. ADMIN_ALLOWED_CIDRS --------------------------------------------------------------------

OUTSIDE = "203.0.113.7"
INSIDE = "10.1.2.3"
NETWORK_ROUTES = [
    ("GET", "/admin/backups"),
    ("POST", "/admin/backups"),
    ("GET", "/admin/error-logs"),
    ("GET", "/admin/error-stats"),
    ("DELETE", "/admin/rate-limits/per_ip/192.0.2.1"),
    ("GET", "/metrics/database"),
    ("GET", "/metrics/rate-limiting"),
    ("GET", "/status/comprehensive"),
    ("GET", "/health/metrics"),
    ("GET", "/health/detailed"),
    ("GET", "/health/history"),
    ("POST", "/admin/shutdown"),  # last: were it let through, the server would stop
]


def test_admin_network_refuses_outsiders_whatever_their_token(evald, tmp_path):
    srv = evald(env=base_env(f"sqlite://{tmp_path}/net.db", ADMIN_ALLOWED_CIDRS="10.0.0.0/8",
                             TRUSTED_PROXIES="127.0.0.1", BACKUP_DIR=tmp_path / "backups"))
    token = login(srv, ADMIN_LOGIN, ADMIN_PASSWORD, **{"X-Forwarded-For": OUTSIDE})
    s = requests.Session()

    def call(method, path, ip=None, tok=token):
        h = bearer(tok)
        if ip:
            h["X-Forwarded-For"] = ip
        return s.request(method, srv.url(path), headers=h, timeout=10)

    # From inside: the admin is served.
    for method, path in NETWORK_ROUTES:
        if method != "GET":
            continue
        r = call(method, path, INSIDE)
        assert r.status_code == 200, describe(r)

    # From outside: refused, with a token or without; the other routes are unaffected.
    for method, path in NETWORK_ROUTES:
        api_error(call(method, path, OUTSIDE), 403, "SECURITY_VIOLATION")
        api_error(call(method, path, OUTSIDE, tok=None), 403, "SECURITY_VIOLATION")
    for path in ("/auth/me", "/health/ready", "/health/live", "/health/", "/ping"):
        r = call("GET", path, OUTSIDE)
        assert r.status_code == 200, describe(r)
    # The socket peer 127.0.0.1 without X-Forwarded-For is outside 10.0.0.0/8 too.
    api_error(call("GET", "/metrics/database"), 403, "SECURITY_VIOLATION")
    assert srv.running
    # The refused POST /admin/backups wrote nothing: only the start-up backup is there.
    def backups_inside():
        r = call("GET", "/admin/backups", INSIDE)
        assert r.status_code == 200, describe(r)
        return r.json()
    wait_for("the start-up backup", lambda: backups_inside()["schedule"]["successes"] >= 1)
    listed = backups_inside()
    assert listed["schedule"]["successes"] == 1 and len(listed["items"]) == 1, listed

    # One security event for OUTSIDE despite all those refusals (throttled per address). A last
    # refusal from another address marks the point by which OUTSIDE's event was queued.
    marker = "203.0.113.99"
    api_error(call("GET", "/health/detailed", marker), 403, "SECURITY_VIOLATION")
    kind = "authz_admin_network_refused"

    def both_recorded():
        evs = events_of(srv, token, event_type=kind)
        ips = [e["ip_address"] for e in evs]
        return evs if OUTSIDE in ips and marker in ips else None
    wait_for("the refusal events", both_recorded, timeout=5)
    # Give the background writer time to record anything still queued behind the marker.
    time.sleep(0.5)
    evs = events_of(srv, token, event_type=kind)
    outside = [e for e in evs if e["ip_address"] == OUTSIDE]
    assert len(outside) == 1, evs
    ev = outside[0]
    assert ev["user_id"] is None, ev  # refused before authentication
    assert "ADMIN_ALLOWED_CIDRS" in (ev["details"] or ""), ev
    assert {e["ip_address"] for e in evs} == {OUTSIDE, marker, "127.0.0.1"}, evs


# --- known defects (kept last) ---------------------------------------------------------------

def test_backup_sha256_is_the_sha256_of_the_file(evald, tmp_path):
    """The sha256 answered (and listed) next to the file's name and size is the one an operator
    checks a copied backup with: hashlib.sha256 (or sha256sum) of the file."""
    srv, token, bdir = backup_server(evald, tmp_path)
    made = post_backup(srv, token)
    data = (bdir / made["name"]).read_bytes()
    whole = hashlib.sha256(data).hexdigest()
    before_end = hashlib.sha256(data[:data.rstrip(b"\n").rfind(b"\n") + 1]).hexdigest()
    assert made["sha256"] == whole, (
        f"POST /admin/backups answered sha256 {made['sha256']}, but sha256 of the file is "
        f"{whole} (the answer {'equals' if made['sha256'] == before_end else 'is not even'} "
        f"the SHA-256 of the bytes before the end line)")
    item = next(i for i in list_backups(srv, token)["items"] if i["name"] == made["name"])
    assert item["sha256"] == whole, item


def test_backups_are_listed_newest_first_within_one_second(evald, tmp_path):
    """Two backups in the same second get distinct names ("...Z.evbak", "...Z-1.evbak"); the
    listing is still newest first."""
    srv, token, bdir = backup_server(evald, tmp_path, BACKUP_KEEP=50)
    # The scheduled start-up backup is written in the background: wait for it, it comes first.
    wait_for("the start-up backup", lambda: list_backups(srv, token)["schedule"]["successes"] >= 1)
    written = [i["name"] for i in list_backups(srv, token)["items"]]
    assert len(written) == 1, written
    for _attempt in range(5):
        # Start just after a second boundary, so that two quick backups share their second.
        wait_for("a second boundary", lambda: time.time() % 1 < 0.2, timeout=2, step=0.01)
        written += [post_backup(srv, token)["name"], post_backup(srv, token)["name"]]
        if stamp_of(written[-1]) == stamp_of(written[-2]):
            break
    else:
        pytest.fail("could not make two backups within one second in 5 attempts")
    assert len(set(written)) == len(written), written
    listed = [i["name"] for i in list_backups(srv, token)["items"]]
    assert listed == written[::-1], \
        f"written in the order {written}, but listed (newest first) as {listed}"


def test_pruning_keeps_the_backup_just_written(evald, tmp_path):
    """BACKUP_KEEP=1: every backup replaces the previous one, and the one POST answers exists,
    even when it shares its second with the previous one."""
    srv, token, bdir = backup_server(evald, tmp_path, BACKUP_KEEP=1)
    wait_for("the start-up backup", lambda: list_backups(srv, token)["schedule"]["successes"] >= 1)
    for _attempt in range(5):
        wait_for("a second boundary", lambda: time.time() % 1 < 0.2, timeout=2, step=0.01)
        before = {p.name for p in bdir.iterdir()}
        made = post_backup(srv, token)
        if stamp_of(made["name"]) in {stamp_of(n) for n in before}:
            break
    else:
        pytest.fail("could not make a backup within the second of the previous one")
    on_disk = sorted(p.name for p in bdir.iterdir() if p.suffix == ".evbak")
    assert on_disk == [made["name"]], \
        f"POST answered {made['name']} but BACKUP_DIR holds {on_disk} (kept: 1)"
