"""The live operations page: GET /status (public HTML shell, strict same-origin policy, no inline
script), its assets (compiled in, ETag and 304), and GET /status/data (admin only): the state of
each dependency and the last hour of traffic from the in-memory history, which shows requests,
errors by category, rate-limit refusals and failed logins as soon as they happen, and matches
the schema it documents in the OpenAPI document."""

from __future__ import annotations

import calendar
import re
import time

import jsonschema
import pytest

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import ISO_Z, Stack, assert_error, forge  # noqa: E402
from conftest import REPO, free_port  # noqa: E402

ASSETS = ("status.css", "status.js")
DEPENDENCIES = ("database", "redis", "mail", "disk")
STATES = {"ok", "degraded", "down", "fallback", "disabled"}
SERIES = ("requests", "request_rate", "p50_ms", "p99_ms", "rate_limit_refusals", "failed_logins")

# Only the categories this test limits have rules (the others are then not limited): the API
# rule is tiny so that a refusal is easy to cause; the admin rule leaves the data route alone.
RULES = """rules:
  - scope: per_ip
    match: api
    limit: 2
    window: 3600
  - scope: per_ip
    match: admin
    limit: 1000
    window: 3600
  - scope: per_ip
    match: login
    limit: 1000
    window: 3600
"""


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def stack_with(evald, tmp_path, **settings) -> Stack:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return Stack(evald, f"sqlite://{tmp_path}/status.db", tmp_path, **settings)


@pytest.fixture(scope="module")
def shared(module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("status")
    rules = d / "rules.yaml"
    rules.write_text(RULES)
    return Stack(module_evald, f"sqlite://{d}/status.db", d, RATE_LIMIT_ENABLED="true",
                 RATE_LIMIT_RULES=str(rules))


@pytest.fixture(scope="module")
def doc(shared):
    res = shared.get("/docs/openapi.json")
    assert res.status_code == 200
    return res.json()


def data(stack: Stack, token: str) -> dict:
    res = stack.get("/status/data", token)
    assert res.status_code == 200, res.text
    assert res.headers["Content-Type"].startswith("application/json")
    assert "no-store" in res.headers.get("Cache-Control", "")
    return res.json()


def epoch(iso: str) -> float:
    base, _, frac = iso.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + (float("0." + frac)
                                                                         if frac else 0)


def wait_for_state(stack: Stack, token: str, name: str, state: str, timeout: float = 10):
    """The dependency once it reads `state` (the health checks run every 200 ms here)."""
    deadline = time.monotonic() + timeout
    while True:
        dep = data(stack, token)["dependencies"][name]
        if dep["state"] == state or time.monotonic() > deadline:
            assert dep["state"] == state, dep
            return dep
        time.sleep(0.1)


# --- the page and its assets -------------------------------------------------------------------

def test_the_page_is_public_html_under_a_strict_policy_without_inline_code(shared):
    res = shared.get("/status")
    assert res.status_code == 200
    assert res.headers["Content-Type"].startswith("text/html")
    csp = res.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"] and directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    html = res.text
    # Every script is a same-origin file; no inline script, style or event handler.
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(re.search(r'\bsrc="[^"]+"', s) for s in scripts), scripts
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html)
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(refs) == ["status/assets/status.css", "status/assets/status.js"], refs
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    # The contract the browser tests rely on.
    for needle in ('<form id="login-form"', 'id="login-id"', 'id="mfa-code"', 'id="login-error"',
                   '<section id="dashboard" hidden', 'id="logout"'):
        assert needle in html, needle
    assert re.search(r'<input id="password"[^>]* type="password"', html)
    assert re.findall(r'class="dep" data-name="(\w+)"', html) == list(DEPENDENCIES)
    assert re.findall(r'<svg class="chart" data-series="(\w+)"', html) == [
        "request_rate", "latency", "errors", "rate_limit_refusals", "failed_logins"]
    assert "access_token" not in html and "Bearer" not in html  # the shell holds no data


def test_assets_are_the_shipped_files_with_etags_and_304(shared):
    types = {"status.css": "text/css", "status.js": "text/javascript"}
    for name in ASSETS:
        res = shared.get("/status/assets/" + name)
        assert res.status_code == 200, name
        assert res.headers["Content-Type"].startswith(types[name])
        assert res.content == (REPO / "share" / "status" / name).read_bytes()
        assert "no-cache" in res.headers["Cache-Control"]
        etag = res.headers["ETag"]
        again = shared.get("/status/assets/" + name, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        other = shared.get("/status/assets/" + name, headers={"If-None-Match": '"other"'})
        assert other.status_code == 200 and other.content == res.content
    page = shared.get("/status")
    assert page.content == (REPO / "share" / "status" / "index.html").read_bytes()
    assert shared.get("/status", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    # The script keeps the token in sessionStorage only and sends it as a bearer.
    js = (REPO / "share" / "status" / "status.js").read_text()
    assert "sessionStorage" in js and "localStorage" not in js and "document.cookie" not in js
    for name in ("nope.js", "..%2Findex.html", "status.js%00", "index.html"):
        assert_error(shared.get("/status/assets/" + name), 404, "NOT_FOUND")


def test_loading_the_page_is_never_rate_limited(shared):
    # The API rule here allows 2 requests an hour; the page and its assets are exempt.
    for _ in range(5):
        for path in ("/status", "/status/assets/status.css", "/status/assets/status.js"):
            res = shared.get(path)
            assert res.status_code == 200, path
            assert "X-RateLimit-Limit" not in res.headers


# --- who may read the data ---------------------------------------------------------------------

def test_the_data_is_for_admins_only(shared):
    assert_error(shared.get("/status/data"), 401, "AUTH_FAILED")
    assert_error(shared.get("/status/data", "not-a-token"), 401, "AUTH_FAILED")
    forged = forge({"sub": "x", "role": "admin", "sid": "y", "exp": int(time.time()) + 600},
                   secret="another-secret-0123456789-0123456789")
    assert_error(shared.get("/status/data", forged), 401, "AUTH_FAILED")
    for role in ("secretary", "evaluator"):
        who = shared.login(shared.create_user(role))
        body = assert_error(shared.get("/status/data", who.token), 403,
                            "INSUFFICIENT_PERMISSIONS")
        assert body["message"]
    admin = shared.login(shared.admin)
    assert shared.get("/status/data", admin.token).status_code == 200


# --- the data ----------------------------------------------------------------------------------

def check_shape(body: dict, doc: dict):
    """The documented schema, and what a schema cannot say: aligned arrays, 10 s steps."""
    schema = doc["paths"]["/status/data"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    jsonschema.validate(body, schema)
    assert body["step_seconds"] == 10 and body["window_seconds"] == 3600
    assert ISO_Z.match(body["generated_at"])
    s = body["series"]
    n = len(s["t"])
    assert 1 <= n <= 360
    for key in SERIES:
        assert len(s[key]) == n, key
    for values in s["errors"].values():
        assert len(values) == n and any(values)
    times = [epoch(t) for t in s["t"]]
    assert all(ISO_Z.match(t) for t in s["t"])
    assert all(b - a == 10 for a, b in zip(times, times[1:])), s["t"]
    assert times[0] % 10 == 0
    # The step in progress is the last one.
    assert times[-1] <= epoch(body["generated_at"]) < times[-1] + 10
    for i in range(n):
        assert (s["request_rate"][i] > 0) == (s["requests"][i] > 0), i
        assert (s["p50_ms"][i] is None) == (s["requests"][i] == 0), i
        if s["p50_ms"][i] is not None:
            assert 0 <= s["p50_ms"][i] <= s["p99_ms"][i]
    for name in DEPENDENCIES:
        dep = body["dependencies"][name]
        assert dep["state"] in STATES and dep["detail"], (name, dep)


def totals(body: dict) -> dict:
    s = body["series"]
    out = {k: sum(s[k]) for k in ("requests", "rate_limit_refusals", "failed_logins")}
    for category, values in s["errors"].items():
        out["errors." + category] = sum(values)
    return out


def test_traffic_shows_at_once_with_the_right_counts(evald, tmp_path, doc):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    shared = stack_with(evald, tmp_path, RATE_LIMIT_ENABLED="true", RATE_LIMIT_RULES=str(rules))
    admin = shared.login(shared.admin)
    before = data(shared, admin.token)
    check_shape(before, doc)
    began = time.time()
    for _ in range(3):
        assert shared.get("/ping").status_code == 200
    assert shared.get("/no/such/page").status_code == 404
    assert shared.try_login(shared.admin.login_id, "wrong-password-0").status_code == 401
    ip = {"X-Forwarded-For": "203.0.113.7"}  # not trusted here: the peer's address counts
    statuses = [shared.get("/auth/me", headers=ip).status_code for _ in range(3)]
    assert statuses == [401, 401, 429], statuses
    after = data(shared, admin.token)
    check_shape(after, doc)
    t0, t1 = totals(before), totals(after)
    delta = {k: t1.get(k, 0) - t0.get(k, 0) for k in set(t0) | set(t1)}
    delta = {k: v for k, v in delta.items() if v}
    # The first /status/data too: a request is counted once answered.
    assert delta == {"requests": 1 + 3 + 1 + 1 + 3, "errors.business_logic": 1,
                     "errors.authentication": 3, "errors.security": 1,
                     "rate_limit_refusals": 1, "failed_logins": 1}, delta
    # All of it in the steps since the traffic began: the step in progress is included.
    s, since = after["series"], began // 10 * 10
    recent = [i for i, t in enumerate(s["t"]) if epoch(t) >= since]
    assert recent and recent[-1] == len(s["t"]) - 1
    assert sum(s["failed_logins"][i] for i in recent) >= 1
    assert sum(s["rate_limit_refusals"][i] for i in recent) >= 1
    assert sum(s["requests"][i] for i in recent) >= 9
    assert any(s["p99_ms"][i] is not None for i in recent)


def test_dependencies_on_sqlite_without_redis_or_smtp(shared, doc):
    admin = shared.login(shared.admin)
    body = data(shared, admin.token)
    check_shape(body, doc)
    deps = body["dependencies"]
    assert deps["database"]["state"] == "ok" and deps["database"]["engine"] == "sqlite"
    assert deps["database"]["latency_ms"] >= 0
    assert deps["redis"]["state"] == "disabled" and deps["redis"]["configured"] is False
    assert deps["redis"]["store"] == "local" and "REDIS_URL" in deps["redis"]["detail"]
    assert deps["mail"]["state"] == "disabled" and deps["mail"]["smtp_configured"] is False
    assert deps["mail"]["outbox_pending"] == 0
    assert deps["disk"]["state"] == "ok"
    assert 0 < deps["disk"]["free_bytes"] <= deps["disk"]["total_bytes"]
    assert 0 <= deps["disk"]["used_percent"] <= 100


def test_mail_waiting_without_smtp_is_degraded(evald, tmp_path, doc):
    stack = stack_with(evald, tmp_path)
    admin = stack.login(stack.admin)
    res = stack.post("/auth/request-password-reset", json={"email": stack.admin.email})
    assert res.status_code in (200, 202), res.text
    dep = wait_for_state(stack, admin.token, "mail", "degraded")
    assert dep["outbox_pending"] == 1 and "SMTP_SERVER" in dep["detail"]


def test_redis_configured_but_unreachable_is_fallback(evald, tmp_path, doc):
    closed = free_port()
    stack = stack_with(evald, tmp_path, RATE_LIMIT_ENABLED="true",
                       REDIS_URL=f"redis://127.0.0.1:{closed}/0")
    admin = stack.login(stack.admin)
    body = data(stack, admin.token)
    check_shape(body, doc)
    redis = body["dependencies"]["redis"]
    assert redis["state"] == "fallback" and redis["configured"] is True, redis
    assert redis["store"] == "fallback" and redis["latency_ms"] is None
    # Limits go on in-process, the database is fine.
    assert body["dependencies"]["database"]["state"] == "ok"


def test_redis_answering_is_ok_and_rate_limiting_off_is_disabled(evald, tmp_path, redis_server,
                                                                 doc):
    on = stack_with(evald, tmp_path / "on", RATE_LIMIT_ENABLED="true", REDIS_URL=redis_server.url)
    admin = on.login(on.admin)
    redis = wait_for_state(on, admin.token, "redis", "ok")
    assert redis["store"] == "redis" and redis["latency_ms"] >= 0
    off = stack_with(evald, tmp_path / "off", RATE_LIMIT_ENABLED="false",
                     REDIS_URL=redis_server.url)
    admin = off.login(off.admin)
    redis = data(off, admin.token)["dependencies"]["redis"]
    assert redis["state"] == "disabled" and "RATE_LIMIT_ENABLED" in redis["detail"]


def test_the_database_on_postgresql(evald, tmp_path, fresh_pg_url, doc):
    stack = Stack(evald, fresh_pg_url, tmp_path)
    admin = stack.login(stack.admin)
    body = data(stack, admin.token)
    check_shape(body, doc)
    assert body["dependencies"]["database"]["engine"] == "postgresql"
    assert body["dependencies"]["database"]["state"] == "ok"


# --- the documentation -------------------------------------------------------------------------

def test_the_openapi_document_describes_the_page_and_the_data(doc):
    page = doc["paths"]["/status"]["get"]
    assert page["security"] == [] and "text/html" in page["responses"]["200"]["content"]
    assert "x-ratelimit-policy" not in page
    assets = doc["paths"]["/status/assets/{name}"]["get"]
    assert assets["security"] == [] and "404" in assets["responses"]
    op = doc["paths"]["/status/data"]["get"]
    assert op["security"] and op["x-required-roles"] == ["admin"]
    assert {"401", "403", "429"} <= set(op["responses"])
    assert op["x-ratelimit-policy"]["category"] == "admin"
    media = op["responses"]["200"]["content"]["application/json"]
    jsonschema.validate(media["example"], media["schema"])
    # The schema is not a rubber stamp.
    broken = dict(media["example"], dependencies=dict(media["example"]["dependencies"]))
    broken["dependencies"]["redis"] = dict(broken["dependencies"]["redis"], state="unknown")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, media["schema"])
