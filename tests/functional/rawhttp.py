"""Raw-socket HTTP/1.x client for the functional tests.

`requests` hides exactly what these tests look at (pipelining, connection reuse, malformed
requests, when the server closes), so the socket-level tests speak HTTP themselves: send bytes,
read one complete response honouring Content-Length (or chunked framing), and tell whether the
server closed the connection.
"""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass, field

ISO8601_UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
ERROR_KEYS = {"error", "error_code", "message", "details", "timestamp", "request_id",
              "severity", "category"}


class IncompleteResponse(Exception):
    """The connection ended (or timed out) before one full response was read."""

    def __init__(self, message: str, received: bytes):
        super().__init__(f"{message}; received {len(received)} bytes: {received[:200]!r}")
        self.received = received


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    raw_head: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of a header (several fields of one name joined with ', '), or None."""
        values = self.header_values(name)
        return ", ".join(values) if values else None

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header_tokens(self, name: str) -> list[str]:
        """The comma-separated tokens of a header, lower-cased (for Vary, Connection, Allow)."""
        out = []
        for v in self.header_values(name):
            out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self) -> str:
        return (f"Response({self.version} {self.status} {self.reason}, headers={self.headers}, "
                f"body={self.body[:300]!r})")


class Conn:
    """One client TCP connection with a receive buffer (so pipelined responses can be split)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # e.g. reset already: the first send or recv reports it
        self.timeout = timeout
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _recv_more(self, deadline: float) -> bool:
        """Appends what arrives to the buffer; False at EOF. Raises socket.timeout at deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker: bytes, deadline: float, what: str) -> bytes:
        while marker not in self.buf:
            try:
                more = self._recv_more(deadline)
            except socket.timeout:
                raise IncompleteResponse(f"timed out waiting for {what}", self.buf) from None
            except ConnectionResetError:
                raise IncompleteResponse(f"connection reset waiting for {what}", self.buf) from None
            if not more:
                raise IncompleteResponse(f"connection closed waiting for {what}", self.buf)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            try:
                more = self._recv_more(deadline)
            except socket.timeout:
                raise IncompleteResponse(f"timed out reading a {n}-byte body", self.buf) from None
            except ConnectionResetError:
                raise IncompleteResponse(f"connection reset reading a {n}-byte body",
                                         self.buf) from None
            if not more:
                raise IncompleteResponse(f"connection closed reading a {n}-byte body", self.buf)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head: bool = False, timeout: float | None = None) -> Response:
        """Reads exactly one response (skipping 1xx interim ones). `head`: it answers a HEAD."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            raw_head = self._read_until(b"\r\n\r\n", deadline, "the response head")
            res = parse_head(raw_head)
            if 100 <= res.status < 200:
                continue
            break
        if head or res.status in (204, 304):
            return res
        te = res.header("Transfer-Encoding")
        if te and "chunked" in te.lower():
            body = b""
            while True:
                size_line = self._read_until(b"\r\n", deadline, "a chunk size")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self._read_until(b"\r\n", deadline, "the chunked trailer") != b"\r\n":
                        pass
                    break
                body += self._read_exact(size, deadline)
                self._read_exact(2, deadline)
            res.body = body
            return res
        cl = res.header("Content-Length")
        if cl is not None:
            res.body = self._read_exact(int(cl), deadline)
            return res
        # Neither: the body runs to the end of the connection.
        while True:
            try:
                if not self._recv_more(deadline):
                    break
            except socket.timeout:
                raise IncompleteResponse("timed out reading a close-delimited body",
                                         self.buf) from None
        res.body, self.buf = self.buf, b""
        return res

    def request(self, method: str, path: str, headers: dict | None = None, body: bytes = b"",
                version: str = "HTTP/1.1", timeout: float | None = None) -> Response:
        self.send(build_request(method, path, headers, body, version))
        return self.read_response(head=method == "HEAD", timeout=timeout)

    def wait_closed(self, timeout: float) -> tuple[bool, bytes]:
        """Waits up to `timeout` s for the server to close the connection.

        Returns (closed, bytes received meanwhile, including what was already buffered).
        A reset counts as closed.
        """
        deadline = time.monotonic() + timeout
        received = self.buf
        self.buf = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False, received
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False, received
            except (ConnectionResetError, BrokenPipeError):
                return True, received
            if not chunk:
                return True, received
            received += chunk


def parse_head(raw: bytes) -> Response:
    lines = raw.decode("latin-1").split("\r\n")
    status_line = lines[0]
    m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", status_line)
    if not m:
        raise AssertionError(f"not an HTTP status line: {status_line!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise AssertionError(f"malformed response header line: {line!r}")
        headers.append((name.strip(), value.strip()))
    return Response(m.group(1), int(m.group(2)), m.group(3) or "", headers, b"", raw)


def build_request(method: str, path: str, headers: dict | None = None, body: bytes = b"",
                  version: str = "HTTP/1.1") -> bytes:
    h = {"Host": "127.0.0.1"}
    if body:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {path} {version}\r\n"
    for k, v in h.items():
        if v is None:
            continue
        head += f"{k}: {v}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


def request(port: int, method: str, path: str, headers: dict | None = None, body: bytes = b"",
            version: str = "HTTP/1.1", timeout: float = 5.0) -> Response:
    """One request on a fresh connection."""
    with Conn(port, timeout=timeout) as c:
        return c.request(method, path, headers, body, version)


def send_raw(port: int, data: bytes, timeout: float = 5.0) -> Response:
    """Sends raw bytes on a fresh connection and reads one response."""
    with Conn(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response()


def assert_error_body(res: Response, status: int, error_code: str, category: str | None = None,
                      severity: str | None = None) -> dict:
    """Checks the standard error body and the headers every error response carries."""
    assert res.status == status, res
    ctype = res.header("Content-Type") or ""
    assert ctype.lower().startswith("application/json"), res
    body = res.json()
    assert isinstance(body, dict), body
    missing = ERROR_KEYS - body.keys()
    assert not missing, f"error body lacks {missing}: {body}"
    assert body["error"] is True, body
    assert body["error_code"] == error_code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["details"], list), body
    assert isinstance(body["timestamp"], str) and ISO8601_UTC_Z.match(body["timestamp"]), body
    assert isinstance(body["request_id"], str) and body["request_id"], body
    if category is not None:
        assert body["category"] == category, body
    if severity is not None:
        assert body["severity"] == severity, body
    # The id in the body is the one in the header.
    assert res.header("X-Request-ID") == body["request_id"], res
    assert_security_headers(res)
    assert "no-store" in res.header_tokens("Cache-Control"), res
    return body


def assert_security_headers(res: Response):
    assert res.header("X-Request-ID"), res
    assert res.header("X-Content-Type-Options") == "nosniff", res
    assert res.header("Referrer-Policy") == "no-referrer", res
