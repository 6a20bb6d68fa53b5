"""Fault drill: hostile clients (issue 10). A crowd of slowloris connections, 10,000 idle
connections, extreme heads and bodies, CR and LF where they do not belong, invalid UTF-8, deeply
nested JSON, huge numbers and NUL bytes: each gets a clean error in the standard body
(rawhttp.assert_error_body, which also needs the body to be valid UTF-8 JSON) or a closed
connection, and meanwhile other clients are served at normal latency: a probe asks
GET /health/ping throughout, on a kept connection and on new ones, and its p99 must stay under
10x the quiet server's p99, or 100 ms (drillkit.assert_normal_latency).

What test_http_basics.py already checks one at a time (a single slowloris, the 16 KB head limit,
413 on a body one byte too large, malformed request lines) is not repeated; this file adds the
crowds, the extremes, and the inputs that reach the handlers and the database, on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import threading
import time

import pytest

import rawhttp
from conftest import _psql
from drillkit import (LatencyProbe, assert_normal_latency, baseline_p99, nofile_limit,
                      open_fds)
from rawhttp import Conn, IncompleteResponse, assert_error_body, request, send_raw

JWT_SECRET = "hostile-drill-jwt-secret-0123456789abcdef"
ADMIN = "hostadmin"
ADMIN_PASSWORD = "Evald-Hostile-Drill-2026!"


def login(port: int, login_id: str = ADMIN, password: str = ADMIN_PASSWORD) -> str:
    r = request(port, "POST", "/auth/login", {"Content-Type": "application/json"},
                json.dumps({"login_id": login_id, "password": password}).encode())
    assert r.status == 200, r
    return r.json()["access_token"]


def send_and_read(port: int, wire: bytes, timeout: float = 10.0):
    """Sends `wire` (the server may answer and close before reading all of it) and returns
    (response or None, closed): None when the server closed without a response."""
    with Conn(port, timeout=timeout) as c:
        try:
            c.send(wire)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            r = c.read_response(timeout=timeout)
        except IncompleteResponse as e:
            assert e.received == b"", f"a partial response: {e}"
            return None, True
        closed, extra = c.wait_closed(3) if "close" in r.header_tokens("Connection") \
            else (False, b"")
        return r, closed


# --- the crowds --------------------------------------------------------------------------------

SLOW_CONNECTIONS = 200


def test_a_crowd_of_slowloris_clients_is_cut_off_while_others_are_served(evald):
    """200 clients trickle their heads a byte every 50 ms; each is disconnected once the
    1 s head timeout passes, without a response, and the probe sees normal latency."""
    srv = evald(env={"HEADER_TIMEOUT_MS": "1000"})
    baseline = baseline_p99(srv.port)
    head = b"GET /health/ping HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(SLOW_CONNECTIONS):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    sent = {s: 0 for s in socks}
    closed_at: dict[socket.socket, float] = {}
    answered = []
    with LatencyProbe(srv.port) as probe:
        t0 = time.monotonic()
        while len(closed_at) < len(socks) and time.monotonic() - t0 < 5:
            for s in socks:
                if s in closed_at:
                    continue
                try:
                    s.send(head[sent[s]:sent[s] + 1])
                    sent[s] += 1
                except (BrokenPipeError, ConnectionResetError):
                    closed_at[s] = time.monotonic() - t0
            for key, _ in sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if data:
                    answered.append(data[:100])
                if s not in closed_at:
                    closed_at[s] = time.monotonic() - t0
                sel.unregister(s)
    for s in socks:
        s.close()
    assert not answered, f"slowloris clients got answers: {answered[:3]}"
    assert len(closed_at) == len(socks), \
        f"{len(socks) - len(closed_at)} of {len(socks)} trickling clients still connected after 5 s"
    latest = max(closed_at.values())
    assert latest < 3.0, f"the last trickling client was cut off after {latest:.2f} s"
    assert min(sent.values()) < len(head), "a trickling client sent its whole head"
    assert_normal_latency(probe, baseline, f"{SLOW_CONNECTIONS} slowloris clients")


IDLE_CONNECTIONS = 10_000


def test_ten_thousand_idle_connections_do_not_lock_out_other_clients(evald):
    """10,000 connections that send nothing, with the default settings (MAX_CONNECTIONS is
    10,000 and the head timeout 10 s): new clients still get in at normal latency, and once the
    crowd leaves, the server holds no more descriptors than before."""
    with nofile_limit(IDLE_CONNECTIONS + 2000):
        srv = evald()
        baseline = baseline_p99(srv.port)
        fds_before = open_fds(srv.pid)
        crowd = []
        try:
            for _ in range(IDLE_CONNECTIONS):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", srv.port))
                except BlockingIOError:
                    pass
                crowd.append(s)
            # The server has taken them all (its descriptors), or closed what it refused.
            deadline = time.monotonic() + 10
            while open_fds(srv.pid) < fds_before + IDLE_CONNECTIONS - 50:
                assert time.monotonic() < deadline, \
                    f"the server took only {open_fds(srv.pid) - fds_before} connections"
                time.sleep(0.05)
            probe = LatencyProbe(srv.port).run_for(2.0)
        finally:
            for s in crowd:
                s.close()
        assert_normal_latency(probe, baseline, f"{IDLE_CONNECTIONS} idle connections")
        deadline = time.monotonic() + 10
        while open_fds(srv.pid) > fds_before + 5:
            assert time.monotonic() < deadline, \
                f"{open_fds(srv.pid) - fds_before} descriptors more than before the crowd"
            time.sleep(0.05)
        assert request(srv.port, "GET", "/health/ping").status == 200


# --- extreme heads and bodies --------------------------------------------------------------------

EXTREME = {
    # A header line of 1 MB, sent whole: answered once the 16 KB limit is passed.
    "one_megabyte_header_line": b"GET /health/ping HTTP/1.1\r\nHost: x\r\nX-Big: "
                                + b"a" * (1 << 20) + b"\r\n\r\n",
    "ten_thousand_headers": b"GET /health/ping HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 10_000
                            + b"\r\n",
    "hundred_kilobyte_url": b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "content_length_overflow": b"POST /_test/echo HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 99999999999999999999999999\r\n\r\n",
    "content_length_terabyte": b"POST /_test/echo HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 1000000000000\r\n\r\n",
    "negative_content_length": b"POST /_test/echo HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: -5\r\n\r\nabcde",
    "conflicting_content_lengths": b"POST /_test/echo HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "chunked_and_content_length": b"POST /_test/echo HTTP/1.1\r\nHost: x\r\n"
                                  b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                                  b"0\r\n\r\n",
    "nul_in_header_value": b"GET /health/ping HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "nul_in_request_line": b"GET /health/ping\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "chunk_size_overflow": b"POST /_test/echo HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nab",
    "eleven_megabyte_body": b"POST /_test/echo HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/octet-stream\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n"
                            + (b"100000\r\n" + b"z" * (1 << 20) + b"\r\n") * 11 + b"0\r\n\r\n",
}
EXTREME_STATUS = {"content_length_terabyte": (413, "PAYLOAD_TOO_LARGE"),
                  "eleven_megabyte_body": (413, "PAYLOAD_TOO_LARGE")}


@pytest.mark.parametrize("name", list(EXTREME))
def test_extreme_heads_and_bodies_get_a_clean_error_and_a_closed_connection(server, name):
    r, closed = send_and_read(server.port, EXTREME[name])
    assert r is not None, f"{name}: closed without a response"
    status, code = EXTREME_STATUS.get(name, (400, "VALIDATION_ERROR"))
    assert_error_body(r, status, code)
    assert closed, f"{name}: the connection stayed open after {r.status}"
    assert request(server.port, "GET", "/health/ping").status == 200


# --- CR and LF in header values ------------------------------------------------------------------

CRLF = {
    "bare_cr_in_request_id": b"GET /health/ping HTTP/1.1\r\nHost: x\r\n"
                             b"X-Request-ID: abc\rInjected: yes\r\n\r\n",
    "bare_lf_in_request_id": b"GET /health/ping HTTP/1.1\r\nHost: x\r\n"
                             b"X-Request-ID: abc\nInjected: yes\r\n\r\n",
    "bare_cr_in_origin": b"GET /health/ping HTTP/1.1\r\nHost: x\r\n"
                         b"Origin: http://localhost:3000\rInjected: yes\r\n\r\n",
    "cr_lf_in_header_name": b"GET /health/ping HTTP/1.1\r\nHost: x\r\nX-A\r\nInjected: yes\r\n\r\n",
    # obs-fold: a continuation line; whatever the server makes of it, nothing is injected.
    "folded_request_id": b"GET /health/ping HTTP/1.1\r\nHost: x\r\n"
                         b"X-Request-ID: abc\r\n Injected: yes\r\n\r\n",
    "folded_origin": b"GET /health/ping HTTP/1.1\r\nHost: x\r\n"
                     b"Origin: http://localhost:3000\r\n\tInjected: yes\r\n\r\n",
    # Percent-encoded CR LF in the path and the query: echoed (escaped) at most.
    "encoded_crlf_in_path": b"GET /nope%0d%0aInjected:%20yes HTTP/1.1\r\nHost: x\r\n\r\n",
    "encoded_crlf_in_query": b"GET /api/projects?status=%0d%0aInjected:%20yes HTTP/1.1\r\n"
                             b"Host: x\r\n\r\n",
    "encoded_crlf_in_request_id": b"GET /health/ping HTTP/1.1\r\nHost: x\r\n"
                                  b"X-Request-ID: abc%0d%0aInjected:%20yes\r\n\r\n",
}


@pytest.mark.parametrize("name", list(CRLF))
def test_cr_and_lf_in_header_values_inject_nothing(server, name):
    r, _ = send_and_read(server.port, CRLF[name])
    assert r is not None, f"{name}: closed without a response"
    assert not r.header_values("Injected"), f"{name}: a header was injected: {r}"
    assert b"\r\nInjected" not in r.raw_head, r.raw_head
    assert r.status < 500, r
    if r.status >= 400:
        assert_error_body(r, r.status, r.json()["error_code"])
    rid = r.header("X-Request-ID") or ""
    assert "\r" not in rid and "\n" not in rid, r


# --- hostile input, through to the database (SQLite and PostgreSQL) -------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(request, module_evald, tmp_path_factory):
    """A server on each engine with an admin, two projects and a token."""
    engine, request = request, rawhttp.request
    if engine.param == "sqlite":
        db = f"sqlite://{tmp_path_factory.mktemp('hostile')}/hostile.db"
    else:
        base = engine.getfixturevalue("postgres_url")
        name = f"evald_hostile_{os.getpid()}_{time.monotonic_ns() % 1_000_000}"
        _psql(base, f"CREATE DATABASE {name}")
        db = base.rsplit("/", 1)[0] + "/" + name
    srv = module_evald(env={"DATABASE_URL": db, "JWT_SECRET": JWT_SECRET,
                            "ADMIN_LOGIN_ID": ADMIN, "ADMIN_PASSWORD": ADMIN_PASSWORD,
                            "ADMIN_EMAIL": "hostadmin@example.org"})
    token = login(srv.port)
    for name in ("first", "second"):
        r = request(srv.port, "POST", "/api/projects",
                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    json.dumps({"name": f"hostile {name}"}).encode())
        assert r.status == 201, r
    return srv, token


def raw(method: str, target_bytes: bytes, token: str | None, body: bytes = b"",
        content_type: str = "application/json") -> bytes:
    head = method.encode() + b" " + target_bytes + b" HTTP/1.1\r\nHost: x\r\n"
    if token:
        head += b"Authorization: Bearer " + token.encode() + b"\r\n"
    if body:
        head += b"Content-Type: " + content_type.encode() + b"\r\n"
        head += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return head + b"\r\n" + body


def project(name: bytes) -> bytes:
    return b'{"name": ' + name + b'}'


def template(number: bytes) -> bytes:
    return (b'{"name": "t", "items": [{"name": "i", "min_score": 0, "max_score": ' + number
            + b', "weight": ' + number + b'}]}')


NESTED_ARRAYS = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS = b'{"a":' * 50_000 + b"1" + b"}" * 50_000

# name -> (method, target, body, content type, acceptable (status, error_code) answers)
BAD_REQUEST = {(400, "VALIDATION_ERROR")}
NOT_FOUND = {(404, "NOT_FOUND")}
HOSTILE_INPUT = {
    # invalid UTF-8
    "utf8_in_json_value": ("POST", b"/api/projects", project(b'"a\xff\xfeb"'), None, BAD_REQUEST),
    "utf8_in_json_key": ("POST", b"/api/projects", b'{"na\xffme": "x"}', None, BAD_REQUEST),
    "overlong_utf8_in_json": ("POST", b"/api/projects", project(b'"a\xc0\xafb"'), None,
                              BAD_REQUEST),
    "lone_surrogate_in_json": ("POST", b"/api/projects", project(b'"a\\ud800b"'), None,
                               BAD_REQUEST),
    "utf8_in_unrouted_path": ("GET", b"/nope\xff\xfe\x80", b"", None, NOT_FOUND),
    "encoded_utf8_in_unrouted_path": ("GET", b"/nope%ff%fe", b"", None, NOT_FOUND),
    "utf8_in_path_parameter": ("GET", b"/api/projects/\xff\xfe", b"", None, NOT_FOUND),
    "encoded_utf8_in_path_parameter": ("GET", b"/api/projects/%ff", b"", None, NOT_FOUND),
    "encoded_utf8_in_deleted_id": ("DELETE", b"/api/projects/%ff", b"", None, NOT_FOUND),
    "encoded_utf8_in_company_id": ("DELETE", b"/api/companies/%c3%28", b"", None, NOT_FOUND),
    "encoded_utf8_in_session_id": ("DELETE", b"/auth/sessions/%ff", b"", None, NOT_FOUND),
    "encoded_utf8_in_login_id": ("GET", b"/auth/lockout-status/%ff", b"", None, NOT_FOUND),
    "encoded_utf8_in_limit": ("GET", b"/api/projects?limit=%ff", b"", None, BAD_REQUEST),
    "encoded_utf8_in_search": ("GET", b"/api/projects?search=%ff", b"", None, BAD_REQUEST),
    "encoded_utf8_in_user_filter": ("GET", b"/auth/security-events?user_id=%ff", b"", None,
                                    BAD_REQUEST),
    "encoded_utf8_in_event_type": ("GET", b"/auth/security-events?event_type=%ff", b"", None,
                                   BAD_REQUEST),
    "encoded_utf8_in_hours": ("GET", b"/admin/error-stats?hours=%ff", b"", None, BAD_REQUEST),
    "utf8_in_query": ("GET", b"/api/projects?search=\xff", b"", None, BAD_REQUEST),
    "utf8_in_cursor": ("GET", b"/api/projects?cursor=_3z_", b"", None, BAD_REQUEST),  # \xff|\xff
    "utf8_in_form_login": ("POST", b"/auth/login", b"username=\xff&password=x",
                           "application/x-www-form-urlencoded", BAD_REQUEST),
    # deeply nested JSON
    "nested_arrays": ("POST", b"/api/projects", NESTED_ARRAYS, None, BAD_REQUEST),
    "nested_objects": ("POST", b"/api/projects", NESTED_OBJECTS, None, BAD_REQUEST),
    "nested_in_a_field": ("POST", b"/api/projects",
                          b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}", None, BAD_REQUEST),
    # huge numbers
    "number_out_of_double_range": ("POST", b"/api/templates", template(b"1e999"), None,
                                   BAD_REQUEST),
    "negative_out_of_range": ("POST", b"/api/templates", template(b"-1e999"), None, BAD_REQUEST),
    "five_thousand_digits": ("POST", b"/api/templates", template(b"9" * 5000), None,
                             BAD_REQUEST),
    "exponent_overflow": ("POST", b"/api/templates", template(b"0.1e2147483648"), None,
                          BAD_REQUEST),
    "huge_integer_version": ("POST",
                             b"/api/evaluations/00000000-0000-4000-8000-000000000000/reopen",
                             b'{"version": 1e300}', None, BAD_REQUEST | NOT_FOUND),
    "huge_limit": ("GET", b"/api/projects?limit=99999999999999999999999", b"", None,
                   BAD_REQUEST),
    "huge_hours": ("GET", b"/admin/error-stats?hours=1e999", b"", None, BAD_REQUEST),
    # NUL bytes
    "nul_escaped_in_json": ("POST", b"/api/projects", project(b'"a\\u0000b"'), None,
                            BAD_REQUEST),
    "nul_raw_in_json": ("POST", b"/api/projects", project(b'"a\x00b"'), None, BAD_REQUEST),
    "nul_in_json_key": ("POST", b"/api/projects", b'{"name\\u0000": "x"}', None, BAD_REQUEST),
    "nul_in_path": ("GET", b"/api/projects/%00", b"", None, NOT_FOUND),
    "nul_in_query": ("GET", b"/api/projects?search=a%00b", b"", None, BAD_REQUEST),
    "nul_in_cursor": ("GET", b"/api/projects?cursor=AHwA", b"", None, BAD_REQUEST),  # \0|\0
    "nul_in_reset_email": ("POST", b"/auth/request-password-reset",
                           b'{"email": "hostadmin@example.org\\u0000x"}', None, BAD_REQUEST),
}


@pytest.mark.parametrize("name", list(HOSTILE_INPUT))
def test_hostile_input_gets_a_clean_error(target, name):
    srv, token = target
    method, path, body, ctype, acceptable = HOSTILE_INPUT[name]
    r = send_raw(srv.port, raw(method, path, token, body, ctype or "application/json"),
                 timeout=10)
    assert 400 <= r.status < 500, f"{name}: {r}"
    body_json = assert_error_body(r, r.status, r.json().get("error_code", "?"))
    assert (r.status, body_json["error_code"]) in acceptable, f"{name}: {r}"


@pytest.mark.parametrize("how", ["json", "form"])
def test_a_nul_byte_does_not_cut_a_login_id_short(target, how):
    """"hostadmin<NUL>anything" is not the admin's login id: the right password with it signs
    nobody in (PostgreSQL's client library would read the parameter only up to the NUL)."""
    srv, _ = target
    if how == "json":
        body = (b'{"login_id": "' + ADMIN.encode() + b'\\u0000x", "password": "'
                + ADMIN_PASSWORD.encode() + b'"}')
        ctype = "application/json"
    else:
        body = b"username=" + ADMIN.encode() + b"%00x&password=" + ADMIN_PASSWORD.encode()
        ctype = "application/x-www-form-urlencoded"
    r = send_raw(srv.port, raw("POST", b"/auth/login", None, body, ctype))
    assert r.status in (400, 401), f"signed in with a NUL in the login id: {r}"
    assert_error_body(r, r.status, "VALIDATION_ERROR" if r.status == 400 else "AUTH_FAILED")


@pytest.mark.parametrize("query", [b"limit=1&x=a|b", b"limit=1&search=hostile%20%7Cx|",
                                   b"limit=1&x={}", b"limit=1&x=caf\xc3\xa9"])
def test_a_query_with_characters_outside_rfc_3986_is_not_ignored(target, query):
    """Browsers and curl send `|`, `{` and raw UTF-8 as they are: the parameters around them
    still count (limit=1 gives one project, a search finds nothing), not a silent default."""
    srv, token = target
    r = send_raw(srv.port, raw("GET", b"/api/projects?" + query, token))
    assert r.status == 200, r
    items = r.json()["items"]
    assert len(items) == (0 if b"search" in query else 1), (query, items)


# --- all of it at once ---------------------------------------------------------------------------

def test_a_flood_of_hostile_requests_does_not_slow_other_clients(evald, tmp_path):
    srv = evald(env={"DATABASE_URL": f"sqlite://{tmp_path}/flood.db", "JWT_SECRET": JWT_SECRET,
                     "ADMIN_LOGIN_ID": ADMIN, "ADMIN_PASSWORD": ADMIN_PASSWORD,
                     "ADMIN_EMAIL": "hostadmin@example.org"})
    token = login(srv.port)
    baseline = baseline_p99(srv.port)
    wires = [w for k, w in EXTREME.items() if k != "eleven_megabyte_body"]
    wires += list(CRLF.values())
    wires += [raw(m, p, token, b, c or "application/json") for m, p, b, c, _ in
              HOSTILE_INPUT.values()]
    stop = threading.Event()
    failures: list[str] = []
    sent = [0]

    def attacker(offset: int):
        i = offset
        while not stop.is_set():
            wire = wires[i % len(wires)]
            i += 1
            try:
                r, _ = send_and_read(srv.port, wire)
                if r is not None and r.status >= 500:
                    failures.append(f"{r.status}: {r.body[:200]!r}")
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e)[:200])
            sent[0] += 1

    threads = [threading.Thread(target=attacker, args=(k * 7,), daemon=True) for k in range(2)]
    with LatencyProbe(srv.port) as probe:
        for t in threads:
            t.start()
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not failures, failures[:5]
    assert sent[0] >= len(wires), f"only {sent[0]} hostile requests in 2 s"
    assert_normal_latency(probe, baseline, f"a flood of {sent[0]} hostile requests")
    assert srv.running
