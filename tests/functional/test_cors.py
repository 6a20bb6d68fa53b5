"""CORS: only the configured origins are allowed, with credentials, never `*`."""

from __future__ import annotations

import pytest

from rawhttp import Conn, assert_error_body, assert_security_headers, request

ALLOWED = ["http://a.example", "https://b.example"]
DISALLOWED = ["http://evil.example", "http://a.example:8080", "https://a.example",
              "http://a.example.evil.com", "http://sub.a.example", "null", "http://localhost:3000"]


@pytest.fixture(scope="module")
def cors_server(module_evald):
    return module_evald(env={"CORS_ORIGINS": ",".join(ALLOWED)})


def _preflight(port, path, origin, method="GET", headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    h.update(headers or {})
    return request(port, "OPTIONS", path, h)


@pytest.mark.parametrize("origin", ALLOWED)
@pytest.mark.parametrize("path,status", [("/ping", 200), ("/health/live", 200), ("/nope", 404),
                                         ("/_test/throw", 500)])
def test_allowed_origin(cors_server, origin, path, status):
    r = request(cors_server.port, "GET", path, {"Origin": origin})
    assert r.status == status, r
    assert r.header("Access-Control-Allow-Origin") == origin, r
    assert r.header("Access-Control-Allow-Credentials") == "true", r
    assert "origin" in r.header_tokens("Vary"), r


@pytest.mark.parametrize("origin", DISALLOWED)
def test_disallowed_origin(cors_server, origin):
    r = request(cors_server.port, "GET", "/ping", {"Origin": origin})
    assert r.status == 200, r
    assert r.header("Access-Control-Allow-Origin") is None, r
    assert r.header("Access-Control-Allow-Credentials") is None, r


def test_no_origin_no_cors_headers(cors_server):
    r = request(cors_server.port, "GET", "/ping")
    assert r.status == 200
    assert r.header("Access-Control-Allow-Origin") is None, r


def test_never_wildcard(cors_server):
    for origin in ALLOWED + DISALLOWED + ["*"]:
        r = request(cors_server.port, "GET", "/ping", {"Origin": origin})
        assert r.header("Access-Control-Allow-Origin") != "*", r
        if origin == "*":
            assert r.header("Access-Control-Allow-Origin") is None, r
        p = _preflight(cors_server.port, "/ping", origin)
        assert p.header("Access-Control-Allow-Origin") != "*", p


def test_each_response_carries_its_own_origin(cors_server):
    """On one keep-alive connection, the allowed origin follows each request."""
    with Conn(cors_server.port) as c:
        r1 = c.request("GET", "/ping", {"Origin": ALLOWED[0]})
        r2 = c.request("GET", "/ping", {"Origin": "http://evil.example"})
        r3 = c.request("GET", "/ping", {"Origin": ALLOWED[1]})
    assert r1.header("Access-Control-Allow-Origin") == ALLOWED[0]
    assert r2.header("Access-Control-Allow-Origin") is None
    assert r3.header("Access-Control-Allow-Origin") == ALLOWED[1]


@pytest.mark.parametrize("origin", ALLOWED)
def test_preflight_allowed(cors_server, origin):
    r = _preflight(cors_server.port, "/ping", origin,
                   headers={"Access-Control-Request-Headers": "content-type"})
    assert r.status == 204, r
    assert r.body == b""
    assert r.header("Access-Control-Allow-Origin") == origin, r
    methods = {m.strip().upper() for m in (r.header("Access-Control-Allow-Methods") or "").split(",")}
    assert "GET" in methods, r
    assert r.header("Access-Control-Allow-Headers"), r
    max_age = r.header("Access-Control-Max-Age")
    assert max_age is not None and max_age.isdigit() and int(max_age) > 0, r
    assert "origin" in r.header_tokens("Vary"), r
    assert_security_headers(r)


def test_preflight_for_post_route(cors_server):
    r = _preflight(cors_server.port, "/_test/echo", ALLOWED[0], method="POST")
    assert r.status == 204, r
    methods = {m.strip().upper() for m in (r.header("Access-Control-Allow-Methods") or "").split(",")}
    assert "POST" in methods, r


@pytest.mark.parametrize("origin", ["http://evil.example", "https://a.example"])
def test_preflight_disallowed_origin_is_403(cors_server, origin):
    r = _preflight(cors_server.port, "/ping", origin)
    assert_error_body(r, 403, "SECURITY_VIOLATION", "security", "high")
    assert r.header("Access-Control-Allow-Origin") is None, r
    assert r.header("Access-Control-Allow-Methods") is None, r


def test_preflight_unknown_path_is_404(cors_server):
    r = _preflight(cors_server.port, "/nope", ALLOWED[0])
    assert_error_body(r, 404, "NOT_FOUND", "business_logic", "low")


def test_default_cors_origin_is_localhost_3000(server):
    r = request(server.port, "GET", "/ping", {"Origin": "http://localhost:3000"})
    assert r.header("Access-Control-Allow-Origin") == "http://localhost:3000", r
    assert r.header("Access-Control-Allow-Credentials") == "true", r
    r = request(server.port, "GET", "/ping", {"Origin": "http://a.example"})
    assert r.header("Access-Control-Allow-Origin") is None, r
    p = _preflight(server.port, "/ping", "http://localhost:3000")
    assert p.status == 204, p
