"""X-Request-ID: sane ids are echoed (header and error bodies); others are replaced by a
generated id (32 lowercase hex chars), never echoed."""

from __future__ import annotations

import pytest

from rawhttp import GENERATED_REQUEST_ID, Conn, assert_error_body, build_request, request


@pytest.mark.parametrize("rid", ["abc-123", "x", "A" * 128, "!#$%&'*+.^_`|~0-9azAZ",
                                 "0123456789abcdef0123456789abcdef"])
def test_sane_id_is_echoed(server, rid):
    r = request(server.port, "GET", "/ping", {"X-Request-ID": rid})
    assert r.status == 200
    assert r.header("X-Request-ID") == rid


@pytest.mark.parametrize("method,path,status,code", [
    ("GET", "/nope", 404, "NOT_FOUND"),
    ("POST", "/ping", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/_test/throw", 500, "INTERNAL_SERVER_ERROR"),
])
def test_sane_id_is_in_error_body(server, method, path, status, code):
    rid = "abc-123"
    r = request(server.port, method, path, {"X-Request-ID": rid},
                body=b"{}" if method == "POST" else b"")
    body = assert_error_body(r, status, code)
    assert body["request_id"] == rid
    assert r.header("X-Request-ID") == rid


def test_sane_id_is_in_error_body_of_rejected_target(server):
    """A complete, well-formed head whose target is not an absolute path: the id was readable."""
    raw = b"GET ping HTTP/1.1\r\nHost: x\r\nX-Request-ID: rel-target-7\r\n\r\n"
    with Conn(server.port) as c:
        c.send(raw)
        r = c.read_response()
    body = assert_error_body(r, 400, "VALIDATION_ERROR", "validation", "medium")
    assert body["request_id"] == "rel-target-7"


def _assert_generated(r, given: bytes | str):
    rid = r.header("X-Request-ID")
    assert rid is not None, r
    assert GENERATED_REQUEST_ID.match(rid), f"not a generated id: {rid!r}"
    given_s = given.decode("latin-1") if isinstance(given, bytes) else given
    assert rid != given_s.strip()
    if r.status >= 400:
        assert r.json()["request_id"] == rid


@pytest.mark.parametrize("rid", ["A" * 129, "B" * 300, "has space", "caf\u00e9"],
                         ids=["129-chars", "300-chars", "space", "non-ascii"])
def test_insane_id_is_replaced(server, rid):
    raw = (b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + rid.encode("utf-8") + b"\r\n\r\n")
    with Conn(server.port) as c:
        c.send(raw)
        r = c.read_response()
    assert r.status == 200
    _assert_generated(r, rid)
    assert rid.encode("utf-8") not in r.raw_head


@pytest.mark.parametrize("raw_id", [b"abc\tdef", b"abc\x01def", b"abc\x7fdef", b"abc\x1bdef"],
                         ids=["tab", "ctrl-A", "DEL", "ESC"])
def test_id_with_control_character_is_never_echoed(server, raw_id):
    # The server may reject such a header as malformed (400) or serve the request: either way
    # the id is replaced.
    raw = b"GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + raw_id + b"\r\n\r\n"
    with Conn(server.port) as c:
        c.send(raw)
        r = c.read_response()
    assert r.status in (400, 404), r
    _assert_generated(r, raw_id)
    assert raw_id not in r.raw_head and raw_id not in r.body


def test_insane_id_in_error_body_is_replaced(server):
    rid = "C" * 129
    r = request(server.port, "GET", "/nope", {"X-Request-ID": rid})
    body = assert_error_body(r, 404, "NOT_FOUND")
    assert GENERATED_REQUEST_ID.match(body["request_id"])
    assert rid.encode() not in r.body


def test_empty_id_is_replaced(server):
    r = request(server.port, "GET", "/ping", {"X-Request-ID": ""})
    assert r.status == 200
    assert GENERATED_REQUEST_ID.match(r.header("X-Request-ID") or "")


def test_generated_ids_differ(server):
    ids = []
    with Conn(server.port) as c:
        for _ in range(20):
            r = c.request("GET", "/ping")
            ids.append(r.header("X-Request-ID"))
    for _ in range(10):
        ids.append(request(server.port, "GET", "/nope").header("X-Request-ID"))
    assert all(GENERATED_REQUEST_ID.match(i or "") for i in ids), ids
    assert len(set(ids)) == len(ids), ids


def test_id_on_every_kind_of_response(server):
    responses = [
        request(server.port, "GET", "/ping"),
        request(server.port, "HEAD", "/health/live"),
        request(server.port, "GET", "/nope"),
        request(server.port, "DELETE", "/ping"),
        request(server.port, "OPTIONS", "/ping", {"Origin": "http://localhost:3000",
                                                  "Access-Control-Request-Method": "GET"}),
    ]
    with Conn(server.port) as c:
        c.send(b"GARBAGE\r\n\r\n")
        responses.append(c.read_response())
    for r in responses:
        assert r.header("X-Request-ID"), r


def test_each_pipelined_request_keeps_its_own_id(server):
    wire = b"".join(build_request("GET", "/ping", {"X-Request-ID": f"p{i}"}) for i in range(5))
    wire += build_request("GET", "/ping")
    with Conn(server.port) as c:
        c.send(wire)
        rs = [c.read_response() for _ in range(6)]
    assert [r.header("X-Request-ID") for r in rs[:5]] == [f"p{i}" for i in range(5)]
    assert GENERATED_REQUEST_ID.match(rs[5].header("X-Request-ID") or "")
