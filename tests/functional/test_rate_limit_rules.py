"""RATE_LIMIT_RULES: rules files (YAML and JSON), start-up validation, SIGHUP reload, shadow
rules, GET /metrics/rate-limiting, the bypass token and exempt routes, against the real binary
with the in-process store.

Windows are long (an hour) so that no bucket refills during a test: every count is exact.
The tests that show a known server defect are at the end of the file, so that `-x` runs the
rest first.
"""

from __future__ import annotations

import calendar
import collections
import json
import re
import signal
import threading
import time

import pytest
import requests

from authkit import ISO_Z, assert_error, create_user_cli
from conftest import free_port, run_evald
from test_rate_limit import PASSWORD, limited

HOUR = 3600
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                "X-RateLimit-Window", "RateLimit", "RateLimit-Policy", "Retry-After")
PREFIX = "evald: invalid configuration: RATE_LIMIT_RULES: "
BYPASS = "let-me-through-0123456789"


# --- helpers -----------------------------------------------------------------------------------

def rule(scope, match=None, limit=3, window=HOUR, **extra) -> dict:
    r = {"scope": scope}
    if match is not None:
        r["match"] = match
    r.update(limit=limit, window=window, **extra)
    return r


def to_yaml(rules: list[dict]) -> str:
    lines = ["rules:"]
    for r in rules:
        for i, (k, v) in enumerate(r.items()):
            v = str(v).lower() if isinstance(v, bool) else v
            lines.append(("  - " if i == 0 else "    ") + f"{k}: {v}")
    return "\n".join(lines) + "\n"


def write_rules(path, rules: list[dict], fmt: str = "yaml"):
    if fmt == "yaml":
        path.write_text(to_yaml(rules))
    elif fmt == "json":
        path.write_text(json.dumps({"rules": rules}, indent=2))
    elif fmt == "json-list":
        path.write_text(json.dumps(rules))
    else:
        raise ValueError(fmt)
    return path


def start(evald, tmp_path, rules: list[dict], fmt: str = "yaml", **env):
    path = write_rules(tmp_path / f"rules.{'yaml' if fmt == 'yaml' else 'json'}", rules, fmt)
    return limited(evald, RATE_LIMIT_RULES=str(path), **env), path


def serve_must_fail(env: dict):
    """`evald serve` with these settings, which must refuse to start."""
    full = {"HOST": "127.0.0.1", "PORT": str(free_port()), "ENVIRONMENT": "test",
            "LOG_FORMAT": "json", "RATE_LIMIT_ENABLED": "true", **env}
    p = run_evald(["serve"], env=full, timeout=10)
    assert p.returncode == 2, f"rc={p.returncode} stdout={p.stdout!r} stderr={p.stderr!r}"
    assert "listening" not in p.stdout + p.stderr
    return p


def me(srv, headers=None, method="GET", path="/auth/me"):
    return requests.request(method, srv.url(path), headers=headers or {}, timeout=10)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def admin_token(srv) -> str:
    r = requests.post(srv.url("/auth/login"), json={"login_id": "admin", "password": PASSWORD},
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def stats(srv, token: str) -> dict:
    r = requests.get(srv.url("/metrics/rate-limiting"), headers=bearer(token), timeout=10)
    assert r.status_code == 200, r.text
    for h in RATE_HEADERS:
        assert h not in r.headers, f"/metrics/rate-limiting carries {h}"
    return r.json()


def rule_stats(s: dict, name: str) -> dict:
    found = [r for r in s["rules"] if r["name"] == name]
    assert len(found) == 1, f"{name} not (once) in {[r['name'] for r in s['rules']]}"
    return found[0]


def definitions(s: dict) -> list[dict]:
    """The rules of a stats body without their counters."""
    keys = ("name", "scope", "limit", "window_seconds", "burst", "penalty_seconds", "shadow")
    return [{k: r[k] for k in keys} for r in s["rules"]]


def delta(after: dict, before: dict, *keys) -> dict:
    return {k: after[k] - before[k] for k in keys}


def wait_for(what: str, pred, timeout: float = 5.0, srv=None):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"; log:\n{srv.log_tail()}" if srv is not None else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{tail}")
        time.sleep(0.02)


def log_records(srv) -> list[dict]:
    out = []
    for line in srv.log_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def ratelimit_logs(srv, msg_prefix: str) -> list[dict]:
    return [r for r in log_records(srv)
            if r.get("module") == "ratelimit" and str(r.get("msg", "")).startswith(msg_prefix)]


def sighup_and_wait(srv, msg_prefix: str) -> dict:
    """SIGHUP, then the new ratelimit log record whose message starts with msg_prefix."""
    before = len(ratelimit_logs(srv, msg_prefix))
    srv.send_signal(signal.SIGHUP)
    wait_for(f"a new ratelimit log line {msg_prefix!r}",
             lambda: len(ratelimit_logs(srv, msg_prefix)) > before, srv=srv)
    assert srv.running
    return ratelimit_logs(srv, msg_prefix)[-1]


class Traffic(threading.Thread):
    """Anonymous GET /auth/me in a loop, each from a new client address (X-Forwarded-For from a
    trusted 127.0.0.1), alternating a keep-alive session and fresh connections: every answer
    must be the authentication's 401 (a new client is always within its limit)."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.statuses: collections.Counter = collections.Counter()
        self.errors: list[str] = []
        self.count = 0
        self._halt = threading.Event()

    def run(self):
        session = requests.Session()
        i = 0
        while not self._halt.is_set():
            i += 1
            ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            client = session if i % 2 else requests
            try:
                r = client.get(self.srv.url("/auth/me"), headers={"X-Forwarded-For": ip},
                               timeout=5)
                self.statuses[r.status_code] += 1
            except requests.RequestException as e:
                self.errors.append(repr(e))
            self.count += 1
        session.close()

    def stop(self):
        self._halt.set()
        self.join(timeout=10)
        assert not self.is_alive()

    def wait_more(self, n: int):
        target = self.count + n
        wait_for(f"{n} more background requests", lambda: self.count >= target)


# --- 1. start-up validation ------------------------------------------------------------------

BAD_FILES = {
    "invalid-yaml": (
        "rules:\n"
        "  - scope: per_ip\n"
        "    match: api\n"
        "   limit: 3\n"  # line 4: indented wrongly
        "    window: 60\n",
        r"line 4: not valid JSON or YAML: .+"),
    "invalid-json": (
        '{\n'
        '  "rules": [\n'
        '    {"scope": "per_ip" "match": "api", "limit": 3, "window": 60}\n'  # line 3: no comma
        '  ]\n'
        '}\n',
        r"line 3: not valid JSON or YAML: .+"),
    "unknown-field": (
        "rules:\n"
        "  - scope: per_ip\n"
        "    match: api\n"
        "    limit: 3\n"
        "    window: 60\n"
        "    colour: red\n",  # line 6
        r"line 6: rules\[0\](\.colour)?: unknown field 'colour'"),
    "negative-limit": (
        "rules:\n"
        "  - scope: per_ip\n"
        "    match: api\n"
        "    limit: -3\n"  # line 4
        "    window: 60\n",
        r"line 4: rules\[0\]\.limit: must be above 0"),
    "limit-not-a-number-json": (
        '{\n'
        '  "rules": [\n'
        '    {"scope": "per_ip", "match": "api",\n'
        '     "limit": "lots", "window": 60}\n'  # line 4
        '  ]\n'
        '}\n',
        r"line 4: rules\[0\]\.limit: must be a number"),
    "duplicate-rule": (
        "rules:\n"
        "  - scope: per_ip\n"
        "    match: api\n"
        "    limit: 3\n"
        "    window: 60\n"
        "  - scope: per_ip\n"  # line 6: the second per_ip:api
        "    match: api\n"
        "    limit: 4\n"
        "    window: 60\n",
        r"line 6: rules\[1\]: .*\bper_ip:api\b.*"),
    "unknown-category": (
        "rules:\n"
        "  - scope: per_ip\n"
        "    match: api\n"
        "    limit: 3\n"
        "    window: 60\n"
        "  - scope: per_endpoint\n"
        "    match: downloads\n"  # line 7
        "    limit: 3\n"
        "    window: 60\n",
        r"line 7: rules\[1\]\.match: must be a route category: "
        r"login, upload, admin, api, bulk or export"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_rules_file_stops_serve_with_line_and_field(tmp_path, case):
    text, expected = BAD_FILES[case]
    path = tmp_path / ("rules.json" if "json" in case else "rules.yaml")
    path.write_text(text)
    p = serve_must_fail({"RATE_LIMIT_RULES": str(path)})
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert re.fullmatch(re.escape(PREFIX) + expected, lines[0]), p.stderr


def test_missing_rules_file_stops_serve(tmp_path):
    path = tmp_path / "no-such-rules.yaml"
    p = serve_must_fail({"RATE_LIMIT_RULES": str(path)})
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(PREFIX) and str(path) in lines[0], p.stderr


def test_every_error_of_a_file_is_printed_together(tmp_path):
    text = (
        "rules:\n"
        "  - scope: per_ip\n"           # rules[0]
        "    match: api\n"
        "    limit: -1\n"               # 4
        "    window: 60\n"
        "  - scope: per_ip\n"           # rules[1]
        "    match: nowhere\n"          # 7
        "    limit: 5\n"
        "    window: 60\n"
        "  - scope: per_user\n"         # rules[2]
        "    match: admin\n"
        "    limit: 100\n"
        "    window: 3600\n"
        "    colour: red\n"             # 14
        "  - scope: global\n"           # rules[3], valid
        "    limit: 1000\n"
        "    window: 60\n"
        "  - scope: global\n"           # 18: rules[4], a second global
        "    limit: 10\n"
        "    window: 60\n"
        "  - scope: per_endpoint\n"     # rules[5]
        "    match: bulk\n"
        "    limit: 5\n"
        "    window: 0\n"               # 24
        "  - scope: per_ip\n"           # rules[6]
        "    match: login\n"
        "    limit: 5\n"
        "    window: 300\n"
        "    shadow: maybe\n")          # 29
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    p = serve_must_fail({"RATE_LIMIT_RULES": str(path)})
    expected = [
        r"line 4: rules\[0\]\.limit: must be above 0",
        r"line 7: rules\[1\]\.match: must be a route category: .+",
        r"line 14: rules\[2\](\.colour)?: unknown field 'colour'",
        r"line 18: rules\[4\]: .*\bglobal\b.*",
        r"line 24: rules\[5\]\.window: must be at least 0\.001",
        r"line 29: rules\[6\]\.shadow: must be true or false",
    ]
    lines = p.stderr.splitlines()
    assert len(lines) == len(expected), p.stderr
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(re.escape(PREFIX) + pattern, line), p.stderr


# --- 2. YAML and JSON files --------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["yaml", "json", "json-list"])
def test_rules_file_replaces_the_defaults(evald, tmp_path, fmt):
    srv, _ = start(evald, tmp_path, [rule("per_ip", "api", limit=3)], fmt)
    for i in range(3):
        r = me(srv)
        assert r.status_code == 401, r.text  # allowed, then refused by authentication
        assert r.headers["X-RateLimit-Limit"] == "3"
        assert r.headers["X-RateLimit-Remaining"] == str(2 - i)
        assert r.headers["X-RateLimit-Window"] == str(HOUR)
        assert r.headers["RateLimit-Policy"] == f'3;w={HOUR};burst=3;policy="per_ip:api"'
    r = me(srv)
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert body["details"][0]["message"] == "per_ip:api"
    assert r.headers["X-RateLimit-Limit"] == "3"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert int(r.headers["Retry-After"]) == HOUR // 3  # one token every 1200 s
    # No login rule in the file: the built-in per_ip:login (5 per 300 s) is gone, and login
    # falls back to the (exhausted) per_ip:api bucket.
    r = requests.post(srv.url("/auth/login"), json={"login_id": "admin", "password": PASSWORD},
                      timeout=10)
    assert r.status_code == 429, r.text
    assert r.headers["RateLimit-Policy"].endswith('policy="per_ip:api"')


# --- 3. SIGHUP ---------------------------------------------------------------------------------

def test_sighup_reload_applies_a_valid_file_and_keeps_rules_on_a_bad_one(evald, tmp_path):
    srv, path = start(evald, tmp_path, [rule("per_ip", "api", limit=3),
                                        rule("per_ip", "login", limit=100)],
                      TRUSTED_PROXIES="127.0.0.1")
    token = admin_token(srv)
    s0 = stats(srv, token)
    a = {"X-Forwarded-For": "198.51.100.10"}
    for _ in range(3):
        assert me(srv, a).status_code == 401
    r = me(srv, a)
    assert r.status_code == 429 and r.headers["X-RateLimit-Limit"] == "3"
    assert rule_stats(stats(srv, token), "per_ip:api")["limit"] == 3

    traffic = Traffic(srv)
    traffic.start()
    try:
        traffic.wait_more(20)
        write_rules(path, [rule("per_ip", "api", limit=50), rule("per_ip", "login", limit=100)])
        rec = sighup_and_wait(srv, "rules reloaded")
        assert rec.get("file") == str(path) and rec.get("rules") == 2, rec
        traffic.wait_more(20)

        # A client new to the server gets the new limit at once.
        b = {"X-Forwarded-For": "198.51.100.11"}
        for i in range(10):
            r = me(srv, b)
            assert r.status_code == 401, r.text
            assert r.headers["X-RateLimit-Limit"] == "50"
            assert r.headers["X-RateLimit-Remaining"] == str(49 - i)
            assert r.headers["RateLimit-Policy"] == f'50;w={HOUR};burst=50;policy="per_ip:api"'
        reloaded = stats(srv, token)
        api = rule_stats(reloaded, "per_ip:api")
        assert (api["limit"], api["burst"], api["window_seconds"]) == (50, 50, HOUR)

        # A bad file: logged, and the rules in force stay.
        write_rules(path, [rule("per_ip", "api", limit=-5), rule("per_ip", "login", limit=1)])
        rec = sighup_and_wait(srv, "rules file rejected")
        assert rec.get("level") == "error", rec
        assert "rules[0].limit" in str(rec.get("errors")) and "line 4" in str(rec.get("errors"))
        traffic.wait_more(20)
        # A file that is gone: the same.
        path.unlink()
        rec = sighup_and_wait(srv, "rules file rejected")
        assert str(path) in json.dumps(rec), rec
        traffic.wait_more(20)
    finally:
        traffic.stop()

    assert not traffic.errors, traffic.errors[:5]
    assert set(traffic.statuses) == {401}, traffic.statuses
    r = me(srv, b)
    assert r.status_code == 401
    assert r.headers["X-RateLimit-Limit"] == "50" and r.headers["X-RateLimit-Remaining"] == "39"
    s1 = stats(srv, token)
    assert definitions(s1) == definitions(reloaded)
    assert len(ratelimit_logs(srv, "rules reloaded")) == 1
    # The counts go on across reloads: every decision, before, during and after, is in them.
    background = sum(traffic.statuses.values())
    assert delta(s1, s0, "total_requests", "allowed_requests", "blocked_requests") == \
        {"total_requests": 15 + background, "allowed_requests": 14 + background,
         "blocked_requests": 1}
    assert delta(rule_stats(s1, "per_ip:api"), rule_stats(s0, "per_ip:api"),
                 "allowed", "refused") == {"allowed": 14 + background, "refused": 1}


# --- 4. shadow rules ---------------------------------------------------------------------------

SHADOW_RULES = [rule("per_ip", "api", limit=2, shadow=True),
                rule("global", limit=1000),
                rule("per_ip", "login", limit=100)]


def test_shadow_rule_counts_but_never_refuses(evald, tmp_path):
    srv, _ = start(evald, tmp_path, SHADOW_RULES)
    token = admin_token(srv)
    s0 = stats(srv, token)
    assert rule_stats(s0, "per_ip:api")["shadow"] is True
    assert rule_stats(s0, "global")["shadow"] is False
    for _ in range(10):
        r = me(srv)
        assert r.status_code == 401, r.text
        # The headers describe enforced rules only.
        assert r.headers["RateLimit-Policy"].endswith('policy="global"')
        assert r.headers["X-RateLimit-Limit"] == "1000"
    s1 = stats(srv, token)
    shadow0, shadow1 = rule_stats(s0, "per_ip:api"), rule_stats(s1, "per_ip:api")
    assert shadow1["shadow_refused"] - shadow0["shadow_refused"] == 8
    assert shadow1["refused"] == 0 and shadow1["penalties"] == 0
    glob0, glob1 = rule_stats(s0, "global"), rule_stats(s1, "global")
    assert delta(glob1, glob0, "allowed", "refused", "shadow_refused") == \
        {"allowed": 10, "refused": 0, "shadow_refused": 0}
    assert delta(s1, s0, "total_requests", "allowed_requests", "blocked_requests") == \
        {"total_requests": 10, "allowed_requests": 10, "blocked_requests": 0}
    assert s1["recent_violations"] == s0["recent_violations"]


# --- 5. statistics -----------------------------------------------------------------------------

def test_stats_count_exactly_and_list_violations_newest_first(evald, tmp_path):
    db_url = f"sqlite://{tmp_path}/rl.db"
    made = create_user_cli(db_url, "eva", "evaluator", "eva@example.org",
                           "Evald-Evaluator-Pass-2026!", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    srv, _ = start(evald, tmp_path, [rule("per_ip", "api", limit=4),
                                     rule("per_ip", "login", limit=100)], DATABASE_URL=db_url)
    token = admin_token(srv)
    r = requests.post(srv.url("/auth/login"),
                      json={"login_id": "eva", "password": "Evald-Evaluator-Pass-2026!"},
                      timeout=10)
    assert r.status_code == 200, r.text
    eva = r.json()["access_token"]

    s0 = stats(srv, token)
    assert s0["enabled"] is True and s0["store"] == "local"
    assert [r["name"] for r in s0["rules"]] == ["per_ip:api", "per_ip:login"]
    # Admins only; the statistics endpoint is not itself limited or counted.
    url = srv.url("/metrics/rate-limiting")
    for _ in range(3):
        assert_error(requests.get(url, timeout=10), 401, "AUTH_FAILED")
        assert_error(requests.get(url, headers=bearer(eva), timeout=10), 403,
                     "INSUFFICIENT_PERMISSIONS")
    s1 = stats(srv, token)
    assert delta(s1, s0, "total_requests", "allowed_requests", "blocked_requests") == \
        {"total_requests": 0, "allowed_requests": 0, "blocked_requests": 0}

    for _ in range(4):
        assert me(srv).status_code == 401
    assert me(srv).status_code == 429
    first = time.time()
    r = me(srv, method="DELETE", path="/auth/sessions/abc123")
    assert r.status_code == 429, r.text
    r = requests.post(srv.url("/auth/login"), json={"login_id": "admin", "password": "wrong"},
                      timeout=10)
    assert r.status_code == 401, r.text

    s2 = stats(srv, token)
    assert delta(s2, s1, "total_requests", "allowed_requests", "blocked_requests",
                 "bypassed_requests") == \
        {"total_requests": 7, "allowed_requests": 5, "blocked_requests": 2, "bypassed_requests": 0}
    assert s2["block_rate"] == pytest.approx(s2["blocked_requests"] / s2["total_requests"])
    api1, api2 = rule_stats(s1, "per_ip:api"), rule_stats(s2, "per_ip:api")
    assert delta(api2, api1, "allowed", "refused", "shadow_refused", "penalties") == \
        {"allowed": 4, "refused": 2, "shadow_refused": 0, "penalties": 0}
    assert api2["refusal_rate"] == pytest.approx(
        api2["refused"] / (api2["allowed"] + api2["refused"]))
    login1, login2 = rule_stats(s1, "per_ip:login"), rule_stats(s2, "per_ip:login")
    assert delta(login2, login1, "allowed", "refused") == {"allowed": 1, "refused": 0}

    new = s2["recent_violations"][:len(s2["recent_violations"]) - len(s1["recent_violations"])]
    assert len(new) == 2, s2["recent_violations"]
    assert [v["path"] for v in new] == ["/auth/sessions/{session_id}", "/auth/me"]
    for v in new:
        assert v["client_ip"] == "127.0.0.1"
        assert v["key"] == "per_ip:api|127.0.0.1"
        assert v["violated_rules"] == ["per_ip:api"]
        assert v["penalty"] is False
        assert ISO_Z.match(v["timestamp"]), v
    assert new[0]["timestamp"] >= new[1]["timestamp"]
    stamp = calendar.timegm(time.strptime(new[0]["timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(stamp - first) < 60  # the wall clock, in UTC


# --- 6. bypass token ---------------------------------------------------------------------------

def test_bypass_token_skips_limiting_and_is_counted(evald, tmp_path):
    srv, _ = start(evald, tmp_path, [rule("per_ip", "api", limit=2),
                                     rule("per_ip", "login", limit=100)],
                   RATE_LIMIT_BYPASS_TOKEN=BYPASS)
    token = admin_token(srv)
    s0 = stats(srv, token)
    assert [me(srv).status_code for _ in range(3)] == [401, 401, 429]
    for _ in range(5):
        r = me(srv, {"X-RateLimit-Bypass": BYPASS})
        assert r.status_code == 401, r.text  # passed on to authentication
        for h in RATE_HEADERS:
            assert h not in r.headers
    r = me(srv, {"X-RateLimit-Bypass": BYPASS, **bearer(token)})
    assert r.status_code == 200, r.text
    for wrong in (BYPASS[:-1] + "X", BYPASS[:-1], BYPASS + "0", BYPASS.upper(), ""):
        r = me(srv, {"X-RateLimit-Bypass": wrong})
        assert r.status_code == 429, (wrong, r.text)
    s1 = stats(srv, token)
    assert delta(s1, s0, "bypassed_requests", "total_requests", "allowed_requests",
                 "blocked_requests") == \
        {"bypassed_requests": 6, "total_requests": 8, "allowed_requests": 2,
         "blocked_requests": 6}


def test_bypass_token_is_refused_in_production(tmp_path):
    p = serve_must_fail({"ENVIRONMENT": "production", "RATE_LIMIT_BYPASS_TOKEN": BYPASS,
                         "JWT_SECRET": "production-secret-0123456789abcdefgh",
                         "DATABASE_URL": f"sqlite://{tmp_path}/prod.db"})
    lines = p.stderr.splitlines()
    assert lines and all("RATE_LIMIT_BYPASS_TOKEN" in line for line in lines), p.stderr
    assert "production" in p.stderr
    assert BYPASS not in p.stderr + p.stdout  # the secret itself is not echoed


# --- 7. exempt routes and categories -----------------------------------------------------------

def test_exempt_routes_never_carry_rate_limit_headers(evald, tmp_path):
    srv, _ = start(evald, tmp_path, [rule("per_ip", "api", limit=2),
                                     rule("per_ip", "admin", limit=5),
                                     rule("per_ip", "login", limit=100)])
    token = admin_token(srv)
    assert [me(srv, bearer(token)).status_code for _ in range(3)] == [200, 200, 429]
    s0 = stats(srv, token)
    for _ in range(5):
        for path, headers in (("/health/ready", {}), ("/ping", {}), ("/health/ping", {}),
                              ("/health/live", {}), ("/metrics/rate-limiting", bearer(token))):
            r = requests.get(srv.url(path), headers=headers, timeout=10)
            assert r.status_code == 200, (path, r.text)
            for h in RATE_HEADERS:
                assert h not in r.headers, (path, h)
    s1 = stats(srv, token)
    assert s1["total_requests"] == s0["total_requests"]

    # The exhausted api bucket does not leak into other categories.
    r = requests.get(srv.url("/auth/lockout-status/admin"), headers=bearer(token), timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["RateLimit-Policy"].endswith('policy="per_ip:admin"')
    assert (r.headers["X-RateLimit-Limit"], r.headers["X-RateLimit-Remaining"]) == ("5", "4")
    r = requests.post(srv.url("/auth/login"), json={"login_id": "admin", "password": "wrong"},
                      timeout=10)
    assert r.status_code == 401, r.text
    assert r.headers["RateLimit-Policy"].endswith('policy="per_ip:login"')
    assert r.headers["X-RateLimit-Limit"] == "100"
    assert me(srv, bearer(token)).status_code == 429  # and api is still exhausted


# --- known defects (kept last so that -x runs everything else first) ---------------------------

def test_sighup_raising_a_limit_lets_a_client_at_the_old_limit_through(evald, tmp_path):
    """Raising per_ip:api from 3 to 50 an hour: a client that made 3 requests this hour has
    used 3 of 50 and may go on (and the headers must not say Limit 50, Remaining 0)."""
    srv, path = start(evald, tmp_path, [rule("per_ip", "api", limit=3)])
    assert [me(srv).status_code for _ in range(4)] == [401, 401, 401, 429]
    write_rules(path, [rule("per_ip", "api", limit=50)])
    sighup_and_wait(srv, "rules reloaded")
    for i in range(5):
        r = me(srv)
        assert r.headers["X-RateLimit-Limit"] == "50"
        assert r.status_code == 401, (
            f"request {i + 1} after raising the limit to 50: {r.status_code}, "
            f"X-RateLimit-Remaining={r.headers.get('X-RateLimit-Remaining')}, "
            f"Retry-After={r.headers.get('Retry-After')}")


def test_shadow_refusals_are_logged(evald, tmp_path):
    """A shadow rule is 'counted and logged, never enforced' (rules_file.hpp, bucket.hpp): the
    log must name the rule that would have refused, so that operators can see who it would hit."""
    srv, _ = start(evald, tmp_path, SHADOW_RULES, LOG_LEVEL="info,ratelimit=debug")
    for _ in range(3):
        assert me(srv).status_code == 401

    def shadow_lines():
        return [line for line in srv.log_text().splitlines()
                if "per_ip:api" in line and "shadow" in line.lower()]
    wait_for("a log line about the shadow refusal of per_ip:api", shadow_lines, timeout=3,
             srv=srv)
