"""The error log: every 5xx, 401, 403, 423 and 429 answered becomes one error_log row (code,
category, severity, status, request id, user, method, route template, client IP, user agent,
time), written in batches within ERROR_LOG_FLUSH_MS; never a header, body, token or password.
GET /admin/error-logs (filters, cursor paging, admin only), GET /admin/error-stats (exact counts
on a fresh server), and pruning after ERROR_LOG_RETENTION_DAYS, on SQLite and PostgreSQL.

Writes are asynchronous: every check polls (FLUSH_MS is 50 ms here) and never assumes a row is
there the moment the response arrives.

Two tests show server defects (at the time of writing): test_impossible_times_are_refused
(since/until are checked for shape only) and test_rate_limited_signed_in_user_is_named (a 429
entry never names the signed-in user).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
import requests

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import (ADMIN_LOGIN, ADMIN_PASSWORD, ISO_Z, Login, Stack, assert_error, describe,
                     detail_fields, forge, jwt_claims, unique)
from conftest import _psql

pytest_plugins = ["authkit"]  # fixtures: db_url, sqlite_url, stack_factory

FLUSH = {"ERROR_LOG_FLUSH_MS": 50}
POLL_S = 8.0

# API.md's table, for the codes this file meets.
CODES = {
    "AUTH_FAILED": (401, "authentication", "medium"),
    "ACCOUNT_LOCKED": (423, "authentication", "medium"),
    "INSUFFICIENT_PERMISSIONS": (403, "authorization", "medium"),
    "RATE_LIMIT_EXCEEDED": (429, "security", "medium"),
    "INTERNAL_SERVER_ERROR": (500, "system", "critical"),
}
ENTRY_KEYS = {"id", "error_code", "category", "severity", "status", "request_id", "user_id",
              "method", "route", "client_ip", "user_agent", "created_at"}
ISO_MS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"

# Secrets sent in bodies, headers and query strings; none may reach the table.
PW_JSON = "Json-Body-Secret-Pw-81!"
PW_JSON_400 = "Json-Body-Secret-Pw-400?"
PW_FORM = "Form-Body-Secret-Pw-92!"
PW_LOCK = "Lockout-Wrong-Secret-Pw-7"
COOKIE_SECRET = "cookie-session-secret-5be1c0ffee"
HEADER_SECRET = "x-api-key-secret-0f0f0f0f0f"
RESET_Q1 = "reset-token-in-query-AAAA1111bbbb"
RESET_Q2 = "reset-token-in-query-CCCC2222dddd"
BASIC_SECRET = "basic-auth-secret-pw-3c3c"


def iso_ms(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{t.microsecond // 1000:03d}Z"


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


# --- reading the log ---------------------------------------------------------------------------

def list_page(st: Stack, token: str, **params) -> requests.Response:
    """One page of GET /admin/error-logs (":" left unencoded, as in the security-event tests)."""
    return st.get("/admin/error-logs?" + urlencode(params, safe=":"), token)


def all_entries(st: Stack, token: str, **params) -> list[dict]:
    items, cursor = [], None
    for _ in range(200):
        q = dict(params, limit=200)
        if cursor:
            q["cursor"] = cursor
        res = list_page(st, token, **q)
        assert res.status_code == 200, describe(res)
        body = res.json()
        assert set(body) == {"items", "next_cursor"}, body
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("error-logs paging did not end")


def wait_for(st: Stack, token: str, request_ids, timeout: float = POLL_S) -> list[dict]:
    """All entries, once every one of `request_ids` is among them."""
    want = set(request_ids)
    deadline = time.monotonic() + timeout
    while True:
        items = all_entries(st, token)
        missing = want - {e["request_id"] for e in items}
        if not missing:
            return items
        if time.monotonic() > deadline:
            raise AssertionError(f"no error log entry within {timeout} s for request ids "
                                 f"{sorted(missing)}; entries: {items}")
        time.sleep(0.05)


def db_rows(url: str) -> list[dict]:
    """Every error_log row, read from the database itself (not through evald)."""
    if url.startswith("sqlite://"):
        con = sqlite3.connect(f"file:{url[len('sqlite://'):]}?mode=ro", uri=True, timeout=10)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute("SELECT * FROM error_log")]
        finally:
            con.close()
    out = _psql(url, "SELECT row_to_json(e)::text FROM error_log e")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def db_exec(url: str, sql: str, params: tuple = ()):
    """One write statement on the database itself (the server must be stopped for SQLite)."""
    if url.startswith("sqlite://"):
        con = sqlite3.connect(url[len("sqlite://"):], timeout=10)
        try:
            con.execute(sql, params)
            con.commit()
        finally:
            con.close()
    else:
        # Only literals this file makes (ids and timestamps): no quoting issue.
        for p in params:
            sql = sql.replace("?", f"'{p}'" if isinstance(p, str) else str(p), 1)
        _psql(url, sql)


def insert_row(url: str, row_id: str, created_at: str, code: str = "INTERNAL_SERVER_ERROR"):
    status, category, severity = CODES[code]
    db_exec(url, "INSERT INTO error_log (id, error_code, category, severity, status, request_id, "
                 "method, route, client_ip, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row_id, code, category, severity, status, "rid-" + row_id, "GET", "/_test/throw",
             "127.0.0.1", created_at))


def check_entry(e: dict, sent: "Sent"):
    assert set(e) == ENTRY_KEYS, e
    status, category, severity = CODES[sent.code]
    assert e["error_code"] == sent.code, (sent.label, e)
    assert e["status"] == sent.res.status_code == status, (sent.label, e)
    assert e["category"] == category and e["severity"] == severity, (sent.label, e)
    assert e["request_id"] == sent.res.headers["X-Request-ID"], (sent.label, e)
    assert e["user_id"] == sent.user_id, (sent.label, e)
    assert e["method"] == sent.method, (sent.label, e)
    assert e["route"] == sent.route, (sent.label, e)
    assert e["client_ip"] == "127.0.0.1", (sent.label, e)
    assert e["user_agent"] == sent.ua[:256], (sent.label, e)
    assert isinstance(e["id"], str) and e["id"], e
    assert re.match(ISO_MS, e["created_at"]), e
    sent_at = ts(e["created_at"])
    assert sent.before - timedelta(seconds=2) <= sent_at <= sent.after + timedelta(seconds=2), \
        (sent.label, e, sent.before, sent.after)


# --- one server with a known history -----------------------------------------------------------

@dataclass
class Sent:
    label: str
    res: requests.Response
    code: str | None
    method: str
    route: str
    user_id: str | None
    ua: str
    before: datetime
    after: datetime

    @property
    def request_id(self) -> str:
        return self.res.headers["X-Request-ID"]


@dataclass
class World:
    st: Stack
    admin: Login
    ev: Login
    sec: Login
    logged: list[Sent] = field(default_factory=list)
    unlogged: list[Sent] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    snapshot: list[dict] = field(default_factory=list)  # the whole log once the history is in

    def send(self, label, method, path, status, code=None, route=None, token=None,
             user_id=None, ua=None, headers=None, **kw) -> Sent:
        ua = ua or f"errlog-agent/{label}"
        h = {"User-Agent": ua, **(headers or {})}
        before = datetime.now(timezone.utc)
        res = self.st.call(method, path, token, headers=h, **kw)
        after = datetime.now(timezone.utc)
        allowed = status if isinstance(status, tuple) else (status,)
        assert res.status_code in allowed, f"{label}: {describe(res)}"
        if code is None:
            code = res.json()["error_code"] if res.status_code >= 400 else None
        s = Sent(label, res, code, method, route or path.split("?")[0], user_id, ua, before,
                 after)
        (self.logged if res.status_code in (401, 403, 423, 429) or res.status_code >= 500
         else self.unlogged).append(s)
        return s

    def by_label(self, label: str) -> Sent:
        return next(s for s in self.logged + self.unlogged if s.label == label)


def build_world(st: Stack) -> World:
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    ev_acct = st.create_user("evaluator")
    sec_acct = st.create_user("secretary")
    victim = st.create_user("evaluator")
    ev, sec = st.login(ev_acct), st.login(sec_acct)
    doomed = st.login(ev_acct)  # a session to revoke
    w = World(st, admin, ev, sec)
    forged = forge({"sub": ev.user_id, "role": "admin", "sid": "forged-sid-0123456789",
                    "exp": int(time.time()) + 3600}, secret="not-the-server-secret-0123456789ab")
    w.secrets = [PW_JSON, PW_JSON_400, PW_FORM, PW_LOCK, COOKIE_SECRET, HEADER_SECRET, RESET_Q1,
                 RESET_Q2, BASIC_SECRET, ADMIN_PASSWORD, ev_acct.password, victim.password,
                 forged, doomed.token, jwt_claims(doomed.token)["sid"]]
    for l in (admin, ev, sec):
        w.secrets += [l.token, jwt_claims(l.token)["sid"]]

    # 401: a wrong password as JSON (with a spoofed X-Forwarded-For and a secret header) ...
    w.send("login-json", "POST", "/auth/login", 401, "AUTH_FAILED",
           json={"login_id": unique("ghost-"), "password": PW_JSON},
           headers={"X-Forwarded-For": "203.0.113.7", "X-Api-Key": HEADER_SECRET})
    # ... and as a form.
    w.send("login-form", "POST", "/auth/login", 401, "AUTH_FAILED",
           data={"username": unique("ghost-"), "password": PW_FORM})
    # 401: a forged token; no token but a cookie, Basic credentials and a reset token in the query.
    w.send("forged-token", "GET", "/auth/me", 401, "AUTH_FAILED", token=forged)
    w.send("cookie-query", "GET", f"/auth/me?reset_token={RESET_Q1}&token={RESET_Q1}", 401,
           "AUTH_FAILED", headers={"Cookie": f"evald_session={COOKIE_SECRET}; token={RESET_Q2}"})
    w.send("basic-auth", "GET", "/auth/me", 401, "AUTH_FAILED",
           auth=("someone", BASIC_SECRET))
    # 401: a revoked session's token. Its signature is ours, so the entry names whose it was.
    assert st.post("/auth/logout", doomed.token).status_code == 200
    w.send("revoked-token", "GET", "/auth/me", 401, "AUTH_FAILED", token=doomed.token,
           user_id=doomed.user_id)
    # 403: a signed-in evaluator on an admin route, and on a route with a parameter.
    w.send("forbidden", "GET", "/admin/error-logs", 403, "INSUFFICIENT_PERMISSIONS",
           token=ev.token, user_id=ev.user_id)
    w.send("forbidden-template", "GET", f"/auth/lockout-status/{victim.login_id}", 403,
           "INSUFFICIENT_PERMISSIONS", route="/auth/lockout-status/{login_id}", token=ev.token,
           user_id=ev.user_id)
    w.send("forbidden-secretary", "DELETE", "/admin/rate-limits/per_ip/10.9.8.7", 403,
           "INSUFFICIENT_PERMISSIONS", route="/admin/rate-limits/{type}/{identifier}",
           token=sec.token, user_id=sec.user_id)
    # 423: MAX_FAILED_ATTEMPTS=2 locks the victim; the right password is then refused.
    w.send("lock-1", "POST", "/auth/login", 401, "AUTH_FAILED",
           json={"login_id": victim.login_id, "password": PW_LOCK})
    w.send("lock-2", "POST", "/auth/login", (401, 423),
           json={"login_id": victim.login_id, "password": PW_LOCK})
    w.send("locked", "POST", "/auth/login", 423, "ACCOUNT_LOCKED",
           json={"login_id": victim.login_id, "password": victim.password})
    # 500: the hidden test route, with a reset token in its query; a long user agent and a
    # request id of the client's own.
    w.send("throw", "GET", f"/_test/throw?token={RESET_Q2}", 500, "INTERNAL_SERVER_ERROR",
           route="/_test/throw")
    w.send("throw-long-ua", "GET", "/_test/throw", 500, "INTERNAL_SERVER_ERROR",
           ua="L" * 200 + "M" * 100, headers={"X-Request-ID": unique("errlog-client-rid-")})

    # Not logged: 400, 404 (unmatched and matched), 405, 422.
    w.send("bad-request", "POST", "/auth/login", 400,
           json={"login_id": "", "password": PW_JSON_400})
    w.send("unmatched-404", "GET", "/no/such/route", 404)
    w.send("matched-404", "DELETE", "/auth/sessions/" + "0" * 64, 404, token=ev.token)
    w.send("method-405", "DELETE", "/auth/login", 405)
    w.send("method-405-test", "POST", "/_test/throw", 405)
    w.send("business-422", "POST", "/auth/verify-mfa-setup", 422, token=ev.token,
           json={"code": "123456"})
    assert {s.res.status_code for s in w.unlogged} == {400, 404, 405, 422}, \
        [(s.label, s.res.status_code) for s in w.unlogged]

    # A last logged request: once it is in, anything queued before it is in too (one FIFO).
    marker = w.send("marker", "GET", "/_test/throw", 500, "INTERNAL_SERVER_ERROR",
                    headers={"X-Request-ID": unique("errlog-marker-")})
    wait_for(st, admin.token, [s.request_id for s in w.logged])
    time.sleep(0.2)  # a few more flush intervals: nothing else may turn up
    w.snapshot = all_entries(st, admin.token)
    assert marker.request_id in {e["request_id"] for e in w.snapshot}
    return w


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("errlog-" + request.param)
    if request.param == "sqlite":
        url = f"sqlite://{d}/errlog.db"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"evald_errlog_{unique('m')}_{int(time.time() * 1000) % 10**9}"
        _psql(base, f"CREATE DATABASE {name}")
        url = base.rsplit("/", 1)[0] + "/" + name
    return build_world(Stack(module_evald, url, d, MAX_FAILED_ATTEMPTS=2,
                             LOCKOUT_DURATION_MINUTES=5, **FLUSH))


def world_ids(w: World) -> set[str]:
    return {e["id"] for e in w.snapshot}


# --- what is logged ----------------------------------------------------------------------------

def test_each_logged_error_is_one_entry_with_its_fields(world):
    w = world
    by_rid: dict[str, list[dict]] = {}
    for e in w.snapshot:
        by_rid.setdefault(e["request_id"], []).append(e)
    for s in w.logged:
        found = by_rid.get(s.request_id, [])
        assert len(found) == 1, f"{s.label}: {len(found)} entries for {s.request_id}: {found}"
        check_entry(found[0], s)
    # The client's own request id is kept as given; the long user agent is cut at 256.
    long_ua = w.by_label("throw-long-ua")
    assert long_ua.request_id.startswith("errlog-client-rid-")
    e = by_rid[long_ua.request_id][0]
    assert e["user_agent"] == "L" * 200 + "M" * 56, e
    # Each code, category and severity of the statuses met.
    assert {e["error_code"] for e in w.snapshot} == \
        {"AUTH_FAILED", "INSUFFICIENT_PERMISSIONS", "ACCOUNT_LOCKED", "INTERNAL_SERVER_ERROR"}
    assert {e["status"] for e in w.snapshot} == {401, 403, 423, 500}


def test_other_errors_are_not_logged(world):
    w = world
    rids = [e["request_id"] for e in w.snapshot]
    assert len(rids) == len(set(rids)), "a request logged twice"
    assert set(rids) == {s.request_id for s in w.logged}, (
        "the log holds exactly the 401/403/423/5xx answers sent: extra "
        f"{set(rids) - {s.request_id for s in w.logged}}, missing "
        f"{ {s.request_id for s in w.logged} - set(rids)}")
    for s in w.unlogged:
        assert s.request_id not in rids, f"{s.label} ({s.res.status_code}) was logged"
    assert not {e["status"] for e in w.snapshot} & {400, 404, 405, 409, 413, 422}


def test_no_secret_anywhere_in_the_table(world):
    w = world
    rows = db_rows(w.st.db_url)
    assert len(rows) == len(w.snapshot), (len(rows), len(w.snapshot))
    assert ENTRY_KEYS <= set(rows[0]), rows[0]
    dump = json.dumps(rows)
    for s in w.secrets:
        assert s not in dump, f"a secret ({s[:14]}...) is in the error_log table"
    for needle in ("Bearer ", "password", "X-Api-Key", "evald_session", "reset_token", "$argon2"):
        assert needle.lower() not in dump.lower(), f"{needle!r} in the error_log table"
    # The query string is left out of the route, as the spoofed X-Forwarded-For is of the IP.
    assert {r["route"] for r in rows} <= {s.route for s in w.logged}, rows
    assert "203.0.113.7" not in dump
    # And none through the API either.
    api = json.dumps(all_entries(w.st, w.admin.token))
    for s in w.secrets:
        assert s not in api, f"a secret ({s[:14]}...) is in GET /admin/error-logs"


# --- listing -----------------------------------------------------------------------------------

def ids_of(items) -> list[str]:
    return [e["id"] for e in items]


def test_filters(world):
    w = world
    mine = world_ids(w)

    def filtered(**params) -> list[dict]:
        items = all_entries(w.st, w.admin.token, **params)
        return [e for e in items if e["id"] in mine]

    def expect(pred) -> list[str]:
        return ids_of(e for e in w.snapshot if pred(e))

    for code in ("AUTH_FAILED", "INSUFFICIENT_PERMISSIONS", "ACCOUNT_LOCKED",
                 "INTERNAL_SERVER_ERROR"):
        got = all_entries(w.st, w.admin.token, code=code)
        assert got and {e["error_code"] for e in got} == {code}, got
        assert ids_of(e for e in got if e["id"] in mine) == \
            expect(lambda e: e["error_code"] == code), code
    for category in ("authentication", "authorization", "system"):
        got = all_entries(w.st, w.admin.token, category=category)
        assert got and {e["category"] for e in got} == {category}, got
        assert ids_of(e for e in got if e["id"] in mine) == \
            expect(lambda e: e["category"] == category), category
    for severity in ("medium", "critical"):
        got = all_entries(w.st, w.admin.token, severity=severity)
        assert got and {e["severity"] for e in got} == {severity}, got
        assert ids_of(e for e in got if e["id"] in mine) == \
            expect(lambda e: e["severity"] == severity), severity
    # user: the evaluator's two 403s and the 401 of their revoked session, nothing else.
    got = all_entries(w.st, w.admin.token, user=w.ev.user_id)
    assert {e["user_id"] for e in got} == {w.ev.user_id}, got
    labels = {s.request_id: s.label for s in w.logged}
    assert sorted(labels[e["request_id"]] for e in got if e["id"] in mine) == \
        ["forbidden", "forbidden-template", "revoked-token"], got
    # Combined: AND.
    assert filtered(code="INSUFFICIENT_PERMISSIONS", user=w.sec.user_id) == \
        [e for e in w.snapshot if e["user_id"] == w.sec.user_id]
    assert filtered(code="AUTH_FAILED", severity="critical") == []
    assert filtered(category="system", severity="critical") == \
        [e for e in w.snapshot if e["category"] == "system"]
    # Valid but unknown values: nothing.
    for params in ({"code": "NO_SUCH_CODE"}, {"category": "nothing"}, {"severity": "low"},
                   {"user": "00000000-0000-0000-0000-000000000000"}):
        assert all_entries(w.st, w.admin.token, **params) == [], params

    # since/until on created_at: since includes, until excludes.
    stamps = sorted({e["created_at"] for e in w.snapshot})
    pivot = stamps[len(stamps) // 2]
    since = all_entries(w.st, w.admin.token, since=pivot)
    assert all(e["created_at"] >= pivot for e in since), since
    assert ids_of(e for e in since if e["id"] in mine) == expect(lambda e: e["created_at"] >= pivot)
    until = all_entries(w.st, w.admin.token, until=pivot)
    assert ids_of(until) == expect(lambda e: e["created_at"] < pivot)
    lo, hi = stamps[1], stamps[-1]
    window = all_entries(w.st, w.admin.token, since=lo, until=hi)
    assert ids_of(window) == expect(lambda e: lo <= e["created_at"] < hi)
    assert all_entries(w.st, w.admin.token, since="2999-01-01T00:00:00Z") == []
    assert all_entries(w.st, w.admin.token, until="2000-01-01T00:00:00Z") == []
    # Percent-encoded, as most clients send it: the same answer.
    res = w.st.get("/admin/error-logs", w.admin.token, params={"until": pivot, "limit": 200})
    assert res.status_code == 200, describe(res)
    assert ids_of(res.json()["items"]) == ids_of(until)


def test_paging_walks_everything_newest_first(world):
    w = world
    full = all_entries(w.st, w.admin.token)
    assert len(full) >= 12, len(full)
    keys = [(e["created_at"], e["id"]) for e in full]
    assert keys == sorted(keys, reverse=True), "not newest first"
    pages, cursor = [], None
    for _ in range(len(full) + 2):
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        res = list_page(w.st, w.admin.token, **params)
        assert res.status_code == 200, describe(res)
        body = res.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor, body
    else:
        pytest.fail("next_cursor never became null")
    paged = [e["id"] for p in pages for e in p]
    assert len(paged) == len(set(paged)), "an entry on two pages"
    assert paged == ids_of(full), "limit=2 pages do not give the full list in order"
    assert all(len(p) == 2 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 2, \
        [len(p) for p in pages]
    # Paging within a filter.
    auth_all = all_entries(w.st, w.admin.token, code="AUTH_FAILED")
    walked, cursor = [], None
    while True:
        params = {"limit": 1, "code": "AUTH_FAILED"}
        if cursor:
            params["cursor"] = cursor
        body = list_page(w.st, w.admin.token, **params).json()
        walked += ids_of(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(walked) <= len(auth_all), "filtered paging does not end"
    assert walked == ids_of(auth_all)
    # Default limit 50; bounds 1 and 200 accepted.
    res = list_page(w.st, w.admin.token)
    assert res.status_code == 200 and len(res.json()["items"]) == min(50, len(full)), describe(res)
    one = list_page(w.st, w.admin.token, limit=1).json()
    assert len(one["items"]) == 1 and one["next_cursor"], one
    assert list_page(w.st, w.admin.token, limit=200).status_code == 200


@pytest.mark.parametrize("params, fields", [
    ({"limit": "0"}, {"limit"}),
    ({"limit": "201"}, {"limit"}),
    ({"limit": "-1"}, {"limit"}),
    ({"limit": "x"}, {"limit"}),
    ({"limit": "1.5"}, {"limit"}),
    ({"cursor": "!!!not-a-cursor!!!"}, {"cursor"}),
    ({"cursor": "abc"}, {"cursor"}),
    ({"since": "yesterday"}, {"since"}),
    ({"until": "2026-01-15T10:30Z"}, {"until"}),
    ({"until": "2026-01-15T10:30:00+25:00"}, {"until"}),
    ({"since": "2026-01-15 10:30:00"}, {"since"}),
    ({"code": "AUTH FAILED"}, {"code"}),
    ({"code": "x' OR '1'='1"}, {"code"}),
    ({"code": "A" * 65}, {"code"}),
    ({"code": ""}, {"code"}),
    ({"category": "c" * 33}, {"category"}),
    ({"category": "auth;DROP TABLE error_log"}, {"category"}),
    ({"severity": "s" * 17}, {"severity"}),
    ({"severity": "high!"}, {"severity"}),
    ({"user": "u" * 129}, {"user"}),
    ({"user": "a/b"}, {"user"}),
    ({"code": "bad code", "severity": "?", "limit": "0", "since": "x"},
     {"code", "severity", "limit", "since"}),
])
def test_bad_filter_values_are_refused(world, params, fields):
    w = world
    res = list_page(w.st, w.admin.token, **params)
    body = assert_error(res, 400, "VALIDATION_ERROR")
    assert detail_fields(body) == fields, body


def test_impossible_times_are_refused(world):
    """since/until must be real UTC times: a right-shaped but impossible one is a bad value, not
    a string to compare created_at with (validation only: checked once, on SQLite)."""
    w = world
    if not w.st.db_url.startswith("sqlite://"):
        pytest.skip("the same validation on every engine; checked on SQLite")
    accepted = []
    for value in ("2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-32T00:00:00Z",
                  "2026-02-30T10:00:00Z", "2026-01-15T25:00:00Z", "2026-01-15T10:60:00Z",
                  "2026-13-45T99:00:00Z"):
        for name in ("since", "until"):
            res = list_page(w.st, w.admin.token, **{name: value})
            if res.status_code != 400:
                accepted.append(f"{name}={value} -> {res.status_code}")
                continue
            body = assert_error(res, 400, "VALIDATION_ERROR")
            assert detail_fields(body) == {name}, body
    assert not accepted, f"impossible times accepted as filters: {accepted}"


@pytest.mark.parametrize("hours", ["0", "721", "-1", "x", "1.5", "", "24h", "99999999999"])
def test_error_stats_hours_out_of_range_is_refused(world, hours):
    w = world
    res = w.st.get("/admin/error-stats?" + urlencode({"hours": hours}), w.admin.token)
    body = assert_error(res, 400, "VALIDATION_ERROR")
    assert detail_fields(body) == {"hours"}, body


@pytest.mark.parametrize("hours", ["1", "720"])
def test_error_stats_hours_bounds_are_accepted(world, hours):
    w = world
    res = w.st.get(f"/admin/error-stats?hours={hours}", w.admin.token)
    assert res.status_code == 200, describe(res)
    assert res.json()["hours"] == int(hours)


def test_only_admins_read_the_log_and_the_refusals_are_logged(world):
    w = world
    sent = []
    for path in ("/admin/error-logs", "/admin/error-stats"):
        sent.append(w.send("anon " + path, "GET", path, 401, "AUTH_FAILED"))
        assert_error(sent[-1].res, 401, "AUTH_FAILED")
        for who in (w.ev, w.sec):
            sent.append(w.send(f"{who.user['role']} {path}", "GET", path, 403,
                               "INSUFFICIENT_PERMISSIONS", token=who.token, user_id=who.user_id))
            assert_error(sent[-1].res, 403, "INSUFFICIENT_PERMISSIONS")
            assert who.token not in sent[-1].res.text
    items = wait_for(w.st, w.admin.token, [s.request_id for s in sent])
    by_rid = {e["request_id"]: e for e in items}
    for s in sent:
        check_entry(by_rid[s.request_id], s)


# --- 429 ---------------------------------------------------------------------------------------

def api_limit_rules(tmp_path, limit: int):
    """Only the api category is tight (a category without a rule of its own counts as api)."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": [
        {"scope": "per_ip", "match": "api", "limit": limit, "window": 3600},
        {"scope": "per_ip", "match": "login", "limit": 1000, "window": 3600},
        {"scope": "per_ip", "match": "admin", "limit": 1000, "window": 3600}]}))
    return rules


def test_rate_limited_requests_are_logged(evald, tmp_path):
    rules = api_limit_rules(tmp_path, 2)
    st = Stack(evald, f"sqlite://{tmp_path}/rl.db", tmp_path, RATE_LIMIT_ENABLED="true",
               RATE_LIMIT_RULES=str(rules), **FLUSH)
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)  # the login category has no rule here
    ev = st.login(st.create_user("evaluator"))
    w = World(st, admin, ev, ev)
    w.send("ok-1", "GET", "/_test/sleep?ms=0", 200)
    w.send("ok-2", "GET", "/_test/sleep?ms=0", 200)
    first = w.send("limited-1", "GET", "/_test/sleep?ms=0", 429, "RATE_LIMIT_EXCEEDED",
                   route="/_test/sleep")
    assert first.res.headers.get("Retry-After"), describe(first.res)
    second = w.send("limited-2", "GET", "/_test/sleep?ms=5", 429, "RATE_LIMIT_EXCEEDED",
                    route="/_test/sleep", headers={"X-Forwarded-For": "198.51.100.4"})
    items = wait_for(st, admin.token, [first.request_id, second.request_id])
    by_rid = {e["request_id"]: e for e in items}
    for s in (first, second):
        check_entry(by_rid[s.request_id], s)
    assert [e["error_code"] for e in items] == ["RATE_LIMIT_EXCEEDED"] * 2, items
    stats = st.get("/admin/error-stats", admin.token).json()
    assert stats["total"] == 2 and stats["by_category"] == {"security": 2}, stats
    assert stats["top_codes"] == [{"code": "RATE_LIMIT_EXCEEDED", "count": 2}], stats


def test_rate_limited_signed_in_user_is_named(evald, tmp_path):
    """A signed-in user refused with 429: the entry names the user, as the security event of
    the same refusal does (the limiter knows the user from the token's signature)."""
    rules = api_limit_rules(tmp_path, 1)
    st = Stack(evald, f"sqlite://{tmp_path}/rl.db", tmp_path, RATE_LIMIT_ENABLED="true",
               RATE_LIMIT_RULES=str(rules), **FLUSH)
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    ev = st.login(st.create_user("evaluator"))
    w = World(st, admin, ev, ev)
    w.send("me-ok", "GET", "/auth/me", 200, token=ev.token)
    limited = w.send("me-limited", "GET", "/auth/me", 429, "RATE_LIMIT_EXCEEDED",
                     token=ev.token, user_id=ev.user_id)
    items = wait_for(st, admin.token, [limited.request_id])
    entry = next(e for e in items if e["request_id"] == limited.request_id)
    assert entry["user_id"] == ev.user_id, (
        f"the 429 of a signed-in user is logged without the user: {entry}")


# --- statistics --------------------------------------------------------------------------------

def test_error_stats_count_exactly_the_errors_caused(stack_factory, db_url):
    st = stack_factory(db_url, **FLUSH)
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    ev = st.login(st.create_user("evaluator"))
    w = World(st, admin, ev, ev)
    # Before any error: zeros, empty maps.
    empty = st.get("/admin/error-stats", admin.token)
    assert empty.status_code == 200, describe(empty)
    assert empty.json()["total"] == 0 and empty.json()["top_codes"] == [], empty.json()
    assert empty.json()["by_category"] == {} and empty.json()["per_hour"] == [], empty.json()

    for _ in range(3):
        w.send("anon-me", "GET", "/auth/me", 401, "AUTH_FAILED")
    w.send("bad-login", "POST", "/auth/login", 401, "AUTH_FAILED",
           json={"login_id": "nobody-here", "password": "Wrong-Pass-1!"})
    for _ in range(2):
        w.send("forbidden", "GET", "/admin/error-stats", 403, "INSUFFICIENT_PERMISSIONS",
               token=ev.token, user_id=ev.user_id)
    w.send("throw", "GET", "/_test/throw", 500, "INTERNAL_SERVER_ERROR")
    # Not counted.
    w.send("nf", "GET", "/nothing/here", 404)
    w.send("bad", "POST", "/auth/login", 400, json={})
    w.send("nope", "PUT", "/auth/me", 405)
    wait_for(st, admin.token, [s.request_id for s in w.logged])
    time.sleep(0.2)

    expected = {
        "total": 7,
        "by_category": {"authentication": 4, "authorization": 2, "system": 1},
        "by_severity": {"medium": 6, "critical": 1},
        "top_codes": [{"code": "AUTH_FAILED", "count": 4},
                      {"code": "INSUFFICIENT_PERMISSIONS", "count": 2},
                      {"code": "INTERNAL_SERVER_ERROR", "count": 1}],
    }
    for hours in (None, 1, 720):
        before = datetime.now(timezone.utc)
        res = st.get("/admin/error-stats" + (f"?hours={hours}" if hours else ""), admin.token)
        assert res.status_code == 200, describe(res)
        body = res.json()
        assert set(body) == {"hours", "since", "total", "by_category", "by_severity",
                             "top_codes", "per_hour"}, body
        assert body["hours"] == (hours or 24), body
        assert ISO_Z.match(body["since"]), body
        want_since = before - timedelta(hours=hours or 24)
        assert abs((ts(body["since"]) - want_since).total_seconds()) < 30, body
        for k, v in expected.items():
            assert body[k] == v, f"{k}: {body[k]} != {v} (hours={hours})"
        assert sum(h["count"] for h in body["per_hour"]) == 7, body
        for h in body["per_hour"]:
            assert set(h) == {"hour", "count"} and h["count"] > 0, body
            assert ts(h["hour"]).minute == 0 and h["hour"].endswith(":00:00Z"), body
            assert before - timedelta(hours=2) < ts(h["hour"]) <= before, body
        hours_list = [h["hour"] for h in body["per_hour"]]
        assert hours_list == sorted(hours_list), body


def test_top_codes_are_ordered_and_at_most_ten(evald, stack_factory, sqlite_url):
    """Rows put in the table directly: 12 codes of different frequencies."""
    st = stack_factory(sqlite_url, **FLUSH)
    env = {k: v for k, v in st.server.env.items() if k != "PORT"}
    assert st.server.stop() == 0, st.server.log_tail()
    now = datetime.now(timezone.utc) - timedelta(minutes=1)
    counts = {f"CODE_{i:02d}": n for i, n in
              enumerate([9, 1, 7, 12, 3, 3, 5, 2, 11, 4, 6, 8])}
    for code, n in counts.items():
        for j in range(n):
            db_exec(sqlite_url, "INSERT INTO error_log (id, error_code, category, severity, "
                    "status, created_at) VALUES (?, ?, 'system', 'high', 500, ?)",
                    (f"{code}-{j}", code, iso_ms(now - timedelta(seconds=j))))
    st.server = evald(env=env)
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    body = st.get("/admin/error-stats", admin.token).json()
    assert body["total"] == sum(counts.values()), body
    assert body["by_category"] == {"system": sum(counts.values())}, body
    assert body["by_severity"] == {"high": sum(counts.values())}, body
    top = body["top_codes"]
    assert len(top) == 10, top
    want = sorted(counts.items(), key=lambda kv: -kv[1])[:10]
    assert [t["count"] for t in top] == [n for _, n in want], top
    assert {t["code"] for t in top} == {c for c, _ in want}, top
    for t in top:
        assert counts[t["code"]] == t["count"], t


# --- retention ---------------------------------------------------------------------------------

def restart(evald, st: Stack, **changes) -> None:
    """Stops the stack's server (exit 0) and starts another on the same database."""
    env = {k: v for k, v in st.server.env.items() if k != "PORT"}
    env.update({k: str(v) for k, v in changes.items()})
    assert st.server.stop() == 0, st.server.log_tail()
    st.server = evald(env=env)


def test_retention_prunes_old_rows_at_start(evald, stack_factory, db_url):
    st = stack_factory(db_url, ERROR_LOG_RETENTION_DAYS=30, **FLUSH)
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    real = st.get("/_test/throw")
    assert real.status_code == 500, describe(real)
    wait_for(st, admin.token, [real.headers["X-Request-ID"]])

    env = {k: v for k, v in st.server.env.items() if k != "PORT"}
    assert st.server.stop() == 0, st.server.log_tail()
    now = datetime.now(timezone.utc)
    insert_row(db_url, "old-40d", iso_ms(now - timedelta(days=40)))
    insert_row(db_url, "old-31d", iso_ms(now - timedelta(days=31)), "AUTH_FAILED")
    insert_row(db_url, "kept-29d", iso_ms(now - timedelta(days=29)), "AUTH_FAILED")
    insert_row(db_url, "kept-5h", iso_ms(now - timedelta(hours=5)))
    assert {"old-40d", "old-31d"} <= {r["id"] for r in db_rows(db_url)}

    st.server = evald(env=env)
    deadline = time.monotonic() + POLL_S
    while {"old-40d", "old-31d"} & {r["id"] for r in db_rows(db_url)}:
        assert time.monotonic() < deadline, f"old rows not pruned: {db_rows(db_url)}"
        time.sleep(0.05)
    rows = {r["id"]: r for r in db_rows(db_url)}
    assert {"kept-29d", "kept-5h"} <= set(rows), rows
    assert len(rows) == 3, rows  # and the real entry
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    listed = all_entries(st, admin.token)
    assert {e["request_id"] for e in listed} == \
        {"rid-kept-29d", "rid-kept-5h", real.headers["X-Request-ID"]}, listed
    # The statistics window: the last hour, day and 30 days.
    for hours, total in ((1, 1), (24, 2), (720, 3)):
        body = st.get(f"/admin/error-stats?hours={hours}", admin.token).json()
        assert body["total"] == total, (hours, body)
    body = st.get("/admin/error-stats?hours=720", admin.token).json()
    assert body["top_codes"] == [{"code": "INTERNAL_SERVER_ERROR", "count": 2},
                                 {"code": "AUTH_FAILED", "count": 1}], body
    assert len(body["per_hour"]) == 3 and sum(h["count"] for h in body["per_hour"]) == 3, body

    # A shorter retention at the next start prunes what is now too old.
    restart(evald, st, ERROR_LOG_RETENTION_DAYS=1)
    deadline = time.monotonic() + POLL_S
    while "kept-29d" in {r["id"] for r in db_rows(db_url)}:
        assert time.monotonic() < deadline, f"29-day row kept with 1 day: {db_rows(db_url)}"
        time.sleep(0.05)
    assert {r["id"] for r in db_rows(db_url)} == {"kept-5h", rows_real_id(rows)}


def rows_real_id(rows: dict) -> str:
    return next(k for k in rows if not k.startswith(("kept-", "old-")))
