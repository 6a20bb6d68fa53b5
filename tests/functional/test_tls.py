"""evald serving HTTPS itself (TLS_CERT_FILE and TLS_KEY_FILE, Beast over OpenSSL), with a
self-signed certificate this test makes: requests verified against it succeed, HSTS is sent,
connections are kept alive, streamed bodies arrive whole, TLS older than 1.2 and plain HTTP are
refused without disturbing anyone else, and a bad certificate or key stops the start with a
clear message."""

from __future__ import annotations

import socket
import ssl
import subprocess
import warnings
from pathlib import Path

import pytest
import requests

from authkit import Stack
from conftest import free_port, run_evald


def make_cert(d: Path, name: str = "server") -> tuple[Path, Path]:
    cert, key = d / f"{name}.crt", d / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    return d, *make_cert(d)


@pytest.fixture(scope="module")
def st(module_evald, certs):
    d, cert, key = certs
    s = Stack(module_evald, f"sqlite://{d}/tls.db", d, TLS_CERT_FILE=cert, TLS_KEY_FILE=key)
    s.http.verify = str(cert)
    s.http.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`
    return s


def test_https_with_a_verified_certificate_and_hsts(st, certs):
    _, cert, _ = certs
    assert st.url("/").startswith("https://")
    res = st.get("/health/ping")
    assert res.status_code == 200
    assert "max-age=" in res.headers["Strict-Transport-Security"]
    # Without trusting the self-signed certificate the client refuses: it is really TLS.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(st.url("/health/ping"), timeout=10)
    # Signing in and using the token over the same kept-alive connection.
    admin = st.login(st.admin)
    me = st.get("/auth/me", admin.token)
    assert me.status_code == 200 and me.json()["login_id"] == st.admin.login_id


def test_a_streamed_body_arrives_whole_over_tls(st):
    admin = st.login(st.admin)
    p = st.post("/api/projects", admin.token, json={"name": "보안 전송 사업"})
    assert p.status_code == 201, p.text
    for fmt in ("csv", "xlsx"):
        res = st.get(f"/api/projects/{p.json()['id']}/export?format={fmt}", admin.token)
        assert res.status_code == 200, res.text
        assert int(res.headers["Content-Length"]) == len(res.content)
        assert res.content[:3] == (b"\xef\xbb\xbf" if fmt == "csv" else b"PK\x03")
    big = st.get("/docs/openapi.json")
    assert big.status_code == 200 and len(big.content) > 100_000
    assert big.json()["openapi"].startswith("3.1")


def test_only_tls_1_2_and_later(st, certs):
    _, cert, _ = certs
    ctx = ssl.create_default_context(cafile=str(cert))
    with socket.create_connection(("127.0.0.1", st.server.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(cert))
    with warnings.catch_warnings():  # the old versions are deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection(("127.0.0.1", st.server.port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with old.wrap_socket(raw, server_hostname="localhost"):
                pass


def test_plain_http_to_the_https_port_gets_no_answer_and_others_are_served(st):
    with socket.create_connection(("127.0.0.1", st.server.port), timeout=10) as raw:
        raw.sendall(b"GET /health/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while True:
            chunk = raw.recv(4096)
            if not chunk:
                break
            got += chunk
        assert not got.startswith(b"HTTP/"), got[:100]
    assert st.get("/health/ping").status_code == 200
    # Counted: in Prometheus's series and in the comprehensive status.
    token = st.login(st.admin).token
    r = st.get("/health/metrics", token)
    assert r.status_code == 200, r.text[:300]
    failed = [float(line.rsplit(" ", 1)[1]) for line in r.text.splitlines()
              if line.startswith('evald_connections_closed_early_total{reason="tls_handshake_failed"}')]
    assert failed and failed[0] >= 1, failed
    conns = st.get("/status/comprehensive", token).json()["connections"]
    assert conns["tls_handshake_failures"] >= 1, conns


def test_a_bad_certificate_or_key_stops_the_start(tmp_path, certs):
    _, cert, key = certs
    _, other_key = make_cert(tmp_path, "other")
    base = {"DATABASE_URL": f"sqlite://{tmp_path}/x.db", "ENVIRONMENT": "test",
            "LOG_FORMAT": "json", "PORT": str(free_port())}
    cases = [({"TLS_CERT_FILE": str(tmp_path / "missing.crt"), "TLS_KEY_FILE": str(key)},
              "TLS_CERT_FILE"),
             ({"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(other_key)},
              "mismatch"),
             ({"TLS_CERT_FILE": str(cert)}, "TLS_KEY_FILE")]
    for env, message in cases:
        p = run_evald(["serve"], env={**base, **env}, cwd=tmp_path, timeout=30)
        assert p.returncode != 0, env
        assert message in p.stderr + p.stdout, (env, p.stderr)
