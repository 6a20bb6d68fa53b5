"""Rate limiting shared through Redis (REDIS_URL): exact buckets under concurrency, limits shared
by several instances, the circuit breaker (Redis killed, restarted, hung), headers and
Retry-After, per-user buckets, the admin clear, penalties and refusal security events.

Every test gets its own redis-server (the `redis_server` fixture) and a rules file of its own
(RATE_LIMIT_RULES) with small buckets and slow refills, so the expected counts are computed, not
hoped for. TRUSTED_PROXIES=127.0.0.1 lets a test give its traffic an address of its own with
X-Forwarded-For (its own per-IP bucket), apart from the admin's reads from 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
import requests

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import assert_error, create_user_cli, describe  # noqa: E402

JWT_SECRET = "redis-rate-limit-tests-secret-0123456789abcdef"
ADMIN = "rladmin"
ADMIN_PASSWORD = "Evald-Redis-Limit-2026!"
ADMIN_EMAIL = "rladmin@example.org"
USER_PASSWORD = "Evald-Redis-User-2026!"
BYPASS = "redis-tests-bypass-token-0123456789"
KEY_PREFIX = "evald:rl:"
HOUR = 3600

# Rules that never bind in these tests: the admin's sign-in and the admin routes.
ROOMY = [
    {"scope": "per_ip", "match": "login", "limit": 1000, "window": 60},
    {"scope": "per_ip", "match": "admin", "limit": 1000, "window": 60},
]


# --- set-up ---------------------------------------------------------------------------------------

def rules_file(tmp_path, rules: list[dict]) -> str:
    """A JSON rules file: `rules`, plus the roomy login and admin rules unless given."""
    names = {(r["scope"], r.get("match")) for r in rules}
    full = list(rules) + [r for r in ROOMY if (r["scope"], r["match"]) not in names]
    path = tmp_path / f"rules-{time.monotonic_ns()}.json"
    path.write_text(json.dumps({"rules": full}))
    return str(path)


def api_rule(limit, window=HOUR, **kw) -> dict:
    return {"scope": "per_ip", "match": "api", "limit": limit, "window": window, **kw}


def start(evald, redis_server, rules_path: str, **env):
    """An evald with rate limiting on, shared through `redis_server`, and a first admin."""
    full = {"RATE_LIMIT_ENABLED": "true", "REDIS_URL": redis_server.url,
            "RATE_LIMIT_RULES": rules_path, "JWT_SECRET": JWT_SECRET,
            "ADMIN_LOGIN_ID": ADMIN, "ADMIN_PASSWORD": ADMIN_PASSWORD,
            "ADMIN_EMAIL": ADMIN_EMAIL, "TRUSTED_PROXIES": "127.0.0.1",
            "RATE_LIMIT_BYPASS_TOKEN": BYPASS,
            # Lockout would answer 423 first; these tests are about the limiter.
            "MAX_FAILED_ATTEMPTS": "100"}
    full.update({k: str(v) for k, v in env.items()})
    return evald(env=full)


def call(srv, method: str, path: str, *, ip: str | None = None, token: str | None = None,
         bypass: bool = False, timeout: float = 10, **kw) -> requests.Response:
    """One request on a new connection; `ip` is sent as X-Forwarded-For (a trusted proxy)."""
    headers = dict(kw.pop("headers", {}))
    if ip:
        headers["X-Forwarded-For"] = ip
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if bypass:
        headers["X-RateLimit-Bypass"] = BYPASS
    return requests.request(method, srv.url(path), headers=headers, timeout=timeout, **kw)


def me(srv, **kw) -> requests.Response:
    """GET /auth/me: 401 without a token, 200 with one; an "api" route either way."""
    return call(srv, "GET", "/auth/me", **kw)


def bad_login(srv, **kw) -> requests.Response:
    return call(srv, "POST", "/auth/login",
                json={"login_id": "nobody", "password": "wrong-password-1"}, **kw)


def login(srv, login_id: str, password: str, **kw) -> dict:
    r = call(srv, "POST", "/auth/login", json={"login_id": login_id, "password": password}, **kw)
    assert r.status_code == 200, describe(r)
    return r.json()


def admin_token(srv) -> str:
    return login(srv, ADMIN, ADMIN_PASSWORD, bypass=True)["access_token"]


def stats(srv, token: str) -> dict:
    r = call(srv, "GET", "/metrics/rate-limiting", token=token)
    assert r.status_code == 200, describe(r)
    return r.json()


def rule_stats(s: dict, name: str) -> dict:
    found = [r for r in s["rules"] if r["name"] == name]
    assert found, f"no rule {name} in {s['rules']}"
    return found[0]


def wait_store(srv, token: str, store: str, timeout: float) -> tuple[dict, float]:
    """Polls the statistics until the limiter reports `store`; the stats and the time taken."""
    t0 = time.monotonic()
    while True:
        s = stats(srv, token)
        if s["store"] == store:
            return s, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{srv.name}: store still {s['store']!r} after {timeout} s, "
                                 f"not {store!r}: {s['redis']}")
        time.sleep(0.05)


def assert_redis_mode(s: dict):
    assert s["store"] == "redis" and s["redis_connected"] is True, s
    assert s["redis"]["available"] is True, s["redis"]


def ready(srv) -> dict:
    r = call(srv, "GET", "/health/ready")
    assert r.status_code == 200, describe(r)
    return r.json()


def keys(redis_server, pattern: str = KEY_PREFIX + "*") -> set[str]:
    out = redis_server.cli("KEYS", pattern)
    assert out is not None, "redis-cli did not answer"
    return {k for k in out.splitlines() if k}


def limiter_check(srv, status: str, store: str, timeout: float = 3.0) -> dict:
    """The readiness body once its redis check shows `status` and `store` (the checks run in
    the background every HEALTH_CHECK_INTERVAL_MS, so the probe follows within that)."""
    deadline = time.monotonic() + timeout
    while True:
        body = ready(srv)
        check = body["checks"].get("redis", {})
        if check.get("status") == status and check.get("store") == store:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def blocked_until(redis_server, key: str) -> int | None:
    """The end (Redis ms) of a bucket's penalty box: its "<key>|p" string is
    "<window start>:<refusals>:<offences>:<blocked until>"; None when there is no box."""
    out = redis_server.cli("GET", key + "|p")
    assert out is not None, "redis-cli did not answer"
    if not out:
        return None
    return int(out.split(":")[3])


def redis_now_ms(redis_server) -> int:
    sec, usec = redis_server.cli("TIME").split()
    return int(sec) * 1000 + int(usec) // 1000


def assert_refused(r: requests.Response, rule: str) -> dict:
    """A 429 in the format of API.md, refused by `rule`."""
    assert r.status_code == 429, describe(r)
    body = r.json()
    assert body["error"] is True and body["error_code"] == "RATE_LIMIT_EXCEEDED", describe(r)
    assert body["category"] == "security" and body["severity"] == "medium", describe(r)
    assert body["details"][0]["message"].split(" ")[0] == rule, describe(r)
    assert int(r.headers["Retry-After"]) >= 1, describe(r)
    assert r.headers["X-RateLimit-Remaining"] == "0", describe(r)
    return body


class Conn:
    """A persistent HTTP/1.1 connection, for timing requests without connect costs."""

    def __init__(self, srv, ip: str | None = None):
        self.srv, self.ip = srv, ip
        self.c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)

    def get(self, path: str) -> tuple[int, float, dict]:
        headers = {"X-Forwarded-For": self.ip} if self.ip else {}
        t0 = time.monotonic()
        try:
            self.c.request("GET", path, headers=headers)
            res = self.c.getresponse()
            res.read()
        except (OSError, http.client.HTTPException):
            # The server may close an idle keep-alive connection: once more on a new one.
            self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
            t0 = time.monotonic()
            self.c.request("GET", path, headers=headers)
            res = self.c.getresponse()
            res.read()
        return res.status, time.monotonic() - t0, dict(res.getheaders())

    def close(self):
        self.c.close()


class Hammer:
    """Client threads that send GET /auth/me to their servers until stopped, each on its own
    connection with its own client address; every answer is kept with its latency and phase."""

    def __init__(self, servers, threads_per_server: int = 2, ip_base: str = "203.0.113."):
        self.phase = "before"
        self.results: list[tuple[str, int, float, str]] = []  # (phase, status, seconds, ip)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = []
        n = 0
        for srv in servers:
            for _ in range(threads_per_server):
                n += 1
                self._threads.append(threading.Thread(target=self._run,
                                                      args=(srv, f"{ip_base}{100 + n}"),
                                                      daemon=True))

    def _run(self, srv, ip):
        conn = Conn(srv, ip)
        try:
            while not self._stop.is_set():
                try:
                    status, secs, _ = conn.get("/auth/me")
                except Exception as e:  # noqa: BLE001 - any failure is a finding
                    with self._lock:
                        self.errors.append(f"{srv.name} {ip}: {e!r}")
                    continue
                with self._lock:
                    # One that began before the switch and ended after it counts as after.
                    self.results.append((self.phase, status, secs, ip))
        finally:
            conn.close()

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)

    def of(self, phase):
        return [(s, secs) for p, s, secs, _ in self.results if p == phase]


def server_durations(srv, split_at: float) -> tuple[list[float], list[float]]:
    """The seconds evald itself took for each GET /auth/me in its access log, split at the
    wall-clock time split_at (one logged after it ended after it). The clients' own timings
    also hold their pauses (the Python runtime, a loaded machine); these are evald's alone."""
    before, after = [], []
    for line in srv.log_text().splitlines():
        if '"module":"access"' not in line or '"path":"/auth/me"' not in line:
            continue
        rec = json.loads(line)
        ts = datetime.strptime(rec["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        (after if ts.timestamp() >= split_at else before).append(rec["duration_ms"] / 1000)
    return before, after


def assert_fast_after(servers, split_at: float, client_before, client_after):
    """No answer after split_at was slow: evald's own time within its normal + 100 ms, and the
    client's within its normal + 1 s (a request left hanging on a dead Redis takes seconds)."""
    for srv in servers:
        before, after = server_durations(srv, split_at)
        assert before and after, (srv.name, len(before), len(after))
        slow = [x for x in after if x > max(before) + 0.100]
        assert not slow, (f"{srv.name}: {len(slow)} requests took evald more than its normal "
                          f"{max(before) * 1000:.1f} ms + 100 ms: {sorted(slow)[-5:]}")
    normal = max(client_before)
    slow = [x for x in client_after if x > normal + 1.0]
    assert not slow, (f"{len(slow)} requests slower than the normal {normal * 1000:.1f} ms + 1 s: "
                      f"{sorted(slow)[-5:]}")


# --- 1. exact under concurrency -------------------------------------------------------------------

@pytest.mark.parametrize("penalty", [False, True], ids=["plain", "with-penalty"])
def test_bucket_is_exact_under_concurrent_requests(evald, redis_server, tmp_path, penalty):
    """Requests that share a bucket are decided together in one script call (the bucket sent and
    read once for all of them): exactly n pass. With a penalty, the refusals that arrive
    together box the key once, not once per request."""
    n = 20
    box = {"penalty": 60, "penalty_threshold": 3, "penalty_window": 60} if penalty else {}
    srv = start(evald, redis_server, rules_file(tmp_path, [api_rule(n, **box)]), THREADS="4",
                # Not about the breaker: a loaded runner must not send the decisions in-process.
                REDIS_TIMEOUT_MS="2000")
    token = admin_token(srv)
    ip = "203.0.113.1"
    total = 4 * n
    barrier = threading.Barrier(total)
    statuses: list[int] = []
    lock = threading.Lock()

    def one():
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
        try:
            c.connect()
            barrier.wait(timeout=20)
            c.request("GET", "/auth/me", headers={"X-Forwarded-For": ip})
            res = c.getresponse()
            res.read()
            status = res.status
        except Exception as e:  # noqa: BLE001
            status = repr(e)
        finally:
            c.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(total)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    elapsed = time.monotonic() - t0
    assert len(statuses) == total
    assert all(s in (401, 429) for s in statuses), statuses
    # What refilled meanwhile: n per hour; over a few seconds, less than one token.
    refill = math.floor(elapsed * n / HOUR)
    passed = sum(1 for s in statuses if s != 429)
    assert n <= passed <= n + refill, f"{passed} of {total} passed in {elapsed:.2f} s; " \
                                      f"expected {n} (+{refill} refilled)"
    s = stats(srv, token)
    assert_redis_mode(s)
    assert s["redis"]["trips"] == 0 and s["decisions"]["in_process"] == 0, s
    api = rule_stats(s, "per_ip:api")
    assert api["allowed"] == passed and api["refused"] == total - passed, api
    if penalty:
        assert api["penalties"] == 1, api
        left = blocked_until(redis_server, f"{KEY_PREFIX}per_ip:api|{ip}") - \
            redis_now_ms(redis_server)
        assert 0 < left <= 60_000, left
    # The bucket in Redis is empty (what refilled is under one token), and expires once full.
    r = me(srv, ip=ip)
    assert_refused(r, "per_ip:api")
    key = f"{KEY_PREFIX}per_ip:api|{ip}"
    assert key in keys(redis_server)
    assert 0 < int(redis_server.cli("PTTL", key)) <= (HOUR + 1) * 1000


# --- 2. two instances share -----------------------------------------------------------------------

def test_two_instances_share_one_bucket(evald, redis_server, tmp_path):
    n = 6
    path = rules_file(tmp_path, [api_rule(n)])
    a = start(evald, redis_server, path)
    b = start(evald, redis_server, path)
    ip = "203.0.113.2"
    seen = []
    for i in range(2 * n):
        srv = (a, b)[i % 2]
        r = me(srv, ip=ip)
        seen.append((srv.name, r.status_code, r.headers.get("X-RateLimit-Remaining")))
    assert [st for _, st, _ in seen] == [401] * n + [429] * n, seen
    # The countdown runs across both instances.
    assert [rem for _, _, rem in seen[:n]] == [str(n - 1 - i) for i in range(n)], seen
    assert all(rem == "0" for _, _, rem in seen[n:]), seen
    for srv in (a, b):
        s = stats(srv, admin_token(srv))
        assert_redis_mode(s)
        api = rule_stats(s, "per_ip:api")
        assert (api["allowed"], api["refused"]) == (n // 2, n // 2), (srv.name, api)


# --- 3. Redis killed under load -------------------------------------------------------------------

def test_redis_killed_under_load_falls_back_without_errors(evald, redis_server, tmp_path):
    n = 5
    path = rules_file(tmp_path, [api_rule(n)])
    a = start(evald, redis_server, path, REDIS_PROBE_INTERVAL_MS="200")
    b = start(evald, redis_server, path, REDIS_PROBE_INTERVAL_MS="200")
    tokens = {a.name: admin_token(a), b.name: admin_token(b)}
    for srv in (a, b):
        assert_redis_mode(stats(srv, tokens[srv.name]))
        assert limiter_check(srv, "pass", "redis")

    hammer = Hammer([a, b], threads_per_server=2).start()
    try:
        time.sleep(1.5)  # the normal latency, under this same load, with Redis up
        hammer.phase = "after"
        killed_at = time.time()
        redis_server.stop()  # SIGKILL
        time.sleep(1.5)
    finally:
        hammer.stop()
    assert not hammer.errors, hammer.errors[:5]
    before, after = hammer.of("before"), hammer.of("after")
    assert len(before) >= 20 and len(after) >= 20, (len(before), len(after))
    statuses = {s for s, _ in before + after}
    assert statuses <= {401, 429}, f"unexpected statuses {statuses}"
    assert_fast_after((a, b), killed_at, [x for _, x in before], [x for _, x in after])

    for srv in (a, b):
        s = stats(srv, tokens[srv.name])
        assert s["store"] == "fallback" and s["redis_connected"] is False, s
        assert s["redis"]["available"] is False and s["redis"]["trips"] >= 1, s["redis"]
        assert s["redis"]["last_error"], s["redis"]
        assert s["decisions"]["in_process"] >= 1, s["decisions"]
        body = limiter_check(srv, "warn", "fallback")
        assert body["status"] == "ready", body

    # Still enforced, in-process: a fresh address gets n, then 429, on each instance on its own.
    ip = "198.51.100.3"
    for srv in (a, b):
        got = [me(srv, ip=ip) for _ in range(n + 1)]
        assert [r.status_code for r in got] == [401] * n + [429], [describe(r) for r in got]
        assert [r.headers["X-RateLimit-Remaining"] for r in got[:n]] == \
            [str(n - 1 - i) for i in range(n)]
        assert_refused(got[-1], "per_ip:api")


# --- 4. Redis back --------------------------------------------------------------------------------

def test_redis_restarted_instances_share_again(evald, redis_server, tmp_path):
    n = 6
    probe_ms = 250
    path = rules_file(tmp_path, [api_rule(n)])
    a = start(evald, redis_server, path, REDIS_PROBE_INTERVAL_MS=str(probe_ms))
    b = start(evald, redis_server, path, REDIS_PROBE_INTERVAL_MS=str(probe_ms))
    tokens = {a.name: admin_token(a), b.name: admin_token(b)}
    redis_server.stop()
    for srv in (a, b):
        me(srv, ip="203.0.113.40")  # (the probe notices as well)
        wait_store(srv, tokens[srv.name], "fallback", timeout=5)
        assert limiter_check(srv, "warn", "fallback")

    redis_server.start()  # same port, empty
    for srv in (a, b):
        s, took = wait_store(srv, tokens[srv.name], "redis", timeout=5)
        assert_redis_mode(s)
        assert s["redis"]["recoveries"] >= 1, s["redis"]
        assert limiter_check(srv, "pass", "redis")

    # Shared again: alternating between the instances, n pass in all.
    ip = "203.0.113.4"
    got = [me((a, b)[i % 2], ip=ip) for i in range(2 * n)]
    assert [r.status_code for r in got] == [401] * n + [429] * n, [describe(r) for r in got]
    assert [r.headers["X-RateLimit-Remaining"] for r in got[:n]] == \
        [str(n - 1 - i) for i in range(n)]
    assert f"{KEY_PREFIX}per_ip:api|{ip}" in keys(redis_server)
    for srv in (a, b):
        assert stats(srv, tokens[srv.name])["store"] == "redis"


# --- 4b. the fault drill: killed and restarted under load (issue 10) ---------------------------

def test_redis_killed_and_restarted_under_load_never_errs_and_limits_hold(evald, redis_server,
                                                                          tmp_path):
    """Two instances under load, each client address sent to both, while Redis is killed and
    then started again (empty): no answer is an error or slow, and the limit binds in every
    phase. Before the kill and after the restart the instances share a bucket of n per
    address; while Redis is down each instance has its own (2n in all). No address gets more
    than that in any phase, and each is refused in each phase."""
    n = 5
    path = rules_file(tmp_path, [api_rule(n)])
    a = start(evald, redis_server, path, REDIS_PROBE_INTERVAL_MS="200")
    b = start(evald, redis_server, path, REDIS_PROBE_INTERVAL_MS="200")
    tokens = {a.name: admin_token(a), b.name: admin_token(b)}
    # Both hammers use the same addresses (203.0.113.101 and .102): each address goes to both.
    hammers = [Hammer([a], ip_base="203.0.113."), Hammer([b], ip_base="203.0.113.")]

    def phase(name):
        for h in hammers:
            h.phase = name

    for h in hammers:
        h.start()
    try:
        time.sleep(1.0)
        phase("down")  # before the kill: what is in flight then was refused by Redis anyway
        killed_at = time.time()
        redis_server.stop()
        for srv in (a, b):
            wait_store(srv, tokens[srv.name], "fallback", timeout=5)
        time.sleep(1.0)
        phase("back")  # before the start: the local buckets, spent by now, decide until then
        redis_server.start()
        for srv in (a, b):
            wait_store(srv, tokens[srv.name], "redis", timeout=5)
        time.sleep(1.0)
    finally:
        for h in hammers:
            h.stop()
    errors = [e for h in hammers for e in h.errors]
    assert not errors, errors[:5]
    results = [r for h in hammers for r in h.results]
    statuses = {s for _, s, _, _ in results}
    assert statuses <= {401, 429}, f"unexpected statuses {statuses}"
    assert_fast_after((a, b), killed_at, [secs for p, _, secs, _ in results if p == "before"],
                      [secs for p, _, secs, _ in results if p != "before"])
    bound = {"before": n, "down": 2 * n, "back": n}
    ips = {ip for _, _, _, ip in results}
    assert len(ips) == 2, ips
    for p, most in bound.items():
        for ip in sorted(ips):
            got = [s for ph, s, _, i in results if ph == p and i == ip]
            allowed = got.count(401)
            assert allowed <= most, f"{ip} was allowed {allowed} times {p!r}, more than {most}"
            assert got.count(429) >= 1, f"{ip} was never refused {p!r} ({len(got)} requests)"
    for srv in (a, b):
        s = stats(srv, tokens[srv.name])
        assert_redis_mode(s)
        assert s["redis"]["trips"] >= 1 and s["redis"]["recoveries"] >= 1, s["redis"]
        assert s["decisions"]["in_process"] >= 1, s["decisions"]


# --- 5. Redis hung --------------------------------------------------------------------------------

def test_redis_hung_trips_the_breaker_quickly_and_recovers(evald, redis_server, tmp_path):
    n = 5
    srv = start(evald, redis_server, rules_file(tmp_path, [api_rule(n)]),
                REDIS_PROBE_INTERVAL_MS="250")
    token = admin_token(srv)
    conn = Conn(srv, "203.0.113.5")
    try:
        normal = max(conn.get("/auth/me")[1] for _ in range(30))
        s = stats(srv, token)
        assert_redis_mode(s)
        trips, recoveries = s["redis"]["trips"], s["redis"]["recoveries"]
        redis_server.pause()  # SIGSTOP: connections stay open, nothing answers
        try:
            hung = [conn.get("/auth/me") for _ in range(30)]
            assert all(st in (401, 429) for st, _, _ in hung), [st for st, _, _ in hung]
            # The first waits for the 25 ms breaker, the others go in-process at once.
            worst = max(secs for _, secs, _ in hung)
            assert worst <= normal + 0.100, \
                f"slowest {worst * 1000:.1f} ms with Redis hung; normal {normal * 1000:.1f} ms"
            s = stats(srv, token)
            assert s["store"] == "fallback", s
            assert s["redis"]["trips"] == trips + 1, s["redis"]
            assert s["redis"]["available"] is False, s["redis"]
            body = limiter_check(srv, "warn", "fallback")
            assert body["checks"]["redis"]["detail"].startswith("Redis unavailable ("), body
            assert body["checks"]["redis"]["detail"].endswith(
                "); rate limits are enforced per instance"), body
            # In-process limits hold while Redis is hung.
            fresh = Conn(srv, "198.51.100.5")
            try:
                assert [fresh.get("/auth/me")[0] for _ in range(n + 1)] == [401] * n + [429]
            finally:
                fresh.close()
        finally:
            redis_server.resume()
        s, took = wait_store(srv, token, "redis", timeout=5)
        assert s["redis"]["recoveries"] == recoveries + 1, s["redis"]
        before = s["decisions"]["redis"]
        r = me(srv, ip="203.0.113.55")
        assert r.status_code == 401 and r.headers["X-RateLimit-Remaining"] == str(n - 1)
        s = stats(srv, token)
        assert s["decisions"]["redis"] == before + 1, s["decisions"]
        assert f"{KEY_PREFIX}per_ip:api|203.0.113.55" in keys(redis_server)
    finally:
        conn.close()


# --- 6. headers and Retry-After -------------------------------------------------------------------

def test_headers_on_allowed_and_refused_responses(evald, redis_server, tmp_path):
    n = 5
    srv = start(evald, redis_server, rules_file(tmp_path, [
        api_rule(n),
        {"scope": "per_ip", "match": "login", "limit": 2, "window": 2}]))
    per_token_s = HOUR / n  # 720 s
    for i in range(n):
        r = me(srv)
        assert r.status_code == 401, describe(r)
        remaining = n - 1 - i
        h = r.headers
        assert h["X-RateLimit-Limit"] == str(n)
        assert h["X-RateLimit-Remaining"] == str(remaining)
        assert h["X-RateLimit-Window"] == str(HOUR)
        reset = int(h["X-RateLimit-Reset"])  # until full: (n - remaining) tokens at 720 s each
        assert abs(reset - (n - remaining) * per_token_s) <= 1, (i, reset)
        assert h["RateLimit-Policy"] == f'{n};w={HOUR};burst={n};policy="per_ip:api"'
        assert h["RateLimit"] == f"limit={n}, remaining={remaining}, reset={reset}"
        assert "Retry-After" not in h
    r = me(srv)
    assert_refused(r, "per_ip:api")
    h = r.headers
    retry, reset = int(h["Retry-After"]), int(h["X-RateLimit-Reset"])
    assert abs(retry - per_token_s) <= 1, retry  # one token back
    assert abs(reset - HOUR) <= 1, reset  # the bucket full again
    assert retry <= reset
    assert h["X-RateLimit-Limit"] == str(n) and h["X-RateLimit-Window"] == str(HOUR)
    assert h["RateLimit-Policy"] == f'{n};w={HOUR};burst={n};policy="per_ip:api"'
    assert h["RateLimit"] == f"limit={n}, remaining=0, reset={reset}"
    assert str(retry) in r.json()["message"]
    assert_redis_mode(stats(srv, admin_token(srv)))

    # Retry-After is honoured: 2 per 2 s is a token a second.
    ip = "203.0.113.6"
    assert [bad_login(srv, ip=ip).status_code for _ in range(2)] == [401, 401]
    r = bad_login(srv, ip=ip)
    assert_refused(r, "per_ip:login")
    retry = int(r.headers["Retry-After"])
    assert retry == 1, describe(r)
    assert r.headers["X-RateLimit-Window"] == "2"
    assert 1 <= int(r.headers["X-RateLimit-Reset"]) <= 2
    time.sleep(retry)
    r = bad_login(srv, ip=ip)
    assert r.status_code == 401, describe(r)
    assert r.headers["X-RateLimit-Remaining"] == "0"


def test_retry_after_on_a_long_refill_is_not_cut_short(evald, redis_server, tmp_path):
    """(A sharper form of the Retry-After check: an early retry is still refused.)"""
    srv = start(evald, redis_server, rules_file(tmp_path, [
        api_rule(1000, 60),
        {"scope": "per_ip", "match": "login", "limit": 1, "window": 3}]))
    ip = "203.0.113.16"
    assert bad_login(srv, ip=ip).status_code == 401
    r = bad_login(srv, ip=ip)
    assert_refused(r, "per_ip:login")
    retry = int(r.headers["Retry-After"])
    assert retry == 3, describe(r)
    time.sleep(retry - 1)  # too early by a second: still refused, Retry-After about 1
    r = bad_login(srv, ip=ip)
    assert_refused(r, "per_ip:login")
    assert int(r.headers["Retry-After"]) == 1, describe(r)
    time.sleep(int(r.headers["Retry-After"]))
    assert bad_login(srv, ip=ip).status_code == 401


@pytest.mark.parametrize("store", ["redis", "local"])
def test_extreme_rules_read_the_same_in_both_stores(evald, redis_server, tmp_path, store):
    """The largest bucket a rules file allows reports its remaining tokens exactly, and a rule
    so slow that its wait does not fit in 64 bits reports 2^53 ms, in Redis as in-process."""
    srv = start(evald, redis_server, rules_file(tmp_path, [
        api_rule(10**12, 60),
        # A token per 10^9 years (the limit must be above 0; the burst at least 1).
        {"scope": "per_ip", "match": "login", "limit": 1e-9, "window": 365 * 24 * 3600,
         "burst": 10**12}]),
        **({} if store == "redis" else {"REDIS_URL": ""}))
    r = me(srv, ip="203.0.113.17")
    assert r.status_code == 401, describe(r)
    assert r.headers["X-RateLimit-Remaining"] == str(10**12 - 1), describe(r)
    assert r.headers["X-RateLimit-Reset"] == "1", describe(r)  # a token is 0.06 ns at this rate
    r = bad_login(srv, ip="203.0.113.17")
    assert r.status_code == 401, describe(r)
    assert r.headers["X-RateLimit-Remaining"] == str(10**12 - 1), describe(r)
    assert r.headers["X-RateLimit-Reset"] == str(math.ceil(2**53 / 1000)), describe(r)
    assert stats(srv, admin_token(srv))["store"] == store


# --- 7. per-user buckets --------------------------------------------------------------------------

def test_each_user_has_a_bucket_of_their_own(evald, redis_server, tmp_path):
    n = 3
    db = f"sqlite://{tmp_path}/users.db"
    srv = start(evald, redis_server, rules_file(tmp_path, [
        api_rule(1000, 60),
        {"scope": "per_user", "match": "default", "limit": n, "window": HOUR}]),
        DATABASE_URL=db)
    users = {}
    for name in ("alice", "bob"):
        p = create_user_cli(db, name, "evaluator", f"{name}@example.org", USER_PASSWORD,
                            cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        body = login(srv, name, USER_PASSWORD)
        users[name] = (body["access_token"], body["user"]["id"])
    (ta, ida), (tb, idb) = users["alice"], users["bob"]
    assert ida != idb

    for i in range(n):
        r = me(srv, token=ta)
        assert r.status_code == 200, describe(r)
        assert r.headers["X-RateLimit-Limit"] == str(n)
        assert r.headers["X-RateLimit-Remaining"] == str(n - 1 - i)
        assert r.headers["RateLimit-Policy"].endswith('policy="per_user:default"')
    assert_refused(me(srv, token=ta), "per_user:default")
    assert_refused(me(srv, token=ta), "per_user:default")

    # Bob's bucket is untouched; so is the address both come from.
    r = me(srv, token=tb)
    assert r.status_code == 200, describe(r)
    assert r.headers["X-RateLimit-Remaining"] == str(n - 1)
    assert me(srv).status_code == 401

    ka, kb = f"{KEY_PREFIX}per_user:default|{ida}", f"{KEY_PREFIX}per_user:default|{idb}"
    assert {ka, kb} <= keys(redis_server)
    assert_redis_mode(stats(srv, admin_token(srv)))
    # Each bucket goes on from where it was, Bob's with one token fewer, Alice's empty.
    r = me(srv, token=tb)
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == str(n - 2), describe(r)
    assert_refused(me(srv, token=ta), "per_user:default")


# --- 8. the admin clear ---------------------------------------------------------------------------

def test_admin_clear_removes_the_redis_keys(evald, redis_server, tmp_path):
    n = 3
    db = f"sqlite://{tmp_path}/clear.db"
    srv = start(evald, redis_server, rules_file(tmp_path, [api_rule(n)]), DATABASE_URL=db)
    p = create_user_cli(db, "eve", "evaluator", "eve@example.org", USER_PASSWORD, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    user = login(srv, "eve", USER_PASSWORD)["access_token"]
    admin = admin_token(srv)

    # Who may, and what.
    path = "/admin/rate-limits/per_ip/127.0.0.1"
    assert_error(call(srv, "DELETE", path), 401, "AUTH_FAILED")
    assert_error(call(srv, "DELETE", path, token=user), 403, "INSUFFICIENT_PERMISSIONS")
    for bad in ("/admin/rate-limits/per_ipx/127.0.0.1", "/admin/rate-limits/per_ip/not-an-ip",
                "/admin/rate-limits/per_ip/300.1.2.3", "/admin/rate-limits/global/everyone"):
        body = assert_error(call(srv, "DELETE", bad, token=admin), 400, "VALIDATION_ERROR")
        assert body["details"], body

    # Empty 127.0.0.1's api bucket (another address's stays as it is).
    assert me(srv, ip="203.0.113.8").status_code == 401
    got = [me(srv) for _ in range(n + 1)]
    assert [r.status_code for r in got] == [401] * n + [429]
    before = keys(redis_server)
    mine = {k for k in before if k.startswith(KEY_PREFIX + "per_ip:") and
            k.endswith("|127.0.0.1")}
    assert f"{KEY_PREFIX}per_ip:api|127.0.0.1" in mine, before

    r = call(srv, "DELETE", path, token=admin)
    assert r.status_code == 200, describe(r)
    assert r.json() == {"type": "per_ip", "identifier": "127.0.0.1", "cleared": len(mine)}
    after = keys(redis_server)
    assert not {k for k in after if k.endswith("|127.0.0.1")}, after
    assert f"{KEY_PREFIX}per_ip:api|203.0.113.8" in after, after

    r = me(srv)
    assert r.status_code == 401, describe(r)
    assert r.headers["X-RateLimit-Remaining"] == str(n - 1)
    events = call(srv, "GET", "/auth/security-events?event_type=admin_rate_limit_cleared",
                  token=admin, bypass=True).json()["items"]
    assert len(events) == 1 and events[0]["details"].startswith("per_ip 127.0.0.1"), events


def test_a_flushed_script_is_sent_again_without_falling_back(evald, redis_server, tmp_path):
    """Redis restarted or SCRIPT FLUSHed forgets the script: the call that gets NOSCRIPT is sent
    once more with the script itself (EVAL), the buckets go on where they were, and the limiter
    never leaves Redis."""
    n = 4
    # No probe during the test: it loads the script too, and would hide the resend.
    srv = start(evald, redis_server, rules_file(tmp_path, [api_rule(n)]),
                REDIS_PROBE_INTERVAL_MS="600000")
    admin = admin_token(srv)
    ip = "203.0.113.18"
    assert me(srv, ip=ip).headers["X-RateLimit-Remaining"] == str(n - 1)
    assert redis_server.cli("SCRIPT", "FLUSH") == "OK"
    assert redis_server.cli("CONFIG", "RESETSTAT") == "OK"
    r = me(srv, ip=ip)
    assert r.status_code == 401, describe(r)
    assert r.headers["X-RateLimit-Remaining"] == str(n - 2), describe(r)  # the same bucket
    calls = redis_server.cli("INFO", "commandstats")
    assert "cmdstat_eval:calls=1," in calls, calls  # the resend, once
    assert me(srv, ip=ip).headers["X-RateLimit-Remaining"] == str(n - 3)
    s = stats(srv, admin)
    assert_redis_mode(s)
    assert s["redis"]["failures"] == 0 and s["redis"]["trips"] == 0, s["redis"]


# --- 9. penalty box -------------------------------------------------------------------------------

def test_penalty_box_in_redis(evald, redis_server, tmp_path):
    srv = start(evald, redis_server, rules_file(tmp_path, [
        api_rule(1000, 60),
        {"scope": "per_ip", "match": "login", "limit": 2, "window": 300, "penalty": 60,
         "penalty_threshold": 2}]))
    token = admin_token(srv)
    ip = "203.0.113.9"
    key = f"{KEY_PREFIX}per_ip:login|{ip}"
    assert [bad_login(srv, ip=ip).status_code for _ in range(2)] == [401, 401]
    first = bad_login(srv, ip=ip)  # refusal 1 of 2: no box yet
    assert_refused(first, "per_ip:login")
    assert abs(int(first.headers["Retry-After"]) - 150) <= 1, describe(first)  # 150 s a token
    assert blocked_until(redis_server, key) in (None, 0)
    boxed = bad_login(srv, ip=ip)  # refusal 2 of 2: boxed for 60 s
    body = assert_refused(boxed, "per_ip:login")
    assert body["details"][0]["message"] == "per_ip:login (penalty)", body
    # The box (60 s) is shorter than the wait for a token (150 s): Retry-After is the longer.
    assert int(boxed.headers["Retry-After"]) >= 60, describe(boxed)
    assert int(boxed.headers["X-RateLimit-Reset"]) >= 60, describe(boxed)

    bu = blocked_until(redis_server, key)
    assert bu is not None, redis_server.cli("KEYS", KEY_PREFIX + "*")
    left = bu - redis_now_ms(redis_server)
    assert 55_000 < left <= 60_000, left
    assert int(redis_server.cli("PTTL", key + "|p")) >= left

    again = bad_login(srv, ip=ip)
    assert_refused(again, "per_ip:login")
    assert int(again.headers["Retry-After"]) >= 59
    s = stats(srv, token)
    assert_redis_mode(s)
    assert s["penalties_active"] >= 1, s
    assert rule_stats(s, "per_ip:login")["penalties"] == 1
    assert any(v["key"] == f"per_ip:login|{ip}" and v["penalty"] for v in
               s["recent_violations"]), s["recent_violations"]

    # The admin clear takes the box away as well.
    r = call(srv, "DELETE", f"/admin/rate-limits/per_ip/{ip}", token=token)
    assert r.status_code == 200, describe(r)
    assert key not in keys(redis_server)
    assert key + "|p" not in keys(redis_server)
    assert bad_login(srv, ip=ip).status_code == 401
    assert stats(srv, token)["penalties_active"] == 0


# --- 10. refusal security events ------------------------------------------------------------------

def test_refusals_become_one_security_event_per_key_per_minute(evald, redis_server, tmp_path):
    n = 2
    srv = start(evald, redis_server, rules_file(tmp_path, [api_rule(n)]))
    admin = admin_token(srv)

    def events(ip):
        q = urlencode({"event_type": "excess_rate_limit_exceeded", "limit": 200})
        r = call(srv, "GET", "/auth/security-events?" + q, token=admin, bypass=True)
        assert r.status_code == 200, describe(r)
        return [e for e in r.json()["items"] if e["ip_address"] == ip]

    ip = "203.0.113.10"
    assert [me(srv, ip=ip).status_code for _ in range(n)] == [401] * n
    for _ in range(25):
        assert_refused(me(srv, ip=ip), "per_ip:api")
    deadline = time.monotonic() + 5
    while not events(ip) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # (a second one, wrongly written, would be there by now)
    got = events(ip)
    assert len(got) == 1, got
    assert got[0]["details"] == "per_ip:api on /auth/me", got
    assert got[0]["user_id"] is None

    # Another key is another event.
    other = "203.0.113.11"
    for _ in range(n):
        me(srv, ip=other)
    for _ in range(5):
        assert_refused(me(srv, ip=other), "per_ip:api")
    deadline = time.monotonic() + 5
    while not events(other) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert len(events(other)) == 1
    assert len(events(ip)) == 1
    assert_redis_mode(stats(srv, admin))


# --- the database of REDIS_URL --------------------------------------------------------------------

def test_redis_url_database_number_is_used(evald, redis_server, tmp_path):
    srv = start(evald, redis_server, rules_file(tmp_path, [api_rule(10)]),
                REDIS_URL=redis_server.url.rsplit("/", 1)[0] + "/3")
    assert me(srv, ip="203.0.113.14").status_code == 401
    assert_redis_mode(stats(srv, admin_token(srv)))
    assert redis_server.cli("-n", "3", "KEYS", KEY_PREFIX + "*") == \
        f"{KEY_PREFIX}per_ip:api|203.0.113.14"
    assert not keys(redis_server)  # database 0


# --- what an outage must not hide (last in the file: with -x they stop none of the above) ---------

def test_a_hung_redis_is_reported_as_a_timeout(evald, redis_server, tmp_path):
    """The breaker's reason, in the statistics (and the log's warning), says what happened: a
    hung Redis is "no answer within 25 ms", not "connection failed" (which is what a refused
    connection looks like)."""
    srv = start(evald, redis_server, rules_file(tmp_path, [api_rule(100)]),
                REDIS_PROBE_INTERVAL_MS="60000")  # no probe meanwhile: the request's reason
    token = admin_token(srv)
    assert me(srv).status_code == 401
    assert_redis_mode(stats(srv, token))
    redis_server.pause()
    try:
        assert me(srv).status_code == 401
        s = stats(srv, token)
    finally:
        redis_server.resume()
    assert s["store"] == "fallback", s
    assert s["redis"]["last_error"] == "no answer within 25 ms", s["redis"]


def test_a_clear_while_redis_hangs_is_not_lost(evald, redis_server, tmp_path):
    """An admin clear answered while Redis does not answer must not leave the shared bucket (and
    penalty) in Redis to come back when Redis does: either the clear is refused (503, try
    again), or the client is free once the instances share again."""
    n = 2
    srv = start(evald, redis_server, rules_file(tmp_path, [api_rule(n)]),
                REDIS_PROBE_INTERVAL_MS="100")
    token = admin_token(srv)
    ip = "203.0.113.12"
    assert [me(srv, ip=ip).status_code for _ in range(n + 1)] == [401] * n + [429]
    redis_server.pause()
    try:
        me(srv, ip="203.0.113.13")  # trips the breaker
        wait_store(srv, token, "fallback", timeout=5)
        r = call(srv, "DELETE", f"/admin/rate-limits/per_ip/{ip}", token=token)
    finally:
        redis_server.resume()
    wait_store(srv, token, "redis", timeout=5)
    if r.status_code == 503:
        assert r.json()["error_code"] == "EXTERNAL_SERVICE_ERROR", describe(r)
        return
    assert r.status_code == 200, describe(r)
    after = me(srv, ip=ip)
    assert after.status_code == 401, (
        f"the clear answered {r.json()} while Redis hung, and once Redis is back the client is "
        f"still refused: {describe(after)}; Redis still holds "
        f"{redis_server.cli('GET', f'{KEY_PREFIX}per_ip:api|{ip}')!r}")

