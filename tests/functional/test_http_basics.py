"""HTTP/1.1 behaviour of the server: routes, errors, HEAD, keep-alive, pipelining, malformed
requests, size limits, timeouts and the connection limit."""

from __future__ import annotations

import concurrent.futures
import socket
import time

import pytest
import requests

from conftest import TIME_SCALE
from rawhttp import (Conn, IncompleteResponse, assert_error_body, assert_security_headers,
                     build_request, request, send_raw)


# --- routes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/ping", "/health/ping"])
def test_ping_routes(server, path):
    r = requests.get(server.url(path), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].lower().startswith("application/json")
    assert r.json() == {"status": "ok"}


def test_health_live(server):
    r = requests.get(server.url("/health/live"), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].lower().startswith("application/json")
    body = r.json()
    assert body["status"] == "alive"
    up = body["uptime_seconds"]
    assert isinstance(up, (int, float)) and not isinstance(up, bool) and up >= 0
    hb = body["oldest_heartbeat_ms"]
    assert isinstance(hb, int) and not isinstance(hb, bool) and hb >= 0
    # The server has been up for a while by now and its I/O threads beat: the heartbeat is recent.
    assert hb < 5000 * TIME_SCALE, body


def test_health_live_uptime_grows(server):
    first = requests.get(server.url("/health/live"), timeout=5).json()["uptime_seconds"]
    time.sleep(1.1)
    second = requests.get(server.url("/health/live"), timeout=5).json()["uptime_seconds"]
    assert second > first


def test_sleep_route_waits(server):
    t0 = time.monotonic()
    r = requests.get(server.url("/_test/sleep?ms=200"), timeout=5)
    elapsed = time.monotonic() - t0
    assert r.status_code == 200
    assert r.json() == {"slept_ms": 200}
    assert elapsed >= 0.19


def test_blocking_route(server):
    t0 = time.monotonic()
    r = requests.get(server.url("/_test/blocking?ms=150"), timeout=5)
    assert r.status_code == 200
    assert r.json() == {"blocked_ms": 150}
    assert time.monotonic() - t0 >= 0.14


def test_echo_route(server):
    r = requests.post(server.url("/_test/echo"), data=b"hello world", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"bytes": 11, "method": "POST"}


def test_io_threads_never_block(server):
    """Several blocking handlers hold worker threads; the I/O threads keep answering pings."""
    n_blocking, block_ms = 4, 2000
    with concurrent.futures.ThreadPoolExecutor(n_blocking) as pool:
        futures = [pool.submit(requests.get, server.url(f"/_test/blocking?ms={block_ms}"),
                               timeout=15) for _ in range(n_blocking)]
        time.sleep(0.3)  # let them reach the workers
        ping_times = []
        for _ in range(5):
            t0 = time.monotonic()
            r = requests.get(server.url("/health/ping"), timeout=5)
            ping_times.append(time.monotonic() - t0)
            assert r.status_code == 200
        # The blocking requests are still running: pings were really concurrent with them.
        still_blocked = sum(not f.done() for f in futures)
        results = [f.result() for f in futures]
    assert still_blocked == n_blocking, "the blocking requests ended before the pings were sent"
    assert max(ping_times) < 0.75 * TIME_SCALE, ping_times
    for r in results:
        assert r.status_code == 200
        assert r.json() == {"blocked_ms": block_ms}


def test_throw_gives_internal_error_without_details(server):
    rid = "trace-abc-12345678"
    r = request(server.port, "GET", "/_test/throw", {"X-Request-ID": rid})
    body = assert_error_body(r, 500, "INTERNAL_SERVER_ERROR", "system", "critical")
    assert body["request_id"] == rid
    assert body["support_reference"] == "REF-" + rid[-8:]
    assert b"deliberate failure for tests" not in r.body
    assert "internal_detail" not in body


def test_throw_support_reference_with_generated_id(server):
    r = request(server.port, "GET", "/_test/throw")
    body = assert_error_body(r, 500, "INTERNAL_SERVER_ERROR", "system", "critical")
    assert body["support_reference"] == "REF-" + body["request_id"][-8:]


def test_server_survives_handler_exception(server):
    with Conn(server.port) as c:
        r = c.request("GET", "/_test/throw")
        assert r.status == 500
        # The connection stays usable after a handler failure.
        r = c.request("GET", "/ping")
        assert r.status == 200 and r.json() == {"status": "ok"}


def test_test_routes_absent_outside_test_environment(evald):
    """ENVIRONMENT=test enables /_test/*; in development they do not exist."""
    srv = evald(env={"ENVIRONMENT": "development"})
    for method, path in [("GET", "/_test/throw"), ("GET", "/_test/sleep?ms=1"),
                         ("POST", "/_test/echo")]:
        r = request(srv.port, method, path, body=b"x" if method == "POST" else b"")
        assert_error_body(r, 404, "NOT_FOUND", "business_logic", "low")


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/health/nope", "/ping/extra", "/_test"])
def test_unknown_path_is_404(server, path):
    r = request(server.port, "GET", path)
    assert_error_body(r, 404, "NOT_FOUND", "business_logic", "low")


@pytest.mark.parametrize("method,path", [("POST", "/ping"), ("DELETE", "/health/live"),
                                         ("PUT", "/health/ping"), ("PATCH", "/ping")])
def test_wrong_method_is_405(server, method, path):
    r = request(server.port, method, path, body=b"{}" if method != "DELETE" else b"")
    assert_error_body(r, 405, "METHOD_NOT_ALLOWED", "validation", "low")
    allow = r.header("Allow")
    assert allow is not None, r
    assert {m.strip() for m in allow.split(",")} == {"GET", "HEAD"}, allow


def test_wrong_method_on_post_route_is_405(server):
    r = request(server.port, "GET", "/_test/echo")
    assert_error_body(r, 405, "METHOD_NOT_ALLOWED", "validation", "low")
    assert "POST" in {m.strip() for m in (r.header("Allow") or "").split(",")}, r


def test_success_has_security_headers(server):
    r = request(server.port, "GET", "/ping")
    assert r.status == 200
    assert_security_headers(r)


# --- HEAD --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/ping", "/health/ping"])
def test_head_matches_get_without_body(server, path):
    with Conn(server.port) as c:
        get = c.request("GET", path)
        head = c.request("HEAD", path)
        # Were a body sent after the HEAD response, it would be read here as the next response.
        after = c.request("GET", "/ping")
    assert get.status == 200
    assert head.status == get.status
    assert head.header("Content-Length") == str(len(get.body)), (head, get)
    assert head.header("Content-Type") == get.header("Content-Type")
    assert_security_headers(head)
    assert after.status == 200 and after.json() == {"status": "ok"}, after


def test_head_health_live(server):
    with Conn(server.port) as c:
        head = c.request("HEAD", "/health/live")
        after = c.request("GET", "/ping")
    assert head.status == 200
    assert int(head.header("Content-Length")) > len('{"status":"alive"}')
    assert head.header("Content-Type").lower().startswith("application/json")
    assert after.status == 200 and after.json() == {"status": "ok"}, after


def test_head_sends_no_body_bytes(server):
    with Conn(server.port) as c:
        c.send(build_request("HEAD", "/health/ping", {"Connection": "close"}))
        head = c.read_response(head=True)
        closed, extra = c.wait_closed(3)
    assert head.status == 200
    assert closed
    assert extra == b"", extra


def test_head_unknown_path(server):
    with Conn(server.port) as c:
        head = c.request("HEAD", "/nope")
        after = c.request("GET", "/ping")
    assert head.status == 404
    assert after.status == 200 and after.json() == {"status": "ok"}, after


# --- malformed requests ------------------------------------------------------------------------

MALFORMED = {
    "garbage": b"GARBAGE\r\n\r\n",
    "no_version": b"GET /ping\r\nHost: x\r\n\r\n",
    "header_without_colon": b"GET /ping HTTP/1.1\r\nHost: x\r\nBadHeader\r\n\r\n",
    "relative_target": b"GET ping HTTP/1.1\r\nHost: x\r\n\r\n",
    "space_in_target": b"GET /pi ng HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad_content_length": b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
}


@pytest.mark.parametrize("raw", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_request_is_400_then_closed(server, raw):
    with Conn(server.port) as c:
        c.send(raw)
        r = c.read_response()
        closed, extra = c.wait_closed(3)
    assert_error_body(r, 400, "VALIDATION_ERROR", "validation", "medium")
    assert closed, "the server kept the connection open after a malformed request"
    assert extra == b"", extra


def test_malformed_request_does_not_disturb_others(server):
    with Conn(server.port) as good:
        assert good.request("GET", "/ping").status == 200
        send_raw(server.port, b"GARBAGE\r\n\r\n")
        assert good.request("GET", "/ping").status == 200


# --- keep-alive --------------------------------------------------------------------------------

def test_keep_alive_many_requests_one_socket(server):
    with Conn(server.port) as c:
        local = c.sock.getsockname()
        for i in range(10):
            path = ["/ping", "/health/ping", "/health/live", "/nope"][i % 4]
            r = c.request("GET", path)
            assert r.status == (404 if path == "/nope" else 200), r
            assert "close" not in r.header_tokens("Connection")
        assert c.sock.getsockname() == local
        closed, _ = c.wait_closed(0.2)
        assert not closed


def test_http10_without_keep_alive_is_closed(server):
    with Conn(server.port) as c:
        c.send(b"GET /ping HTTP/1.0\r\n\r\n")
        r = c.read_response()
        closed, extra = c.wait_closed(3)
    assert r.status == 200 and r.json() == {"status": "ok"}
    assert closed
    assert extra == b""


def test_connection_close_on_http11(server):
    with Conn(server.port) as c:
        c.send(build_request("GET", "/ping", {"Connection": "close"}))
        r = c.read_response()
        closed, extra = c.wait_closed(3)
    assert r.status == 200
    assert "close" in r.header_tokens("Connection"), r
    assert closed
    assert extra == b""


# --- pipelining --------------------------------------------------------------------------------

def test_pipelined_responses_in_order(server):
    reqs = [
        ("GET", "/_test/sleep?ms=300", b""),
        ("GET", "/ping", b""),
        ("GET", "/health/live", b""),
        ("GET", "/_test/sleep?ms=50", b""),
        ("POST", "/_test/echo", b"abcdef"),
        ("GET", "/nope", b""),
        ("HEAD", "/ping", b""),
        ("GET", "/health/ping", b""),
    ]
    wire = b"".join(build_request(m, p, {"X-Request-ID": f"pipe-{i}"}, b)
                    for i, (m, p, b) in enumerate(reqs))
    with Conn(server.port, timeout=10) as c:
        c.send(wire)
        responses = [c.read_response(head=m == "HEAD") for m, _, _ in reqs]
    assert [r.header("X-Request-ID") for r in responses] == \
        [f"pipe-{i}" for i in range(len(reqs))]
    assert responses[0].json() == {"slept_ms": 300}
    assert responses[1].json() == {"status": "ok"}
    assert responses[2].json()["status"] == "alive"
    assert responses[3].json() == {"slept_ms": 50}
    assert responses[4].json() == {"bytes": 6, "method": "POST"}
    assert responses[5].status == 404
    assert responses[6].status == 200 and responses[6].body == b""
    assert responses[7].json() == {"status": "ok"}


def test_pipelined_in_small_pieces(server):
    """Requests split at arbitrary byte boundaries are reassembled."""
    wire = b"".join(build_request("GET", p) for p in ["/ping", "/health/live", "/ping"])
    with Conn(server.port) as c:
        for i in range(0, len(wire), 7):
            c.send(wire[i:i + 7])
            time.sleep(0.002)
        rs = [c.read_response() for _ in range(3)]
    assert [r.status for r in rs] == [200, 200, 200]
    assert rs[1].json()["status"] == "alive"


# --- limits ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def limits_server(module_evald):
    return module_evald(env={"MAX_HEADER_BYTES": "2048", "MAX_BODY_BYTES": "1024"})


def test_head_under_header_limit_is_accepted(limits_server):
    r = request(limits_server.port, "GET", "/ping", {"X-Filler": "a" * 1500})
    assert r.status == 200


def test_head_over_header_limit_is_400(limits_server):
    r = request(limits_server.port, "GET", "/ping", {"X-Filler": "a" * 3000})
    assert_error_body(r, 400, "VALIDATION_ERROR", "validation", "medium")


def test_head_over_header_limit_in_many_headers_is_400(limits_server):
    headers = {f"X-Filler-{i}": "b" * 60 for i in range(60)}
    r = request(limits_server.port, "GET", "/ping", headers)
    assert_error_body(r, 400, "VALIDATION_ERROR", "validation", "medium")


def test_default_header_limit_is_16k(server):
    assert request(server.port, "GET", "/ping", {"X-Filler": "a" * 12000}).status == 200
    r = request(server.port, "GET", "/ping", {"X-Filler": "a" * 20000})
    assert_error_body(r, 400, "VALIDATION_ERROR", "validation", "medium")


def test_body_at_limit_is_accepted(limits_server):
    r = request(limits_server.port, "POST", "/_test/echo", body=b"x" * 1024)
    assert r.status == 200
    assert r.json() == {"bytes": 1024, "method": "POST"}


def test_body_one_over_limit_is_413(limits_server):
    r = request(limits_server.port, "POST", "/_test/echo", body=b"x" * 1025)
    assert_error_body(r, 413, "PAYLOAD_TOO_LARGE", "validation", "medium")


def test_declared_large_body_is_rejected_before_it_is_sent(limits_server):
    head = (b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 5000000\r\nX-Request-ID: big-body-1\r\n\r\n")
    with Conn(limits_server.port) as c:
        t0 = time.monotonic()
        c.send(head)
        r = c.read_response(timeout=5)
        elapsed = time.monotonic() - t0
    body = assert_error_body(r, 413, "PAYLOAD_TOO_LARGE", "validation", "medium")
    assert body["request_id"] == "big-body-1"
    assert elapsed < 3 * TIME_SCALE, f"413 took {elapsed:.2f} s: the server waited for the body"


def _chunked(payload: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(payload), size):
        part = payload[i:i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def test_chunked_body_under_limit_is_accepted(limits_server):
    raw = (b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           + _chunked(b"y" * 1000, 300))
    r = send_raw(limits_server.port, raw)
    assert r.status == 200
    assert r.json() == {"bytes": 1000, "method": "POST"}


def test_chunked_body_over_limit_is_413(limits_server):
    raw = (b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           + _chunked(b"z" * 3000, 500))
    with Conn(limits_server.port) as c:
        try:
            c.send(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read everything
        r = c.read_response()
    assert_error_body(r, 413, "PAYLOAD_TOO_LARGE", "validation", "medium")


def test_limits_server_still_serves_after_rejections(limits_server):
    assert request(limits_server.port, "GET", "/ping").status == 200


# --- timeouts ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def timeout_server(module_evald):
    return module_evald(env={"HEADER_TIMEOUT_MS": "300", "IDLE_TIMEOUT_MS": "300"})


def test_slowloris_partial_head_is_disconnected(timeout_server):
    with Conn(timeout_server.port) as slow:
        slow.send(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        t0 = time.monotonic()
        # Meanwhile another client is served normally.
        r = requests.get(timeout_server.url("/ping"), timeout=5)
        assert r.status_code == 200
        closed, received = slow.wait_closed(3)
        elapsed = time.monotonic() - t0
    assert closed, "a client stuck in its request head was not disconnected within 3 s"
    assert elapsed >= 0.2, f"closed after {elapsed:.2f} s, before the 300 ms header timeout"
    assert elapsed < 2.5
    assert b"200 OK" not in received


def test_slowloris_trickling_head_is_disconnected(timeout_server):
    """HEADER_TIMEOUT_MS bounds the whole head, not the gap between bytes."""
    head = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    with Conn(timeout_server.port) as slow:
        t0 = time.monotonic()
        closed = False
        for byte in head:
            try:
                slow.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if time.monotonic() - t0 > 3:
                break
            time.sleep(0.05)
        if not closed:
            closed, _ = slow.wait_closed(max(0.1, 3 - (time.monotonic() - t0)))
        elapsed = time.monotonic() - t0
    assert closed, "a client trickling its head byte by byte kept the connection for 3 s"
    assert elapsed < 2.5


def test_connection_sending_nothing_is_disconnected(timeout_server):
    with Conn(timeout_server.port) as c:
        closed, received = c.wait_closed(3)
    assert closed
    assert received == b"" or received.startswith(b"HTTP/1.1 4"), received


def test_idle_keep_alive_connection_is_closed(timeout_server):
    with Conn(timeout_server.port) as c:
        r = c.request("GET", "/ping")
        assert r.status == 200
        t0 = time.monotonic()
        r2 = requests.get(timeout_server.url("/health/ping"), timeout=5)
        assert r2.status_code == 200
        closed, received = c.wait_closed(3)
        elapsed = time.monotonic() - t0
    assert closed, "an idle keep-alive connection was kept for 3 s with IDLE_TIMEOUT_MS=300"
    assert 0.2 <= elapsed < 2.5, elapsed
    assert received == b"", received


def test_active_keep_alive_connection_outlives_idle_timeout(timeout_server):
    """Each request restarts the idle wait: a connection used every 100 ms lives on."""
    with Conn(timeout_server.port) as c:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:
            assert c.request("GET", "/ping").status == 200
            time.sleep(0.1)


def test_slow_handler_is_not_cut_by_idle_timeout(timeout_server):
    """The timeouts bound the client's sending, not the time the handler takes."""
    with Conn(timeout_server.port) as c:
        r = c.request("GET", "/_test/sleep?ms=800", timeout=5)
    assert r.status == 200 and r.json() == {"slept_ms": 800}


# --- connection limit --------------------------------------------------------------------------

def _open_served_connection(port: int, deadline: float) -> Conn:
    """A connection the server has accepted (a request on it was answered)."""
    last = None
    while time.monotonic() < deadline:
        c = Conn(port, timeout=2)
        try:
            r = c.request("GET", "/ping")
            if r.status == 200:
                return c
            last = r
        except (IncompleteResponse, OSError) as e:
            last = e
        c.close()
        time.sleep(0.05)
    raise AssertionError(f"could not open a served connection: {last!r}")


def test_max_connections(evald):
    """At the limit a new client takes the place of the connection idle longest; when every
    connection is busy with a request, it is closed at once without an answer."""
    n = 3
    srv = evald(env={"MAX_CONNECTIONS": str(n), "THREADS": "1", "METRICS_TOKEN": "m" * 32})
    deadline = time.monotonic() + 5
    held = []
    for _ in range(n):
        held.append(_open_served_connection(srv.port, deadline))
        time.sleep(0.05)  # their idle waits begin in this order
    try:
        newcomer = _open_served_connection(srv.port, time.monotonic() + 5)
        try:
            closed, received = held[0].wait_closed(3)
            assert closed, "the connection idle longest was kept at the limit"
            assert received == b"", received
            # The others, and the newcomer, are still served.
            for c in held[1:] + [newcomer]:
                assert c.request("GET", "/ping").status == 200
        finally:
            newcomer.close()
    finally:
        for c in held:
            c.close()

    # Every connection busy with a request: connection N+1 is closed at once.
    busy = [Conn(srv.port, timeout=10) for _ in range(n)]
    try:
        for c in busy:
            c.send(build_request("GET", "/_test/sleep?ms=1500"))
        time.sleep(0.3)  # each request is in its handler by now
        extra = Conn(srv.port, timeout=3)  # the kernel completes the handshake
        try:
            try:
                extra.send(build_request("GET", "/ping"))
            except (BrokenPipeError, ConnectionResetError):
                pass
            closed, received = extra.wait_closed(1)
        finally:
            extra.close()
        assert closed, "connection N+1 was kept open while every connection was busy"
        assert received == b"", f"connection N+1 got a response: {received[:200]!r}"
        for c in busy:
            assert c.read_response().status == 200
    finally:
        for c in busy:
            c.close()
    # Once they are closed, new connections work again.
    more = [_open_served_connection(srv.port, time.monotonic() + 5) for _ in range(n)]
    for c in more:
        c.close()
    # Both kinds of early close are counted for Prometheus.
    r = requests.get(f"http://127.0.0.1:{srv.port}/health/metrics", timeout=5,
                     headers={"Authorization": "Bearer " + "m" * 32})
    assert r.status_code == 200, r.text[:300]
    closed = {line.split('"')[1]: float(line.rsplit(" ", 1)[1]) for line in r.text.splitlines()
              if line.startswith("evald_connections_closed_early_total{")}
    assert closed["displaced"] >= 1 and closed["refused"] >= 1, closed
    assert closed["tls_handshake_failed"] == 0, closed


# --- concurrency -------------------------------------------------------------------------------

def test_many_concurrent_clients(server):
    def one(i):
        with Conn(server.port, timeout=10) as c:
            out = []
            for _ in range(5):
                r = c.request("GET", "/_test/sleep?ms=20" if i % 2 else "/ping")
                out.append(r.status)
            return out
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(40)))
    assert all(s == 200 for statuses in results for s in statuses), results


def test_client_disconnect_mid_request_does_not_hurt(server):
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=2)
        s.sendall(b"GET /_test/sleep?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
        s = socket.create_connection(("127.0.0.1", server.port), timeout=2)
        s.sendall(b"POST /_test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        s.close()
    r = request(server.port, "GET", "/ping")
    assert r.status == 200
