"""GET /health/metrics: the Prometheus text exposition, against the real binary.

One module-scoped server serves most tests: rate limiting on with a small rules file (per_ip:api
allows 3 an hour, so a fresh client address reaches 429 on its 4th API request), TRUSTED_PROXIES
so that every test picks its own client addresses with X-Forwarded-For, a METRICS_TOKEN, a first
admin, two evaluators made with `evald user create` before start, and MAX_FAILED_ATTEMPTS=2.
Tests run one after the other and nothing else talks to the server, so every count is compared
as an exact difference between two scrapes. A scrape is counted only once it is answered, so it
never appears in its own figures.

The exposition is read by a small parser of this file (strict: every line must be a comment or a
well-formed sample, and no series may appear twice) and checked by Debian's `promtool`.
The tests that show a known server defect are at the end of the file.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import resource
import shutil
import socket
import subprocess
import time

import pytest
import requests

from authkit import JWT_SECRET, assert_error, create_user_cli, describe
from conftest import run_evald

METRICS_TOKEN = "prometheus-scrape-token-0123456789abcdef"
ADMIN_LOGIN = "root-admin"
ADMIN_PASSWORD = "Evald-Metrics-Admin-2026!"
EVA_PASSWORD = "Evald-Metrics-Eva-2026!"
HOUR = 3600
API_LIMIT = 3
RULES_YAML = f"""rules:
  - scope: per_ip
    match: api
    limit: {API_LIMIT}
    window: {HOUR}
  - scope: per_ip
    match: login
    limit: 1000
    window: {HOUR}
  - scope: per_ip
    match: admin
    limit: 1000
    window: {HOUR}
"""
HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10, math.inf]
LOGIN_OUTCOMES = ("success", "failure", "locked", "mfa_required", "mfa_failure")
FAMILIES = {
    "http_requests_total": "counter",
    "http_request_duration_seconds": "histogram",
    "http_requests_in_flight": "gauge",
    "evald_errors_total": "counter",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
    "process_threads": "gauge",
    "evald_db_query_duration_seconds": "histogram",
    "evald_db_query_failures_total": "counter",
    "evald_db_slow_queries_total": "counter",
    "evald_db_pool_connections": "gauge",
    "evald_db_pool_max_connections": "gauge",
    "evald_db_pool_waits_total": "counter",
    "evald_db_pool_timeouts_total": "counter",
    "evald_cache_hits_total": "counter",
    "evald_cache_misses_total": "counter",
    "evald_cache_invalidations_total": "counter",
    "evald_cache_evictions_total": "counter",
    "evald_cache_entries": "gauge",
    "rate_limit_decisions_total": "counter",
    "rate_limit_penalties_total": "counter",
    "rate_limit_store_mode": "gauge",
    "rate_limit_bypassed_total": "counter",
    "evald_auth_logins_total": "counter",
    "evald_error_log_entries_total": "counter",
    "evald_mail_outbox_pending": "gauge",
    "evald_build_info": "gauge",
}


# --- a parser of the text exposition format (0.0.4) -------------------------------------------

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?$")
LABEL_RE = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"[ \t]*(,|$)')
COMMENT_RE = re.compile(r"^#[ \t]+(HELP|TYPE)[ \t]+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:[ \t]+(.*))?$")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def parse_labels(block: str, line: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(block):
        m = LABEL_RE.match(block, pos)
        assert m, f"bad label set at {block[pos:]!r} in {line!r}"
        name, value = m.group(1), unescape(m.group(2))
        assert name not in labels, f"label {name} twice in {line!r}"
        labels[name] = value
        pos = m.end()
        if m.group(3) == "":
            break
    assert pos >= len(block.rstrip()), f"trailing text in the label set of {line!r}"
    return labels


def parse_value(text: str, line: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise AssertionError(f"bad sample value {text!r} in {line!r}") from None


def key_of(labels: dict[str, str]) -> tuple:
    return tuple(sorted(labels.items()))


class Exposition:
    def __init__(self, text: str):
        self.text = text
        self.types: dict[str, str] = {}
        self.helps: dict[str, str] = {}
        self.samples: dict[tuple[str, tuple], float] = {}
        self.order: list[tuple[str, tuple]] = []
        for line in text.split("\n"):
            if not line.strip():
                continue
            if line.startswith("#"):
                m = COMMENT_RE.match(line)
                if m and m.group(1) == "TYPE":
                    assert m.group(2) not in self.types, f"TYPE of {m.group(2)} twice"
                    self.types[m.group(2)] = (m.group(3) or "").strip()
                elif m:
                    self.helps[m.group(2)] = m.group(3) or ""
                continue
            m = SAMPLE_RE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, block, value = m.group(1), m.group(2), m.group(3)
            labels = parse_labels(block, line) if block else {}
            k = (name, key_of(labels))
            assert k not in self.samples, f"series twice: {line!r}"
            self.samples[k] = parse_value(value, line)
            self.order.append(k)

    # look-ups
    def find(self, name: str, **labels) -> list[tuple[dict, float]]:
        """Every sample of `name` whose labels include these."""
        want = {k: str(v) for k, v in labels.items()}
        out = []
        for (n, key), v in self.samples.items():
            if n != name:
                continue
            d = dict(key)
            if all(d.get(k) == val for k, val in want.items()):
                out.append((d, v))
        return out

    def value(self, name: str, default: float | None = None, **labels) -> float:
        """The one sample of `name` with exactly these labels (`default` when absent)."""
        k = (name, key_of({k: str(v) for k, v in labels.items()}))
        if k in self.samples:
            return self.samples[k]
        if default is None:
            near = [dict(key) for n, key in self.samples if n == name]
            raise AssertionError(f"no sample {name}{labels}; {name} has {near}")
        return default

    def total(self, name: str, **labels) -> float:
        return sum(v for _, v in self.find(name, **labels))

    def series(self, name: str) -> set[tuple]:
        return {key for n, key in self.samples if n == name}

    def family_of(self, sample_name: str) -> str | None:
        if sample_name in self.types:
            return sample_name
        for suffix in HISTOGRAM_SUFFIXES:
            base = sample_name[: -len(suffix)]
            if sample_name.endswith(suffix) and self.types.get(base) in ("histogram", "summary"):
                return base
        return None

    def histograms(self, family: str) -> dict[tuple, dict]:
        """labels (without le) -> {"buckets": [(le, cumulative)], "sum": s, "count": c}."""
        out: dict[tuple, dict] = {}
        for (n, key), v in self.samples.items():
            if n not in (family + "_bucket", family + "_sum", family + "_count"):
                continue
            d = dict(key)
            le = d.pop("le", None)
            h = out.setdefault(key_of(d), {"buckets": [], "sum": None, "count": None})
            if n.endswith("_bucket"):
                assert le is not None, f"{n}{d} without le"
                h["buckets"].append((float(le), v))
            elif n.endswith("_sum"):
                h["sum"] = v
            else:
                h["count"] = v
        return out


def check_histogram(family: str, labels: tuple, h: dict, bounds: list[float] | None = None):
    where = f"{family}{dict(labels)}"
    assert h["count"] is not None and h["sum"] is not None, f"{where}: no _count or _sum"
    les = [le for le, _ in h["buckets"]]
    assert les, f"{where}: no buckets"
    assert les == sorted(les) and len(set(les)) == len(les), f"{where}: le not increasing {les}"
    assert les[-1] == math.inf, f"{where}: no +Inf bucket: {les}"
    if bounds is not None:
        assert les == bounds, f"{where}: buckets {les}, expected {bounds}"
    counts = [c for _, c in h["buckets"]]
    assert all(c >= 0 and c == int(c) for c in counts), f"{where}: {counts}"
    assert all(a <= b for a, b in zip(counts, counts[1:])), f"{where}: not cumulative {counts}"
    assert counts[-1] == h["count"], f"{where}: +Inf {counts[-1]} != _count {h['count']}"
    assert h["sum"] >= 0, f"{where}: _sum {h['sum']}"
    if h["count"] == 0:
        assert h["sum"] == 0, f"{where}: no observations but _sum {h['sum']}"


def check_all_histograms(e: Exposition):
    for family, kind in e.types.items():
        if kind != "histogram":
            continue
        hs = e.histograms(family)
        for labels, h in hs.items():
            check_histogram(family, labels, h,
                            HTTP_BUCKETS if family == "http_request_duration_seconds" else None)


def delta(after: Exposition, before: Exposition, name: str, **labels) -> float:
    """The rise of one series between two scrapes (a series not there yet counts as 0)."""
    return after.value(name, 0, **labels) - before.value(name, 0, **labels)


# --- the server --------------------------------------------------------------------------------

_addresses = itertools.count(1)


def fresh_ip() -> str:
    """A client address no other request of this module used (a fresh rate-limit bucket)."""
    n = next(_addresses)
    return f"198.51.{100 + n // 250}.{n % 250 + 1}"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}

def raw_request(port: int, data: bytes) -> bytes:
    """Sends bytes on a new connection and returns the status line of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        got = b""
        while b"\r\n" not in got:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    return got.split(b"\r\n", 1)[0]


class Stack:
    def __init__(self, srv, db_url: str):
        self.srv = srv
        self.db_url = db_url
        self.http = requests.Session()
        self.admin_token = self.login(ADMIN_LOGIN, ADMIN_PASSWORD)
        self.eva_token = self.login("eva", EVA_PASSWORD)

    def url(self, path: str) -> str:
        return self.srv.url(path)

    def get(self, path, headers=None, **kw) -> requests.Response:
        return self.http.get(self.url(path), headers=headers or {}, timeout=10, **kw)

    def request(self, method, path, headers=None, **kw) -> requests.Response:
        return self.http.request(method, self.url(path), headers=headers or {}, timeout=10, **kw)

    def try_login(self, login_id: str, password: str) -> requests.Response:
        return self.http.post(self.url("/auth/login"),
                              json={"login_id": login_id, "password": password}, timeout=10)

    def login(self, login_id: str, password: str) -> str:
        r = self.try_login(login_id, password)
        assert r.status_code == 200, describe(r)
        return r.json()["access_token"]

    def scrape_raw(self, token: str = METRICS_TOKEN) -> requests.Response:
        return self.get("/health/metrics", bearer(token))

    def scrape(self, token: str = METRICS_TOKEN) -> Exposition:
        r = self.scrape_raw(token)
        assert r.status_code == 200, describe(r)
        ctype = r.headers.get("Content-Type", "")
        assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
        return Exposition(r.text)


@pytest.fixture(scope="module")
def stack(module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("metrics")
    db_url = f"sqlite://{d}/metrics.db"
    for login_id in ("eva", "locky"):
        made = create_user_cli(db_url, login_id, "evaluator", f"{login_id}@example.org",
                               EVA_PASSWORD, cwd=d)
        assert made.returncode == 0, made.stderr
    rules = d / "rules.yaml"
    rules.write_text(RULES_YAML)
    srv = module_evald(env={
        "DATABASE_URL": db_url, "JWT_SECRET": JWT_SECRET, "METRICS_TOKEN": METRICS_TOKEN,
        "ADMIN_LOGIN_ID": ADMIN_LOGIN, "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ADMIN_EMAIL": "root@example.org", "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_RULES": str(rules), "TRUSTED_PROXIES": "127.0.0.1",
        "MAX_FAILED_ATTEMPTS": "2"})
    return Stack(srv, db_url)


def promtool_check(text: str):
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    if not os.access(promtool, os.X_OK):
        pytest.fail("promtool not found (Debian package prometheus)", pytrace=False)
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), \
        f"promtool check metrics: rc={p.returncode}\n{p.stdout}\n{p.stderr}"


# --- 1. a valid exposition ---------------------------------------------------------------------

def test_exposition_is_valid_after_varied_traffic(stack):
    s = stack
    for path in ("/ping", "/health/live", "/health/ready", "/health/ping"):
        assert s.get(path).status_code == 200, path
    r = s.get("/auth/me", {**bearer(s.admin_token), "X-Forwarded-For": fresh_ip()})
    assert r.status_code == 200, describe(r)
    assert s.get("/auth/me", {"X-Forwarded-For": fresh_ip()}).status_code == 401
    assert s.get("/health/metrics", bearer(s.eva_token)).status_code == 403
    for path in ("/no/such/page", '/quote"and\\backslash', "/%0Anewline", "/{brace}"):
        assert s.get(path).status_code == 404, path
    assert s.request("POST", "/ping").status_code == 405
    assert s.request("BREW", "/ping").status_code == 405
    r = s.http.post(s.url("/auth/login"), data="{not json", timeout=10,
                    headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422), describe(r)
    ip = fresh_ip()
    statuses = [s.get("/auth/me", {"X-Forwarded-For": ip}).status_code
                for _ in range(API_LIMIT + 1)]
    assert statuses == [401] * API_LIMIT + [429], statuses

    for token in (METRICS_TOKEN, s.admin_token):
        e = s.scrape(token)
        promtool_check(e.text)
        for family, kind in FAMILIES.items():
            assert e.types.get(family) == kind, f"{family}: TYPE {e.types.get(family)!r}"
            assert e.helps.get(family), f"{family} has no HELP"
        for name, key in e.order:
            assert e.family_of(name), f"sample {name} belongs to no declared family"
        check_all_histograms(e)
        # Every status of the traffic is there, with route templates only.
        statuses_seen = {d["status"] for d, _ in e.find("http_requests_total")}
        assert {"200", "401", "403", "404", "405", "429"} <= statuses_seen, statuses_seen
        for d, _ in e.find("http_requests_total"):
            assert d["route"] == "unmatched" or d["route"].startswith("/"), d
            assert "brace" not in d["route"] and "quote" not in d["route"], d
        # Each request is in both families, under the same lock: _count equals the sum over
        # statuses (the scrape being answered is in neither yet).
        for labels, h in e.histograms("http_request_duration_seconds").items():
            assert h["count"] == e.total("http_requests_total", **dict(labels)), labels
        # Every error answer has its code counted.
        errors = e.total("evald_errors_total")
        answered = sum(v for d, v in e.find("http_requests_total") if int(d["status"]) >= 400)
        assert errors == answered, (errors, answered)


# --- 2. counters move by exactly the requests made -----------------------------------------

def test_counters_and_histograms_move_by_exactly_the_requests_made(stack):
    s = stack
    k, m = 7, 5
    s0 = s.scrape()
    for _ in range(k):
        assert s.get("/ping").status_code == 200
    for i in range(m):
        assert s.get(f"/no/such/thing/{i}").status_code == 404
    s1 = s.scrape()

    assert delta(s1, s0, "http_requests_total", method="GET", route="/ping", status="200") == k
    assert delta(s1, s0, "http_requests_total", method="GET", route="unmatched",
                 status="404") == m
    # The first scrape is counted once it is answered; the second is not counted in itself.
    assert delta(s1, s0, "http_requests_total", method="GET", route="/health/metrics",
                 status="200") == 1
    assert s1.total("http_requests_total") - s0.total("http_requests_total") == k + m + 1
    h0 = s0.histograms("http_request_duration_seconds")
    h1 = s1.histograms("http_request_duration_seconds")
    ping = key_of({"method": "GET", "route": "/ping"})
    unmatched = key_of({"method": "GET", "route": "unmatched"})
    empty = {"count": 0, "sum": 0, "buckets": [(le, 0) for le in HTTP_BUCKETS]}
    for key, n in ((ping, k), (unmatched, m)):
        before, after = h0.get(key, empty), h1[key]
        assert after["count"] - before["count"] == n, key
        assert after["sum"] >= before["sum"], key
        assert after["buckets"][-1][1] - before["buckets"][-1][1] == n, key
        for (le0, c0), (le1, c1) in zip(before["buckets"], after["buckets"]):
            assert le0 == le1 and c1 >= c0, (key, le0, c0, c1)
    for e in (s0, s1):
        check_all_histograms(e)
        for labels, h in e.histograms("http_request_duration_seconds").items():
            assert h["count"] == e.total("http_requests_total", **dict(labels)), labels
        # Only the scrape itself is being handled.
        assert e.value("http_requests_in_flight") == 1


# --- 3. bounded labels -----------------------------------------------------------------------

def test_unknown_paths_and_methods_do_not_create_series(stack):
    s = stack
    s.scrape()
    s0 = s.scrape()  # /health/metrics has its series now
    odd_unknown = ["BREW", "PURGE", "PROPFIND", "X-CUSTOM"]
    odd_on_ping = ["BREW", "PURGE", "WHEN"]
    for i in range(50):
        assert s.get(f"/probe-{i}-zq{i * 7919}").status_code == 404
    for method in odd_unknown:
        r = s.request(method, f"/probe-{method}-zq")
        assert r.status_code == 404, (method, describe(r))
    for method in odd_on_ping:
        r = s.request(method, "/ping")
        assert r.status_code == 405, (method, describe(r))
    # Methods are case-sensitive (RFC 9110): "get" is not GET (requests would upper-case it).
    line = raw_request(s.srv.port, b"get /probe-lower-zq HTTP/1.1\r\nHost: t\r\n\r\n")
    assert line.startswith(b"HTTP/1.1 404"), line
    odd_unknown.append("get")
    s1 = s.scrape()

    assert delta(s1, s0, "http_requests_total", method="GET", route="unmatched",
                 status="404") == 50
    assert delta(s1, s0, "http_requests_total", method="other", route="unmatched",
                 status="404") == len(odd_unknown)
    assert delta(s1, s0, "http_requests_total", method="other", route="unmatched",
                 status="405") == len(odd_on_ping)
    allowed = {key_of({"method": mth, "route": "unmatched", "status": st})
               for mth in ("GET", "other") for st in ("404", "405")}
    new = s1.series("http_requests_total") - s0.series("http_requests_total")
    assert new <= allowed, new
    hist_allowed = {key_of({"method": mth, "route": "unmatched"}) for mth in ("GET", "other")}
    for name in ("http_request_duration_seconds_count", "http_request_duration_seconds_sum"):
        assert s1.series(name) - s0.series(name) <= hist_allowed, name
    new_buckets = s1.series("http_request_duration_seconds_bucket") - \
        s0.series("http_request_duration_seconds_bucket")
    assert len(new_buckets) <= 2 * len(HTTP_BUCKETS), new_buckets
    # Nothing the clients chose ends up in a label.
    methods = {d["method"] for d, _ in s1.find("http_requests_total")}
    assert methods <= {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other"}, \
        methods
    assert "probe-" not in s1.text and "zq" not in s1.text
    assert not ({"BREW", "PURGE", "WHEN", "get"} & methods)
    assert set(s1.samples) - set(s0.samples) <= \
        {(n, key) for n, key in s1.samples if n.startswith("http_request")}


# --- 4. who may read ---------------------------------------------------------------------------

def test_admin_and_metrics_token_may_read_others_may_not(stack):
    s = stack
    for token in (s.admin_token, METRICS_TOKEN):
        r = s.scrape_raw(token)
        assert r.status_code == 200, describe(r)
        assert "http_requests_total" in r.text
    r = s.get("/health/metrics", {"Authorization": f"bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, describe(r)  # the scheme is case-insensitive

    # The metrics token is good for /health/metrics only.
    for path in ("/metrics/rate-limiting", "/admin/error-logs", "/admin/error-stats",
                 "/auth/me", "/auth/security-events"):
        r = s.get(path, {**bearer(METRICS_TOKEN), "X-Forwarded-For": fresh_ip()})
        assert_error(r, 401, "AUTH_FAILED")

    wrong = [METRICS_TOKEN[:-1] + ("x" if METRICS_TOKEN[-1] != "x" else "y"), METRICS_TOKEN[:-1],
             METRICS_TOKEN + "0", METRICS_TOKEN.upper(), "x", "not-a-token", " " + METRICS_TOKEN]
    for token in wrong:
        assert_error(s.get("/health/metrics", bearer(token)), 401, "AUTH_FAILED")
    for header in ({}, {"Authorization": METRICS_TOKEN},
                   {"Authorization": f"Basic {METRICS_TOKEN}"},
                   {"Authorization": f"Token {METRICS_TOKEN}"},
                   {"X-Metrics-Token": METRICS_TOKEN}):
        r = s.get("/health/metrics", header)
        assert_error(r, 401, "AUTH_FAILED")
        assert "http_requests_total" not in r.text
    r = s.get("/health/metrics", bearer(s.eva_token))
    assert_error(r, 403, "INSUFFICIENT_PERMISSIONS")
    assert "http_requests_total" not in r.text


def test_without_metrics_token_only_admins_may_read(evald, tmp_path):
    db_url = f"sqlite://{tmp_path}/plain.db"
    srv = evald(env={"DATABASE_URL": db_url, "JWT_SECRET": JWT_SECRET,
                     "ADMIN_LOGIN_ID": ADMIN_LOGIN, "ADMIN_PASSWORD": ADMIN_PASSWORD,
                     "ADMIN_EMAIL": "root@example.org"})
    url = srv.url("/health/metrics")
    for value in ("Bearer ", "Bearer", "Bearer  ", "Bearer x", "Bearer random-string-123",
                  f"Bearer {METRICS_TOKEN}", "Bearer \t"):
        r = requests.get(url, headers={"Authorization": value}, timeout=10)
        assert_error(r, 401, "AUTH_FAILED")
    assert_error(requests.get(url, timeout=10), 401, "AUTH_FAILED")
    r = requests.post(srv.url("/auth/login"),
                      json={"login_id": ADMIN_LOGIN, "password": ADMIN_PASSWORD}, timeout=10)
    assert r.status_code == 200, describe(r)
    r = requests.get(url, headers=bearer(r.json()["access_token"]), timeout=10)
    assert r.status_code == 200, describe(r)
    Exposition(r.text)


# --- 5. sign-in outcomes -----------------------------------------------------------------------

def logins(e: Exposition) -> dict[str, float]:
    return {o: e.value("evald_auth_logins_total", outcome=o) for o in LOGIN_OUTCOMES}


def login_deltas(after: Exposition, before: Exposition) -> dict[str, float]:
    a, b = logins(after), logins(before)
    return {o: a[o] - b[o] for o in LOGIN_OUTCOMES}


def test_sign_in_outcomes_are_counted(stack):
    s = stack
    s0 = s.scrape()
    assert s.try_login("eva", "Wrong-Password-1!").status_code == 401
    assert s.try_login("nobody-at-all", "Wrong-Password-1!").status_code == 401
    assert s.try_login(ADMIN_LOGIN, ADMIN_PASSWORD).status_code == 200
    s1 = s.scrape()
    assert login_deltas(s1, s0) == {"success": 1, "failure": 2, "locked": 0,
                                    "mfa_required": 0, "mfa_failure": 0}
    assert delta(s1, s0, "http_requests_total", method="POST", route="/auth/login",
                 status="401") == 2
    assert delta(s1, s0, "http_requests_total", method="POST", route="/auth/login",
                 status="200") == 1


def test_lockout_counts_locked_attempts(stack):
    s = stack
    s0 = s.scrape()
    first = s.try_login("locky", "Wrong-Password-1!")
    second = s.try_login("locky", "Wrong-Password-2!")  # MAX_FAILED_ATTEMPTS=2: now locked
    assert first.status_code == 401, describe(first)
    assert second.status_code in (401, 423), describe(second)
    s1 = s.scrape()
    assert login_deltas(s1, s0) == {"success": 0, "failure": 2, "locked": 0,
                                    "mfa_required": 0, "mfa_failure": 0}
    r = s.try_login("locky", EVA_PASSWORD)  # the right password, but locked
    assert_error(r, 423, "ACCOUNT_LOCKED")
    r = s.try_login("locky", "Wrong-Password-3!")
    assert_error(r, 423, "ACCOUNT_LOCKED")
    s2 = s.scrape()
    assert login_deltas(s2, s1) == {"success": 0, "failure": 0, "locked": 2,
                                    "mfa_required": 0, "mfa_failure": 0}
    assert delta(s2, s1, "evald_errors_total", code="ACCOUNT_LOCKED",
                 category="authentication", severity="medium") == 2


# --- 6. errors by code, rate-limit decisions ---------------------------------------------------

def wait_for(what: str, pred, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def logged(status: int) -> bool:
    """The statuses the access layer hands to the error log."""
    return status >= 500 or status in (401, 403, 423, 429)


def error_log_settled(s: Stack) -> Exposition:
    """A scrape at which the error log has taken (written, dropped or failed) an entry for every
    401, 403, 423, 429 and 5xx answered so far: its writer works in the background."""
    def settled():
        e = s.scrape()
        answered = sum(v for d, v in e.find("http_requests_total") if logged(int(d["status"])))
        return e if e.total("evald_error_log_entries_total") == answered else None
    return wait_for("the error log to take every error answer", settled)


def test_errors_by_code_and_rate_limit_decisions(stack):
    s = stack
    s0 = error_log_settled(s)
    ip = fresh_ip()
    refusals = 2
    for _ in range(API_LIMIT):
        assert_error(s.get("/auth/me", {"X-Forwarded-For": ip}), 401, "AUTH_FAILED")
    s1 = s.scrape()
    assert delta(s1, s0, "evald_errors_total", code="AUTH_FAILED", category="authentication",
                 severity="medium") == API_LIMIT
    for _ in range(refusals):
        r = s.get("/auth/me", {"X-Forwarded-For": ip})
        assert r.status_code == 429, describe(r)
        assert r.json()["error_code"] == "RATE_LIMIT_EXCEEDED"
    s2 = s.scrape()

    assert delta(s2, s1, "evald_errors_total", code="RATE_LIMIT_EXCEEDED", category="security",
                 severity="medium") == refusals
    assert delta(s2, s1, "evald_errors_total", code="AUTH_FAILED", category="authentication",
                 severity="medium") == 0
    assert s2.total("evald_errors_total") - s0.total("evald_errors_total") == \
        API_LIMIT + refusals
    rule = "per_ip:api"
    assert delta(s2, s0, "rate_limit_decisions_total", rule=rule, outcome="allowed") == API_LIMIT
    assert delta(s2, s0, "rate_limit_decisions_total", rule=rule, outcome="refused") == refusals
    assert delta(s2, s0, "rate_limit_decisions_total", rule=rule, outcome="shadow_refused") == 0
    for other in ("per_ip:login", "per_ip:admin"):
        for outcome in ("allowed", "refused"):
            assert delta(s2, s0, "rate_limit_decisions_total", rule=other, outcome=outcome) == 0
    assert {d["rule"] for d, _ in s2.find("rate_limit_decisions_total")} == \
        {"per_ip:api", "per_ip:login", "per_ip:admin"}
    assert delta(s2, s0, "rate_limit_penalties_total", rule=rule) == 0
    assert delta(s2, s0, "rate_limit_bypassed_total") == 0
    assert delta(s2, s0, "http_requests_total", method="GET", route="/auth/me",
                 status="401") == API_LIMIT
    assert delta(s2, s0, "http_requests_total", method="GET", route="/auth/me",
                 status="429") == refusals
    modes = {d["store"]: v for d, v in s2.find("rate_limit_store_mode")}
    assert modes == {"local": 1, "redis": 0, "fallback": 0}, modes

    # The error log takes every 401 and 429, once each.
    e = error_log_settled(s)
    assert delta(e, s0, "evald_error_log_entries_total", fate="written") == API_LIMIT + refusals
    assert delta(e, s0, "evald_error_log_entries_total", fate="dropped") == 0
    assert delta(e, s0, "evald_error_log_entries_total", fate="failed") == 0


# --- 7. process and build ----------------------------------------------------------------------

def proc_status(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/{pid}/status")


def test_process_figures_and_build_info(evald, tmp_path):
    t0 = time.time()
    srv = evald(env={"DATABASE_URL": f"sqlite://{tmp_path}/p.db", "JWT_SECRET": JWT_SECRET,
                     "METRICS_TOKEN": METRICS_TOKEN})
    t1 = time.time()
    r = requests.get(srv.url("/health/metrics"), headers=bearer(METRICS_TOKEN), timeout=10)
    assert r.status_code == 200, describe(r)
    e = Exposition(r.text)
    now = time.time()

    rss = e.value("process_resident_memory_bytes")
    vms = e.value("process_virtual_memory_bytes")
    assert 0 < rss <= vms, (rss, vms)
    vm_rss = proc_status(srv.pid, "VmRSS") * 1024
    assert vm_rss / 3 <= rss <= vm_rss * 3, (rss, vm_rss)
    open_fds, max_fds = e.value("process_open_fds"), e.value("process_max_fds")
    assert 0 < open_fds <= max_fds, (open_fds, max_fds)
    soft, _ = resource.prlimit(srv.pid, resource.RLIMIT_NOFILE)
    assert max_fds == soft, (max_fds, soft)
    start = e.value("process_start_time_seconds")
    assert abs(now - start) < 60, (start, now)
    assert t0 - 2 <= start <= t1 + 1, (t0, start, t1)
    assert e.value("process_threads") >= 2
    assert e.value("process_cpu_seconds_total") >= 0

    p = run_evald(["--version"])
    assert p.returncode == 0, p.stderr
    m = re.fullmatch(r"evald (\S+) \((\S+)\)\s*", p.stdout)
    assert m, p.stdout
    info = e.find("evald_build_info")
    assert len(info) == 1, info
    labels, value = info[0]
    assert value == 1
    assert labels == {"version": m.group(1), "commit": m.group(2)}, (labels, p.stdout)


# --- 8. database statements ------------------------------------------------------------------

def test_database_histogram_counts_the_queries_of_a_login(stack):
    s = stack
    s0 = s.scrape()
    n = 3
    for _ in range(n):
        assert s.try_login(ADMIN_LOGIN, ADMIN_PASSWORD).status_code == 200
    s1 = s.scrape()
    key = key_of({"engine": "sqlite"})
    h0 = s0.histograms("evald_db_query_duration_seconds")[key]
    h1 = s1.histograms("evald_db_query_duration_seconds")[key]
    check_histogram("evald_db_query_duration_seconds", key, h0)
    check_histogram("evald_db_query_duration_seconds", key, h1)
    # A login reads the account and writes a session: at least two statements each.
    assert h1["count"] - h0["count"] >= 2 * n, (h0["count"], h1["count"])
    assert h1["sum"] > h0["sum"]
    for (le0, c0), (le1, c1) in zip(h0["buckets"], h1["buckets"]):
        assert le0 == le1 and c1 >= c0
    assert delta(s1, s0, "evald_db_query_failures_total") == 0
    assert s1.value("evald_db_pool_max_connections") >= 1
    assert s1.value("evald_db_pool_connections", state="in_use") >= 0
    assert s1.value("evald_mail_outbox_pending") == 0


# --- known defects (kept last so that -x runs everything else first) ---------------------------



def test_a_413_is_counted_like_every_other_error_answer(stack):
    """A body over MAX_BODY_BYTES is answered 413 PAYLOAD_TOO_LARGE with the standard error
    body, so it must be in http_requests_total and evald_errors_total like any other answer;
    otherwise evald_errors_total{code="PAYLOAD_TOO_LARGE"} can never move."""
    s = stack
    s0 = s.scrape()
    line = raw_request(s.srv.port, b"POST /auth/login HTTP/1.1\r\nHost: t\r\n"
                                   b"Content-Type: application/json\r\n"
                                   b"Content-Length: 20000000\r\n\r\n")
    assert line.startswith(b"HTTP/1.1 413"), line
    s1 = s.scrape()
    assert delta(s1, s0, "evald_errors_total", code="PAYLOAD_TOO_LARGE", category="validation",
                 severity="medium") == 1
    assert s1.total("http_requests_total", status="413") - \
        s0.total("http_requests_total", status="413") == 1
